/**
 * The options every command shares. Part of the command tree, so it imports only what checks and
 * shows the options (connecting is in connect.ts, which actions import).
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import type { NatsAuth } from "../nats/node/auth.js";
import { DEFAULT_LATTICE } from "../host/defaults.js";
import { isLatticeError } from "../protocol/errors.js";
import { assertLatticeName } from "../protocol/names.js";
import { NATS_AUTH_ENV } from "../protocol/provider-process.js";
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
  for (const [key, flags, description] of auth) cmd.addOption(new Option(flags, description).env(NATS_AUTH_ENV[key]));
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
