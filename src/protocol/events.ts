/** Lattice event types and their CloudEvents envelopes. */
import type { Static, TSchema } from "@sinclair/typebox";
import { ActorScaled, ActorStartFailed, CloudEvent, HostHeartbeat, HostInfo, HostStopped, ProviderHealthChanged, ProviderStarted, ProviderStopped } from "./schemas.js";
import { PolicyDenied } from "./policy.js";
import { AppStatusChanged } from "./apps.js";
import { EVENT_TYPE_PREFIX, EventType, shortEventType } from "./event-types.js";

/** The event types' names: in event-types.ts, which the CLI loads without the schemas. */
export { EVENT_TYPE_PREFIX, EventType, shortEventType };

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
