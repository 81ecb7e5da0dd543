/**
 * The contract between a host and the provider processes it starts: the environment a provider
 * reads its settings from, and the messages it sends its host over the IPC channel (ready,
 * health, and its log records, so the host logs them at their own level with their fields).
 */
import type { LogLevel } from "./logging.js";
import type { TargetMetrics } from "./metrics.js";

/** The environment variables a host sets for a provider process. */
export const PROVIDER_ENV = {
  /** NATS servers, comma-separated. */
  natsUrl: "LATTICE_NATS_URL",
  /** The lattice name (default `default`). */
  lattice: "LATTICE_NAME",
  providerId: "LATTICE_PROVIDER_ID",
  hostId: "LATTICE_HOST_ID",
  /** JetStream domain of the lattice's state; unset or empty for none. */
  jsDomain: "LATTICE_JS_DOMAIN",
  /** The start config: a JSON object of strings. */
  config: "LATTICE_PROVIDER_CONFIG",
  /** The host's nkey seed, which the provider signs invocations with. Secret. */
  signingSeed: "LATTICE_SIGNING_SEED",
  /** The provider's log level (default info). */
  logLevel: "LATTICE_LOG_LEVEL",
} as const;

/**
 * The NATS credentials settings, by `NatsAuth` field (`nats/node/auth.ts`): a host passes its own
 * to its providers, so a provider connects as its host does; the CLI's options default to them.
 */
export const NATS_AUTH_ENV = {
  creds: "LATTICE_NATS_CREDS",
  nkey: "LATTICE_NATS_NKEY",
  user: "LATTICE_NATS_USER",
  password: "LATTICE_NATS_PASSWORD",
  token: "LATTICE_NATS_TOKEN",
  tlsCa: "LATTICE_NATS_TLS_CA",
  tlsCert: "LATTICE_NATS_TLS_CERT",
  tlsKey: "LATTICE_NATS_TLS_KEY",
} as const;

/** One entry of a provider's log, as its `Logger` was called. */
export interface ProviderLogRecord {
  type: "log";
  level: Exclude<LogLevel, "silent">;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A provider's call metrics, sent every PROVIDER_METRICS_MS while they change: the host puts them in its inventory. */
export interface ProviderMetricsReport {
  type: "metrics";
  metrics: TargetMetrics;
}

/** How often a provider process reports its call metrics to its host (when they changed). */
export const PROVIDER_METRICS_MS = 1_000;

/** Messages a provider process sends its host over IPC. */
export type ProviderIpc = { type: "ready" } | { type: "health"; healthy: boolean; message: string } | ProviderLogRecord | ProviderMetricsReport;

const RECORD_LEVELS: ReadonlySet<unknown> = new Set(["debug", "info", "warn", "error"]);

/** Whether a message received from a provider process is one of `ProviderIpc`. */
export function isProviderIpc(m: unknown): m is ProviderIpc {
  if (typeof m !== "object" || m === null) return false;
  const x = m as { type?: unknown; healthy?: unknown; message?: unknown; level?: unknown; msg?: unknown; fields?: unknown };
  if (x.type === "ready") return true;
  if (x.type === "metrics") return isMetricsShape((m as { metrics?: unknown }).metrics);
  if (x.type === "log") {
    const fields = x.fields === undefined || (typeof x.fields === "object" && x.fields !== null && !Array.isArray(x.fields));
    return RECORD_LEVELS.has(x.level) && typeof x.msg === "string" && fields;
  }
  return x.type === "health" && typeof x.healthy === "boolean" && typeof x.message === "string";
}

/**
 * The shape of a provider's metrics report, checked without the schema compiler: the CLI's
 * command tree loads this module for PROVIDER_ENV names, and must stay light (cli-start.test.ts).
 * Its own child process is all that sends it.
 */
function isMetricsShape(v: unknown): v is TargetMetrics {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  const counts = ["calls", "inflight", "instances", "stale", "retries"].every((k) => Number.isInteger(m[k]) && (m[k] as number) >= 0);
  const errors = typeof m.errors === "object" && m.errors !== null && Object.values(m.errors).every((n) => Number.isInteger(n));
  const l = m.latency as Record<string, unknown> | undefined;
  const latency = typeof l === "object" && l !== null && Array.isArray(l.le) && Array.isArray(l.counts) && l.counts.length === l.le.length + 1 && typeof l.sumMs === "number";
  return counts && errors && latency;
}
