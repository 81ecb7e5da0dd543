/** Running a host in the foreground of a CLI process, until a signal says stop. */
import { hostname } from "node:os";
import { Option, type Command } from "commander";
import { NodeActorRuntime } from "../actor/node-runtime.js";
import { reconcilerExtension } from "../apps/reconciler-extension.js";
import { Host, consoleLogger, DEFAULT_HEARTBEAT_MS, type LogLevel } from "../host/index.js";
import { authToEnv, connectionAuth, type NatsAuth } from "../nats/auth-node.js";
import { connectNode } from "../nats/connect-node.js";
import { NodeProviderLauncher } from "../provider/node-launcher.js";
import { collectLabel, parseDuration, parseIssuers } from "./parse.js";

export interface HostFlags {
  name?: string;
  label?: Record<string, string>;
  heartbeat: number;
  seed?: string;
  logLevel: LogLevel;
  jsDomain?: string;
  allowedIssuers?: string[];
  /** false with --no-reconcile: this host never reconciles apps. */
  reconcile: boolean;
}

/** Adds the options that shape a host: name, labels, heartbeat, seed, log level. */
export function withHostOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--name <name>", "host name").default(undefined, "this machine's hostname"))
    .addOption(new Option("--label <key=value>", "a label of the host (repeatable)").argParser(collectLabel))
    .addOption(
      new Option("--heartbeat <duration>", "heartbeat interval; views drop a host after 3 missed beats")
        .default(DEFAULT_HEARTBEAT_MS, "1s")
        .argParser(parseDuration),
    )
    .addOption(new Option("--seed <seed>", "nkey server seed (SN…) to keep the host id across restarts").env("LATTICE_HOST_SEED"))
    .addOption(new Option("--log-level <level>", "host log level (on stderr)").choices(["debug", "info", "warn", "error", "silent"]).default("info"))
    .addOption(new Option("--js-domain <domain>", "JetStream domain of the lattice's store (for hosts on leaf nodes)").env("LATTICE_JS_DOMAIN"))
    .addOption(
      new Option("--allowed-issuers <keys>", "run only actors signed by these issuers (comma-separated A…/O… public keys)")
        .env("LATTICE_ALLOWED_ISSUERS")
        .argParser(parseIssuers),
    )
    .addOption(new Option("--no-reconcile", "never act as the lattice's app reconciler (by default any host may, one at a time)"));
}

/** `auth`: how the host (and the providers it starts) log in to NATS. */
export async function startHost(servers: string, lattice: string, flags: HostFlags, auth: NatsAuth = {}): Promise<Host> {
  const logger = consoleLogger(flags.logLevel);
  const host = new Host({
    servers,
    connect: connectNode,
    connection: connectionAuth(auth),
    lattice,
    name: flags.name ?? hostname(),
    labels: flags.label ?? {},
    heartbeatMs: flags.heartbeat,
    seed: flags.seed,
    logger,
    actors: new NodeActorRuntime(logger),
    providers: new NodeProviderLauncher({ logLevel: flags.logLevel, env: authToEnv(auth) }),
    jsDomain: flags.jsDomain,
    allowedIssuers: flags.allowedIssuers,
    extensions: flags.reconcile === false ? [] : [reconcilerExtension({ log: logger })],
  });
  await host.start();
  return host;
}

/** Resolves with the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(s);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}
