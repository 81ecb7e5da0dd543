/**
 * Log records of actors and providers as the lattice carries them: what a host publishes on
 * `lattice.<L>.log.v1.<hostId>.<sourceId>` (one batch of one source's records per message), the
 * JetStream stream that keeps the recent ones, and the trace context a record is tagged with.
 * Pure: publishing is nats/log-publisher.ts, reading is the CLI's `lattice logs`.
 */
import { Type, type Static } from "@sinclair/typebox";
import { HOST_ID_PATTERN, TARGET_ID_PATTERN } from "./names.js";
import { LOG_RECORD_LEVELS } from "./log-levels.js";

export { LOG_RECORD_LEVELS, atLeast, recordLevel, type LogRecordLevel } from "./log-levels.js";

/** A record's message is cut to this many characters (and says so). */
export const MAX_LOG_MESSAGE = 8_192;
/** A batch message stays under this (the size of an event). */
export const MAX_LOG_BATCH_BYTES = 64 * 1024;

/** One entry, as logged. */
export const LogEntry = Type.Object({
  /** When it was logged (for a provider: when its host received it), ISO 8601. */
  time: Type.String({ maxLength: 40 }),
  level: Type.Union(LOG_RECORD_LEVELS.map((l) => Type.Literal(l))),
  message: Type.String(),
  /** wasi:logging's context argument (an actor's); absent when empty. */
  context: Type.Optional(Type.String({ maxLength: 256 })),
  /** The trace id (32 hex digits) of the call during which it was logged. */
  traceId: Type.Optional(Type.String({ pattern: "^[0-9a-f]{32}$" })),
  /** The span id (16 hex digits) of that call's traceparent. */
  spanId: Type.Optional(Type.String({ pattern: "^[0-9a-f]{16}$" })),
  /** A provider's structured fields; `stream` (stdout or stderr) for a line it wrote itself. */
  fields: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  /** Set on the record saying that records of this source were dropped: how many. */
  dropped: Type.Optional(Type.Integer({ minimum: 1 })),
});
export type LogEntry = Static<typeof LogEntry>;

export const LogSourceKind = Type.Union([Type.Literal("actor"), Type.Literal("provider")]);
export type LogSourceKind = Static<typeof LogSourceKind>;

/** One message on a log subject: records of one source on one host, oldest first. */
export const LogBatch = Type.Object({
  host: Type.String({ pattern: HOST_ID_PATTERN }),
  hostName: Type.Optional(Type.String({ maxLength: 128 })),
  source: Type.String({ pattern: TARGET_ID_PATTERN }),
  kind: LogSourceKind,
  records: Type.Array(LogEntry, { minItems: 1 }),
});
export type LogBatch = Static<typeof LogBatch>;

/** A record with its source and host: one line of `lattice logs -o json`. */
export type LogRecord = Omit<LogBatch, "records"> & LogEntry;

/** The stream that keeps a lattice's recent records, and its limits: an hour, 64 MiB, oldest out first. */
export function logStreamName(lattice: string): string {
  return `lattice_${lattice}_logs`;
}
export const LOG_STREAM_MAX_AGE_MS = 60 * 60 * 1000;
export const LOG_STREAM_MAX_BYTES = 64 * 1024 * 1024;

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** The trace and span ids of a W3C traceparent, or nothing for a missing or malformed one. */
export function traceIds(traceparent: string | undefined): { traceId: string; spanId: string } | undefined {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  return m ? { traceId: m[1]!, spanId: m[2]! } : undefined;
}
