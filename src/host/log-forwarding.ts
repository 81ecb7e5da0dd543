/**
 * What a host does with its actors' and providers' log records: each goes to the lattice (the log
 * publisher, which rate-limits per source) and, if the publisher took it, to the host's own log,
 * at its level, with the source and the trace id. A record over its source's rate goes to neither.
 */
import type { ActorLogSink } from "../actor/runtime.js";
import type { LogPublisher } from "../nats/log-publisher.js";
import { recordLevel, traceIds, type LogRecordLevel } from "../protocol/log-records.js";
import type { Logger } from "../protocol/logging.js";
import type { ProviderLogRecord } from "../protocol/provider-process.js";
import type { OutputStream } from "../provider/launcher.js";

/** The host log's level for a record's. */
function hostLevel(level: LogRecordLevel): keyof Logger {
  if (level === "trace" || level === "debug") return "debug";
  if (level === "error" || level === "critical") return "error";
  return level === "warn" ? "warn" : "info";
}

/** The sink of one actor's wasi:logging records. */
export function actorLogSink(logs: LogPublisher, log: Logger, actorId: string): ActorLogSink {
  return (level, context, message, traceparent) => {
    const l = recordLevel(level);
    if (!logs.record("actor", actorId, l, message, { context, traceparent })) return;
    const traceId = traceIds(traceparent)?.traceId;
    log[hostLevel(l)](message, traceId ? { actor: actorId, context, traceId } : { actor: actorId, context });
  };
}

/**
 * A provider's record, sent by its SDK logger. A `traceparent` among its fields (the call's, as
 * `callLog` adds it) tags the record with that trace, and leaves the fields.
 */
export function forwardProviderRecord(logs: LogPublisher, log: Logger, providerId: string, r: ProviderLogRecord): void {
  const { traceparent, ...fields } = r.fields ?? {};
  const tp = typeof traceparent === "string" ? traceparent : undefined;
  if (!logs.record("provider", providerId, r.level, r.msg, { fields, ...(tp ? { traceparent: tp } : {}) })) return;
  const traceId = traceIds(tp)?.traceId;
  log[r.level](r.msg, { ...fields, provider: providerId, ...(traceId ? { traceId } : {}) });
}

/** A line a provider process wrote itself: stdout lines are info, stderr lines (an uncaught exception) warn. */
export function forwardProviderOutput(logs: LogPublisher, log: Logger, providerId: string, line: string, stream: OutputStream): void {
  const level = stream === "stdout" ? "info" : "warn";
  if (!logs.record("provider", providerId, level, line, { fields: { stream } })) return;
  log[level](line, { provider: providerId, stream });
}
