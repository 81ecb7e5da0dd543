/** `lattice security set|get`: the lattice's security settings (now: signed invocations), in lattice state (what they do: actions/security.ts). */
import { Command, InvalidArgumentError, Option } from "commander";
import type { SecuritySetOpts } from "../actions/security.js";
import { isSignerKey } from "../../protocol/names.js";
import { parseDuration } from "../parse.js";
import { withStoreOptions, type StoreOpts } from "./artifacts.js";

function onOff(value: string): boolean {
  if (value === "on" || value === "off") return value === "on";
  throw new InvalidArgumentError(`expected on or off, got ${JSON.stringify(value)}`);
}

/** Comma-separated nkey public keys; an empty value clears the list. */
function signerKeys(value: string): string[] {
  const keys = value.split(",").map((k) => k.trim()).filter((k) => k.length > 0);
  const bad = keys.find((k) => !isSignerKey(k));
  if (bad) throw new InvalidArgumentError(`${JSON.stringify(bad)} is not an nkey public key (N…, U…, A…, O… or C…, 56 characters)`);
  return keys;
}

function window(value: string): number {
  const ms = parseDuration(value);
  if (ms < 1_000 || ms > 600_000) throw new InvalidArgumentError("the window must be from 1s to 10m");
  return ms;
}

export function securityCommand(): Command {
  const set = new Command("set")
    .description("change the lattice's security settings (what is not given stays as it is)")
    .addOption(new Option("--verify-invocations <on|off>", "instances refuse calls that are unsigned, forged, stale, replayed or signed by an untrusted key").argParser(onOff))
    .addOption(new Option("--window <duration>", "how far a call's signing time may be from the receiver's clock, and how long replays are remembered (default 30s)").argParser(window))
    .addOption(new Option("--trust <keys>", "signers trusted besides the live hosts: nkey public keys, comma-separated (replaces the list; '' clears it)").argParser(signerKeys))
    .action(async (opts: SecuritySetOpts) => (await import("../actions/security.js")).securitySet(opts));
  const get = new Command("get")
    .description("show the lattice's security settings")
    .action(async (opts: StoreOpts) => (await import("../actions/security.js")).securityGet(opts));
  return new Command("security").description("the lattice's security settings: signed invocations").addCommand(withStoreOptions(set)).addCommand(withStoreOptions(get));
}
