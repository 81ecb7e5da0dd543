/** A short line for each lattice event, for the dashboard's event stream. */
import { EVENT_DATA, EventType, isEventType, schemaProblems, shortEventType, type AnyCloudEvent, type EventData } from "../../protocol/index.js";

type KnownEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/** What the event says, with host ids as names where `name` knows them; "" for data this page does not know. */
export function describeEvent(event: AnyCloudEvent, name: (hostId: string) => string): string {
  const type = shortEventType(event.type);
  // The envelope was checked on receipt, the data not: a newer host may send more, or other data.
  if (!isEventType(type) || schemaProblems(EVENT_DATA[type], event.data).length > 0) return "";
  const e = { type, data: event.data } as KnownEvent;
  switch (e.type) {
    case EventType.HostStarted:
      return `host ${e.data.name} joined (${e.data.version})`;
    case EventType.HostHeartbeat:
      return `host ${e.data.host.name}: ${e.data.summary.actors} actors, ${e.data.summary.providers} providers`;
    case EventType.HostStopped:
      return `host ${name(e.data.id)} left: ${e.data.reason}`;
    case EventType.ActorScaled:
      return e.data.instances === 0
        ? `actor ${e.data.actorId} stopped on ${name(e.data.hostId)}`
        : `actor ${e.data.actorId} on ${name(e.data.hostId)}: ${e.data.previous} → ${e.data.instances} (${e.data.ref})`;
    case EventType.ActorStartFailed:
      return `actor ${e.data.actorId} (${e.data.ref}) failed on ${name(e.data.hostId)}: ${e.data.error.code}: ${e.data.error.message}`;
    case EventType.ProviderStarted:
      return `provider ${e.data.providerId} (${e.data.ref}) started on ${name(e.data.hostId)}`;
    case EventType.ProviderStopped:
      return `provider ${e.data.providerId} stopped on ${name(e.data.hostId)}: ${e.data.reason}`;
    case EventType.ProviderHealth:
      return `provider ${e.data.providerId} on ${name(e.data.hostId)} ${e.data.healthy ? "healthy" : "unhealthy"}: ${e.data.message}`;
    case EventType.PolicyDenied:
      return `policy denied ${e.data.action}${e.data.target ? ` of ${e.data.target}` : ""} on ${name(e.data.hostId)}: ${e.data.reason}`;
    case EventType.AppStatus:
      return `app ${e.data.name} ${e.data.version ?? ""}: ${e.data.phase}${e.data.reasons.length > 0 ? ` (${e.data.reasons[0]})` : ""}`;
  }
}

/** Events that mean an error happened, shown in red. */
export function isBad(event: AnyCloudEvent): boolean {
  const type = shortEventType(event.type);
  if (type === EventType.ActorStartFailed || type === EventType.PolicyDenied) return true;
  if (type === EventType.ProviderHealth) return (event.data as { healthy?: unknown }).healthy === false;
  if (type === EventType.AppStatus) return (event.data as { phase?: unknown }).phase === "unsatisfied" || (event.data as { phase?: unknown }).phase === "failed";
  return false;
}
