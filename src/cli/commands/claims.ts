/**
 * Identities and signed actors: `lattice keys gen`, `lattice sign FILE.wasm`, `lattice inspect
 * FILE.wasm`. Offline commands: they read and write files, never the lattice (what they do: actions/claims.ts).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import type { KeyType, SignOpts } from "../actions/claims.js";
import { isLatticeError } from "../../protocol/errors.js";
import { assertLinkInterface } from "../../protocol/names.js";
import { withOutputOption, type OutputOpts } from "../lattice-options.js";

function keysCommand(): Command {
  const gen = new Command("gen")
    .description("make an nkey pair: an issuer (account or operator) signs actors, a module key names one")
    .addOption(new Option("--type <type>", "key type").choices(["account", "operator", "module"]).default("account"))
    .action(async (opts: OutputOpts & { type: KeyType }) => (await import("../actions/claims.js")).keysGen(opts));
  return new Command("keys").description("nkey identities for signing actors").addCommand(withOutputOption(gen));
}

const EXPIRY = /^(\d+)(s|m|h|d)$/;
const UNIT_S = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** `90s`, `15m`, `12h`, `30d`: seconds. */
function parseExpiry(value: string): number {
  const m = EXPIRY.exec(value.trim());
  if (!m || Number(m[1]) === 0) throw new InvalidArgumentError(`expected a duration like 12h or 30d, got ${JSON.stringify(value)}`);
  return Number(m[1]) * UNIT_S[m[2] as keyof typeof UNIT_S];
}

function parseCaps(value: string): string[] {
  const caps = value.split(",").map((c) => c.trim()).filter((c) => c.length > 0);
  try {
    for (const c of caps) assertLinkInterface(c);
  } catch (e) {
    throw new InvalidArgumentError(isLatticeError(e) ? e.message : String(e));
  }
  return caps;
}

function signCommand(): Command {
  const cmd = new Command("sign")
    .description("embed signed claims (issuer, name, version, allowed link interfaces, code hash) in a component")
    .argument("<file>", "the component (.wasm)")
    .addOption(new Option("--issuer <seed>", "the issuer's nkey seed (SA… or SO…), from `lattice keys gen`").env("LATTICE_ISSUER_SEED"))
    .addOption(new Option("--name <name>", "the actor's name in its claims").makeOptionMandatory())
    .addOption(new Option("--ver <version>", "the actor's version in its claims"))
    .addOption(new Option("--caps <interfaces>", "link interfaces it may call, comma-separated (wasi:keyvalue/store, or wasi:keyvalue for the package)").argParser(parseCaps))
    .addOption(new Option("--expires <duration>", "the claims expire after this long (90s, 15m, 12h, 30d); default: never").argParser(parseExpiry))
    .addOption(new Option("--not-before <duration>", "the claims become valid only after this long").argParser(parseExpiry))
    .addOption(new Option("--subject <seed>", "the module's nkey seed (SM…), to keep its subject key across versions; default: a new one"))
    .addOption(new Option("--out <file>", "where to write the signed component (default: <file>.signed.wasm beside it)"))
    .action(async (file: string, opts: SignOpts) => (await import("../actions/claims.js")).sign(file, opts));
  return withOutputOption(cmd);
}

function inspectCommand(): Command {
  const cmd = new Command("inspect")
    .description("show a component's claims and whether they verify (signature, code hash, validity period)")
    .argument("<file>", "the component (.wasm)")
    .action(async (file: string, opts: OutputOpts) => (await import("../actions/claims.js")).inspect(file, opts));
  return withOutputOption(cmd);
}

export function claimsCommands(): Command[] {
  return [keysCommand(), signCommand(), inspectCommand()];
}
