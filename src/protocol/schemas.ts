/**
 * The schema of every message that crosses the wire. Each is a JSON Schema (TypeBox builds it and
 * derives the TypeScript type from it); docs/protocol.md is generated from nothing but mirrors these.
 * Objects accept unknown properties so that a newer minor version can add fields (see version.ts).
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { ERROR_CODES } from "./errors.js";
import { HOST_ID_PATTERN, LABEL_KEY_PATTERN, LATTICE_NAME_PATTERN, MAX_HOST_NAME, MAX_LABEL_VALUE } from "./names.js";

export const HostId = Type.String({ pattern: HOST_ID_PATTERN });

export const Labels = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ maxLength: MAX_LABEL_VALUE }), {
  maxProperties: 64,
  // Without this a key that misses the pattern would simply not be checked.
  additionalProperties: false,
});
export type Labels = Static<typeof Labels>;

/** Who a host is. Sent in host_started, every heartbeat and every ping reply. */
export const HostInfo = Type.Object({
  id: HostId,
  name: Type.String({ minLength: 1, maxLength: MAX_HOST_NAME }),
  lattice: Type.String({ pattern: LATTICE_NAME_PATTERN }),
  labels: Labels,
  /** Software version of the host implementation. */
  version: Type.String({ maxLength: 64 }),
  /** RFC 3339 time the host started. */
  startedAt: Type.String({ format: "date-time", maxLength: 64 }),
  /** The host's heartbeat interval: views expire it after 3 missed beats. */
  heartbeatMs: Type.Integer({ minimum: 1, maximum: 3_600_000 }),
  /** Seconds since start, measured by the host itself (immune to clock skew between machines). */
  uptimeSeconds: Type.Number({ minimum: 0 }),
});
export type HostInfo = Static<typeof HostInfo>;

/** Counts of what a host runs, carried in heartbeats so views stay current without asking. */
export const InventorySummary = Type.Object({
  actors: Type.Integer({ minimum: 0 }),
  providers: Type.Integer({ minimum: 0 }),
});
export type InventorySummary = Static<typeof InventorySummary>;

export const HostHeartbeat = Type.Object({
  host: HostInfo,
  summary: InventorySummary,
});
export type HostHeartbeat = Static<typeof HostHeartbeat>;

export const HostStopped = Type.Object({
  id: HostId,
  reason: Type.String({ maxLength: 1024 }),
});
export type HostStopped = Static<typeof HostStopped>;

/** An actor or provider entry of an inventory; the fields beyond `id` grow with those features. */
export const InventoryEntry = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
export type InventoryEntry = Static<typeof InventoryEntry>;

export const HostInventory = Type.Object({
  host: HostInfo,
  actors: Type.Array(InventoryEntry),
  providers: Type.Array(InventoryEntry),
});
export type HostInventory = Static<typeof HostInventory>;

/** Control requests. Empty payloads are read as `{}`. */
export const PingRequest = Type.Object({});
export const InventoryRequest = Type.Object({});

export const WireError = Type.Object({
  code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
  message: Type.String({ maxLength: 4096 }),
});
export type WireError = Static<typeof WireError>;

/** Every control reply is either `{ ok: true, data }` or `{ ok: false, error }`. */
export function ControlReply<T extends TSchema>(data: T) {
  return Type.Union([
    Type.Object({ ok: Type.Literal(true), data }),
    Type.Object({ ok: Type.Literal(false), error: WireError }),
  ]);
}
export const ErrorReply = Type.Object({ ok: Type.Literal(false), error: WireError });
export type ErrorReply = Static<typeof ErrorReply>;
export const PingReply = ControlReply(HostInfo);
export const InventoryReply = ControlReply(HostInventory);

/** The CloudEvents 1.0 envelope (structured JSON mode) of every lattice event. */
function envelope<Ty extends TSchema, D extends TSchema>(type: Ty, data: D) {
  return Type.Object({
    specversion: Type.Literal("1.0"),
    id: Type.String({ minLength: 1, maxLength: 128 }),
    /** The id of the host that emitted the event. */
    source: Type.String({ minLength: 1, maxLength: 256 }),
    type,
    time: Type.String({ format: "date-time", maxLength: 64 }),
    datacontenttype: Type.Literal("application/json"),
    data,
  });
}

export function CloudEvent<T extends TSchema>(type: string, data: T) {
  return envelope(Type.Literal(type), data);
}

/** Any lattice event, of a type known or not yet known to this version. */
export const AnyCloudEvent = envelope(Type.String({ minLength: 1, maxLength: 256 }), Type.Unknown());
export type AnyCloudEvent = Static<typeof AnyCloudEvent>;
