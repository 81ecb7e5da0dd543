/**
 * Running a provider as its own Node process, the way a host starts one: settings come from the
 * environment, health goes to the host over the IPC channel, SIGTERM stops it gracefully.
 *
 *   LATTICE_NATS_URL, LATTICE_NAME, LATTICE_PROVIDER_ID, LATTICE_HOST_ID, LATTICE_JS_DOMAIN,
 *   LATTICE_PROVIDER_CONFIG (JSON object of strings), LATTICE_SIGNING_SEED (the host's nkey seed, to
 *   sign invocations with), and the NATS credentials settings
 *   LATTICE_NATS_CREDS / _NKEY / _USER / _PASSWORD / _TOKEN / _TLS_CA / _TLS_CERT / _TLS_KEY
 * The signing seed, password and token are read once and removed from the environment.
 */
import type { LogLevel } from "../protocol/logging.js";
import { consoleLogger } from "./console-logger.js";
import { AUTH_ENV, authFromEnv, connectionAuth } from "../nats/auth-node.js";
import { connectNode } from "../nats/connect-node.js";
import { RESILIENT, parseServers } from "../nats/connection-options.js";
import { Provider } from "./provider.js";
import type { ProviderDefinition, ProviderRuntime } from "./types.js";

/** Messages a provider process sends its host over IPC. */
export type ProviderIpc = { type: "ready" } | { type: "health"; healthy: boolean; message: string };

/** Read once at start, then removed from the environment: nothing the provider starts inherits them. */
const SECRET_ENV = ["LATTICE_SIGNING_SEED", AUTH_ENV.password, AUTH_ENV.token];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: a provider is started by a host (lattice start provider), which sets it`);
  return v;
}

function startConfig(): Record<string, string> {
  const raw = process.env.LATTICE_PROVIDER_CONFIG;
  if (!raw) return {};
  const v = JSON.parse(raw) as unknown;
  if (typeof v !== "object" || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== "string")) {
    throw new Error("LATTICE_PROVIDER_CONFIG must be a JSON object of strings");
  }
  return v as Record<string, string>;
}

function tell(m: ProviderIpc): void {
  process.send?.(m);
}

export async function runProvider(define: (rt: ProviderRuntime) => ProviderDefinition | Promise<ProviderDefinition>): Promise<void> {
  const id = env("LATTICE_PROVIDER_ID");
  // A secret: out of the environment at once, so nothing this process starts inherits it.
  const signingSeed = process.env.LATTICE_SIGNING_SEED || undefined;
  const auth = authFromEnv();
  for (const name of SECRET_ENV) delete process.env[name];
  const log = consoleLogger((process.env.LATTICE_LOG_LEVEL as LogLevel | undefined) ?? "info", `[${id}] `);
  try {
    const nc = await connectNode({ ...RESILIENT, ...connectionAuth(auth), servers: parseServers(env("LATTICE_NATS_URL")), name: `lattice-provider:${id}` });
    const provider = new Provider({
      nc,
      id,
      lattice: process.env.LATTICE_NAME || "default",
      hostId: process.env.LATTICE_HOST_ID,
      jsDomain: process.env.LATTICE_JS_DOMAIN || undefined,
      config: startConfig(),
      signingSeed,
      log,
      onHealth: (healthy, message) => tell({ type: "health", healthy, message }),
    });
    await provider.start(define);
    tell({ type: "ready" });
    log.info("provider ready");
    const stop = async (signal: string) => {
      log.info("provider stopping", { signal });
      await provider.stop();
      await nc.drain().catch(() => undefined);
      process.exit(0);
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
    // The host's end of the IPC channel closing means the host is gone: so is this provider.
    process.once("disconnect", () => void stop("host disconnected"));
  } catch (e) {
    log.error("provider failed to start", { error: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  }
}
