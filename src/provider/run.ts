/**
 * Running a provider as its own Node process, the way a host starts one: settings come from the
 * environment (`PROVIDER_ENV`, and the NATS credentials settings `NATS_AUTH_ENV`), health and log
 * records go to the host over the IPC channel (`ProviderIpc`), SIGTERM stops it gracefully. Run
 * by hand, without an IPC channel, it logs to stderr instead. The signing seed, password and
 * token are read once and removed from the environment.
 */
import { logsAt, type Logger, type LogLevel } from "../protocol/logging.js";
import { NATS_AUTH_ENV, PROVIDER_ENV, PROVIDER_METRICS_MS, type ProviderIpc } from "../protocol/provider-process.js";
import { authFromEnv, connectionAuth } from "../nats/node/auth.js";
import { connectNode } from "../nats/node/connect.js";
import { shutdownTracing, startTracingFromEnv } from "../nats/node/tracing-setup.js";
import { RESILIENT, parseServers } from "../nats/connection-options.js";
import { consoleLogger } from "./console-logger.js";
import { Provider } from "./provider.js";
import type { ProviderDefinition, ProviderRuntime } from "./types.js";
import { ErrorCode, LatticeError, messageOf } from "../protocol/index.js";

/** Read once at start, then removed from the environment: nothing the provider starts inherits them. */
const SECRET_ENV = [PROVIDER_ENV.signingSeed, NATS_AUTH_ENV.password, NATS_AUTH_ENV.token];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new LatticeError(ErrorCode.BadRequest, `${name} is not set: a provider is started by a host (lattice start provider), which sets it`);
  return v;
}

function startConfig(): Record<string, string> {
  const raw = process.env[PROVIDER_ENV.config];
  if (!raw) return {};
  const v = JSON.parse(raw) as unknown;
  if (typeof v !== "object" || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== "string")) {
    throw new LatticeError(ErrorCode.BadRequest, `${PROVIDER_ENV.config} must be a JSON object of strings`);
  }
  return v as Record<string, string>;
}

/** Resolves once the last message told to the host is written (IPC messages leave in order). */
let told: Promise<void> = Promise.resolve();

function tell(m: ProviderIpc): void {
  const send = process.send?.bind(process);
  if (!send) return;
  // With a callback, a closed channel is reported to it rather than thrown or emitted.
  told = new Promise((done) => send(m, () => done()));
}

/** Log records to the host over IPC; to stderr when no host started this process. */
function processLogger(id: string, level: LogLevel): Logger {
  if (!process.send) return consoleLogger(level, `[${id}] `);
  const at = (l: Exclude<LogLevel, "silent">) => (msg: string, fields?: Record<string, unknown>) => {
    if (logsAt(level, l)) tell(fields ? { type: "log", level: l, msg, fields } : { type: "log", level: l, msg });
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Tell the host the provider's call metrics every PROVIDER_METRICS_MS, when they changed (it shows them in its inventory). */
function reportMetrics(provider: Provider): () => void {
  if (!process.send) return () => undefined;
  let last = "";
  const timer = setInterval(() => {
    const metrics = provider.metrics();
    if (!metrics) return;
    const key = `${metrics.calls} ${metrics.inflight} ${metrics.stale} ${metrics.instances}`;
    if (key === last) return;
    last = key;
    tell({ type: "metrics", metrics });
  }, PROVIDER_METRICS_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export async function runProvider(define: (rt: ProviderRuntime) => ProviderDefinition | Promise<ProviderDefinition>): Promise<void> {
  const id = env(PROVIDER_ENV.providerId);
  // A secret: out of the environment at once, so nothing this process starts inherits it.
  const signingSeed = process.env[PROVIDER_ENV.signingSeed] || undefined;
  const auth = authFromEnv();
  for (const name of SECRET_ENV) delete process.env[name];
  const log = processLogger(id, (process.env[PROVIDER_ENV.logLevel] as LogLevel | undefined) ?? "info");
  try {
    // When the host's OTEL_* environment asks for it (see docs/observability.md).
    const hostId = process.env[PROVIDER_ENV.hostId];
    await startTracingFromEnv({ serviceName: "lattice-provider", attributes: { "lattice.provider": id, ...(hostId ? { "lattice.host": hostId } : {}) } });
    const nc = await connectNode({ ...RESILIENT, ...connectionAuth(auth), servers: parseServers(env(PROVIDER_ENV.natsUrl)), name: `lattice-provider:${id}` });
    const provider = new Provider({
      nc,
      id,
      lattice: process.env[PROVIDER_ENV.lattice] || "default",
      hostId,
      jsDomain: process.env[PROVIDER_ENV.jsDomain] || undefined,
      config: startConfig(),
      signingSeed,
      log,
      onHealth: (healthy, message) => tell({ type: "health", healthy, message }),
    });
    await provider.start(define);
    tell({ type: "ready" });
    log.info("provider ready");
    const stopReporting = reportMetrics(provider);
    const stop = async (signal: string) => {
      log.info("provider stopping", { signal });
      stopReporting();
      await provider.stop();
      await nc.drain().catch(() => undefined);
      await shutdownTracing();
      await told;
      process.exit(0);
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
    // The host's end of the IPC channel closing means the host is gone: so is this provider.
    process.once("disconnect", () => void stop("host disconnected"));
  } catch (e) {
    log.error("provider failed to start", { error: messageOf(e) });
    // Its last words are what the host tells whoever started it.
    await told;
    process.exit(1);
  }
}
