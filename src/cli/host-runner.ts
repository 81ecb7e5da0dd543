/** Running a host in the foreground of a CLI process (its options are in host-options.ts). */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { LazyActorRuntime } from "../actor/lazy-runtime.js";
import type { ActorRuntime } from "../actor/runtime.js";
import { reconcilerExtension } from "../apps/reconciler-extension.js";
import { Host, consoleLogger, parsePolicyRules, type HostExtension, type Logger, type PolicyOptions } from "../host/index.js";
import { authToEnv, connectionAuth, type NatsAuth } from "../nats/node/auth.js";
import { connectNode } from "../nats/node/connect.js";
import { startTracingFromEnv } from "../nats/node/tracing-setup.js";
import { NodeProviderLauncher } from "../provider/node-launcher.js";
import { CliError } from "./errors.js";
import { serveMetrics } from "./metrics-endpoint.js";
import type { HostFlags } from "./host-options.js";
import { applyProfileFlags, runtimeOptions } from "./host-profile.js";
import { nodeMemoryProbe } from "./memory-probe.js";

/** The host's policy from the flags: a service, a rule file (read and checked now), or none. */
export function policyOptions(flags: HostFlags): PolicyOptions | undefined {
  const common = { fail: flags.policyFail, timeoutMs: flags.policyTimeout, cacheTtlMs: flags.policyCacheTtl };
  if (flags.policySubject) return { ...common, subject: flags.policySubject };
  if (!flags.policyFile) return undefined;
  let text: string;
  try {
    text = readFileSync(flags.policyFile, "utf8");
  } catch (e) {
    throw new CliError(`cannot read the policy file ${flags.policyFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return { ...common, rules: parsePolicyRules(text, flags.policyFile) };
}

/** The Node actor runtime of the profile: the small one loads it with the host's first actor. */
async function actorRuntime(flags: HostFlags, logger: Logger): Promise<ActorRuntime> {
  const load = async () => new (await import("../actor/node-runtime.js")).NodeActorRuntime(logger, runtimeOptions(flags.profile));
  return flags.profile === "small" ? new LazyActorRuntime(load) : load();
}

/** `auth`: how the host (and the providers it starts) log in to NATS. */
export async function startHost(servers: string, lattice: string, flags: HostFlags, auth: NatsAuth = {}): Promise<Host> {
  applyProfileFlags(flags.profile);
  const logger = consoleLogger(flags.logLevel);
  const extensions: HostExtension[] = flags.reconcile === false ? [] : [reconcilerExtension({ log: logger })];
  const host = new Host({
    servers,
    connect: connectNode,
    connection: connectionAuth(auth),
    lattice,
    name: flags.name ?? hostname(),
    labels: flags.label ?? {},
    heartbeatMs: flags.heartbeat,
    presence: flags.presence,
    seed: flags.seed,
    logger,
    actors: await actorRuntime(flags, logger),
    providers: new NodeProviderLauncher({ logLevel: flags.logLevel, env: authToEnv(auth) }),
    jsDomain: flags.jsDomain,
    allowedIssuers: flags.allowedIssuers,
    extensions,
    policy: policyOptions(flags),
    memory: nodeMemoryProbe(flags.memoryLimit),
  });
  // Before it joins: its first calls are traced too (when OTEL_* asks for it; see docs/observability.md).
  await startTracingFromEnv({ serviceName: "lattice-host", attributes: { "lattice.host": host.id, "lattice.host_name": host.name } });
  // Listening before the host starts: a port in use fails the command before it joins.
  const endpoint = flags.metricsPort === undefined ? undefined : await serveMetrics(flags.metricsPort, () => host.inventory());
  if (endpoint) {
    extensions.push({ start: () => undefined, stop: () => endpoint.close() });
    logger.info("serving metrics", { url: `http://127.0.0.1:${endpoint.port}/metrics` });
  }
  try {
    await host.start();
  } catch (e) {
    await endpoint?.close();
    throw e;
  }
  return host;
}
