/** Lattice event types and their CloudEvents envelopes. */
import type { Static, TSchema } from "@sinclair/typebox";
import { ActorScaled, ActorStartFailed, CloudEvent, HostHeartbeat, HostInfo, HostStopped, ProviderHealthChanged, ProviderStarted, ProviderStopped } from "./schemas.js";
import { PolicyDenied } from "./policy.js";
import { AppStatusChanged } from "./apps.js";

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

/** The data schema of each event type. */
export const EVENT_DATA = {
  [EventType.HostStarted]: HostInfo,
  [EventType.HostHeartbeat]: HostHeartbeat,
  [EventType.HostStopped]: HostStopped,
  [EventType.ActorScaled]: ActorScaled,
  [EventType.ActorStartFailed]: ActorStartFailed,
  [EventType.ProviderStarted]: ProviderStarted,
  [EventType.ProviderStopped]: ProviderStopped,
  [EventType.ProviderHealth]: ProviderHealthChanged,
  [EventType.PolicyDenied]: PolicyDenied,
  [EventType.AppStatus]: AppStatusChanged,
} as const satisfies Record<EventType, TSchema>;

export type EventData<T extends EventType> = Static<(typeof EVENT_DATA)[T]>;

export const EVENT_SCHEMAS = {
  [EventType.HostStarted]: CloudEvent(EVENT_TYPE_PREFIX + EventType.HostStarted, HostInfo),
  [EventType.HostHeartbeat]: CloudEvent(EVENT_TYPE_PREFIX + EventType.HostHeartbeat, HostHeartbeat),
  [EventType.HostStopped]: CloudEvent(EVENT_TYPE_PREFIX + EventType.HostStopped, HostStopped),
  [EventType.ActorScaled]: CloudEvent(EVENT_TYPE_PREFIX + EventType.ActorScaled, ActorScaled),
  [EventType.ActorStartFailed]: CloudEvent(EVENT_TYPE_PREFIX + EventType.ActorStartFailed, ActorStartFailed),
  [EventType.ProviderStarted]: CloudEvent(EVENT_TYPE_PREFIX + EventType.ProviderStarted, ProviderStarted),
  [EventType.ProviderStopped]: CloudEvent(EVENT_TYPE_PREFIX + EventType.ProviderStopped, ProviderStopped),
  [EventType.ProviderHealth]: CloudEvent(EVENT_TYPE_PREFIX + EventType.ProviderHealth, ProviderHealthChanged),
  [EventType.PolicyDenied]: CloudEvent(EVENT_TYPE_PREFIX + EventType.PolicyDenied, PolicyDenied),
  [EventType.AppStatus]: CloudEvent(EVENT_TYPE_PREFIX + EventType.AppStatus, AppStatusChanged),
} as const;

export interface LatticeEvent<T extends EventType = EventType> {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time: string;
  datacontenttype: "application/json";
  data: EventData<T>;
}

export function isEventType(s: string): s is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_DATA, s);
}

/** The short event type (`host_started`) of a CloudEvents type (`lattice.host_started`). */
export function shortEventType(type: string): string {
  return type.startsWith(EVENT_TYPE_PREFIX) ? type.slice(EVENT_TYPE_PREFIX.length) : type;
}

export function makeEvent<T extends EventType>(type: T, source: string, data: EventData<T>): LatticeEvent<T> {
  return {
    specversion: "1.0",
    id: crypto.randomUUID(),
    source,
    type: EVENT_TYPE_PREFIX + type,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    data,
  };
}
