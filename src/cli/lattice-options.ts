/** The options every command shares, and opening a control client from them. */
import { Option, type Command } from "commander";
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../ctl/index.js";
import { AUTH_ENV, connectionAuth, type NatsAuth } from "../nats/node/auth.js";
import { connectNode } from "../nats/node/connect.js";
import { RESILIENT, parseServers } from "../nats/connection-options.js";
import { DEFAULT_LATTICE } from "../host/index.js";
import { assertLatticeName, isLatticeError } from "../protocol/index.js";
import { InvalidArgumentError } from "commander";
import type { OutputFormat } from "./output.js";
import { parseDuration } from "./parse.js";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

export interface LatticeOpts extends NatsAuth {
  natsUrl: string;
  lattice: string;
}

export interface OutputOpts {
  output: OutputFormat;
}

function latticeName(value: string): string {
  try {
    return assertLatticeName(value);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
}

/** Adds --nats-url, --lattice and the NATS credentials options (each with its environment variable). */
export function withLatticeOptions(cmd: Command): Command {
  const auth: Array<[keyof NatsAuth, string, string]> = [
    ["creds", "--creds <file>", "NATS credentials file (.creds)"],
    ["nkey", "--nkey <file>", "file holding an nkey user seed (SU…)"],
    ["user", "--user <user>", "NATS user"],
    ["password", "--password <password>", "NATS password"],
    ["token", "--token <token>", "NATS token"],
    ["tlsCa", "--tls-ca <file>", "CA certificate to trust for the NATS server"],
    ["tlsCert", "--tls-cert <file>", "client certificate for NATS (TLS)"],
    ["tlsKey", "--tls-key <file>", "client key for NATS (TLS)"],
  ];
  for (const [key, flags, description] of auth) cmd.addOption(new Option(flags, description).env(AUTH_ENV[key]));
  return cmd
    .addOption(
      new Option("--nats-url <urls>", "NATS server(s) to use, comma-separated").env("LATTICE_NATS_URL").default(DEFAULT_NATS_URL),
    )
    .addOption(new Option("--lattice <name>", "lattice name").env("LATTICE_NAME").default(DEFAULT_LATTICE).argParser(latticeName));
}

/** Adds -o/--output to a command that prints data. */
export function withOutputOption(cmd: Command): Command {
  return cmd.addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"));
}

export function withTimeoutOption(cmd: Command, ms = 2_000, shown = "2s"): Command {
  return cmd.addOption(new Option("--timeout <duration>", "how long to wait for answers").default(ms, shown).argParser(parseDuration));
}

/** Connect for a command. One-shot commands fail at once; streams keep reconnecting. */
export async function openConnection(opts: LatticeOpts, longLived = false): Promise<NatsConnection> {
  return connectNode({
    ...(longLived ? RESILIENT : { maxReconnectAttempts: 0, timeout: 3_000 }),
    ...connectionAuth(opts),
    servers: parseServers(opts.natsUrl),
    name: "lattice-cli",
  });
}

/** Run `fn` with a one-shot connection, and close it whatever happens. */
export async function withConnection<T>(opts: LatticeOpts, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await openConnection(opts);
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Run `fn` with a control client, and close the connection whatever happens. */
export function withClient<T>(opts: LatticeOpts & { timeout?: number }, fn: (c: LatticeClient) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new LatticeClient(nc, opts.lattice, { timeoutMs: opts.timeout })));
}
