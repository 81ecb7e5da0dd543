/** The names of the lattice's events, apart from their schemas (events.ts): the CLI lists them in its flags. */

/** The CloudEvents `type` of each lattice event is `lattice.<event_type>`. */
export const EVENT_TYPE_PREFIX = "lattice.";

export const EventType = {
  HostStarted: "host_started",
  HostHeartbeat: "host_heartbeat",
  HostStopped: "host_stopped",
  ActorScaled: "actor_scaled",
  ActorStartFailed: "actor_start_failed",
  ProviderStarted: "provider_started",
  ProviderStopped: "provider_stopped",
  ProviderHealth: "provider_health",
  PolicyDenied: "policy_denied",
  AppStatus: "app_status",
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** The short event type (`host_started`) of a CloudEvents type (`lattice.host_started`). */
export function shortEventType(type: string): string {
  return type.startsWith(EVENT_TYPE_PREFIX) ? type.slice(EVENT_TYPE_PREFIX.length) : type;
}
