/** The options that shape a host, for `lattice host` and `lattice up` (part of the command tree). */
import { Option, type Command } from "commander";
import { DEFAULT_HEARTBEAT_MS, DEFAULT_POLICY_CACHE_TTL_MS, DEFAULT_POLICY_TIMEOUT_MS } from "../host/defaults.js";
import type { LogLevel, PolicyFailMode } from "../host/index.js";
import { collectLabel, parseDuration, parseIssuers, parseMemorySize, parsePort } from "./parse.js";

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
  policySubject?: string;
  policyFile?: string;
  policyFail: PolicyFailMode;
  policyTimeout: number;
  policyCacheTtl: number;
  /** Serve GET /metrics (Prometheus text) on this port. */
  metricsPort?: number;
  /** Whether the host's view hears heartbeats (HostOptions.presence). */
  presence: "full" | "lean";
  /** What the host trades: warm starts (default) or memory (small; host-profile.ts). */
  profile: HostProfile;
  /** Bytes this host may use in all; unset: its cgroup's limit, if any (host/capacity.ts). */
  memoryLimit?: number;
}

export type HostProfile = "default" | "small";

/**
 * Adds the options that shape a host: name, labels, heartbeat, seed, log level. `presence` is the
 * command's default: `lattice host` joins big lattices (lean), `lattice up` makes a small one (full).
 */
export function withHostOptions(cmd: Command, presence: HostFlags["presence"]): Command {
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
    .addOption(new Option("--no-reconcile", "never act as the lattice's app reconciler (by default any host may, one at a time)"))
    .addOption(
      new Option("--policy-subject <subject>", "ask the policy service answering on this NATS subject before starts, link uses and calls")
        .env("LATTICE_POLICY_SUBJECT")
        .conflicts("policyFile"),
    )
    .addOption(new Option("--policy-file <file>", "decide starts, link uses and calls by the rules of this JSON or YAML file").env("LATTICE_POLICY_FILE"))
    .addOption(
      new Option("--policy-fail <mode>", "when the policy service does not answer in time: deny (closed) or allow (open)")
        .choices(["open", "closed"])
        .env("LATTICE_POLICY_FAIL")
        .default("closed"),
    )
    .addOption(new Option("--policy-timeout <duration>", "how long to wait for the policy service").default(DEFAULT_POLICY_TIMEOUT_MS, "1s").argParser(parseDuration))
    .addOption(
      new Option("--policy-cache-ttl <duration>", "how long a policy decision is reused for the same question (0: ask every time)")
        .default(DEFAULT_POLICY_CACHE_TTL_MS, "10s")
        .argParser((v) => (v.trim() === "0" ? 0 : parseDuration(v))),
    )
    .addOption(
      new Option("--presence <mode>", "full: the host hears every heartbeat and knows which hosts live; lean: only joins and goodbyes, so presence costs the lattice O(N), not O(N²)")
        .choices(["full", "lean"])
        .default(presence),
    )
    .addOption(new Option("--metrics-port <port>", "serve the host's call metrics at GET /metrics on this port, in Prometheus text format (0: any free port)").argParser(parsePort))
    .addOption(
      new Option("--profile <profile>", "default: warm starts (a spare worker, pre-loaded instances); small: least memory, for a small device (docs/cli.md)")
        .choices(["default", "small"])
        .env("LATTICE_HOST_PROFILE")
        .default("default"),
    )
    .addOption(
      new Option("--memory-limit <size>", "memory this host may use in all (e.g. 256m, 1g): starts that would not fit are refused")
        .env("LATTICE_MEMORY_LIMIT")
        .default(undefined, "its cgroup's limit, if any")
        .argParser(parseMemorySize),
    );
}
