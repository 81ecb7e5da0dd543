/**
 * A provider's logger for one call: its records carry the call's `traceparent` among their
 * fields, which the host turns into the record's trace and span ids (`lattice logs` shows them
 * beside the actor's records of the same trace).
 */
import type { Logger } from "../protocol/logging.js";
import type { CallContext } from "./types.js";

export function callLog(log: Logger, ctx: Pick<CallContext, "traceparent">): Logger {
  const tp = ctx.traceparent;
  if (!tp) return log;
  const at = (level: keyof Logger) => (msg: string, fields?: Record<string, unknown>) => log[level](msg, { ...fields, traceparent: tp });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
