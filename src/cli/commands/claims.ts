/**
 * Identities and signed actors: `lattice keys gen`, `lattice sign FILE.wasm`, `lattice inspect
 * FILE.wasm`. Offline commands: they read and write files, never the lattice.
 */
import { writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { createAccount, createOperator } from "@nats-io/nkeys";
import { Command, InvalidArgumentError, Option } from "commander";
import { claimsToken, codeHash, embedClaims } from "../../actor/wasm-claims.js";
import {
  assertLinkInterface,
  createModuleKey,
  isLatticeError,
  parseClaimsToken,
  signClaims,
  signatureValid,
  timeProblem,
  type ActorClaims,
} from "../../protocol/index.js";
import { CliError } from "../errors.js";
import { withOutputOption, type OutputOpts } from "../lattice-options.js";
import { printJson } from "../output.js";
import { readComponent } from "./push.js";

type KeyType = "account" | "operator" | "module";

function newKey(type: KeyType): { publicKey: string; seed: string } {
  if (type === "module") return createModuleKey();
  const kp = type === "operator" ? createOperator() : createAccount();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

function keysCommand(): Command {
  const gen = new Command("gen")
    .description("make an nkey pair: an issuer (account or operator) signs actors, a module key names one")
    .addOption(new Option("--type <type>", "key type").choices(["account", "operator", "module"]).default("account"))
    .action((opts: OutputOpts & { type: KeyType }) => {
      const key = newKey(opts.type);
      process.stderr.write("warning: the seed is a secret: whoever holds it can sign as this key. Store it like a password.\n");
      if (opts.output === "json") return printJson({ type: opts.type, ...key });
      process.stdout.write(`public key: ${key.publicKey}\nseed:       ${key.seed}\n`);
    });
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

interface SignOpts extends OutputOpts {
  issuer?: string;
  subject?: string;
  name: string;
  ver?: string;
  caps?: string[];
  expires?: number;
  notBefore?: number;
  out?: string;
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
    .action(async (file: string, opts: SignOpts) => {
      if (!opts.issuer) throw new CliError("no issuer: give --issuer <seed> or set LATTICE_ISSUER_SEED (make one with `lattice keys gen`)");
      const bytes = await readComponent(file);
      const signed = signClaims({
        issuerSeed: opts.issuer,
        subjectSeed: opts.subject,
        name: opts.name,
        version: opts.ver,
        caps: opts.caps,
        hash: await codeHash(bytes),
        expiresInSeconds: opts.expires,
        notBeforeSeconds: opts.notBefore,
      });
      const out = opts.out ?? join(dirname(file), `${basename(file, extname(file))}.signed.wasm`);
      await writeFile(out, embedClaims(bytes, signed.token));
      if (opts.output === "json") return printJson({ file: out, claims: signed.claims });
      const c = signed.claims;
      process.stdout.write(`signed ${out}: ${c.lattice.name} by issuer ${c.iss}, subject ${c.sub}, caps ${c.lattice.caps.join(",") || "none"}${c.exp ? `, expires ${iso(c.exp)}` : ""}\n`);
    });
  return withOutputOption(cmd);
}

/** What `inspect` reports of a component. */
interface Inspection {
  file: string;
  /** `sha256:<hex>` of the code without its claims. */
  hash: string;
  signed: boolean;
  /** Signed, signature and hash check out, and within its validity period (the issuer is not judged). */
  valid: boolean;
  problems: string[];
  claims?: ActorClaims;
  issuedAt?: string;
  expires?: string;
  notBefore?: string;
}

async function inspect(file: string): Promise<Inspection> {
  const bytes = await readComponent(file);
  const hash = await codeHash(bytes);
  let token: string | undefined;
  try {
    token = claimsToken(bytes);
  } catch (e) {
    return { file, hash, signed: true, valid: false, problems: [isLatticeError(e) ? e.message : String(e)] };
  }
  if (token === undefined) return { file, hash, signed: false, valid: false, problems: ["unsigned: no lattice-claims section"] };
  let claims: ActorClaims;
  const problems: string[] = [];
  try {
    const parsed = parseClaimsToken(token);
    claims = parsed.claims;
    if (!signatureValid(parsed)) problems.push(`bad signature: not signed by its issuer ${claims.iss}`);
  } catch (e) {
    return { file, hash, signed: true, valid: false, problems: [isLatticeError(e) ? e.message : String(e)] };
  }
  if (claims.lattice.hash !== hash) problems.push(`hash mismatch: the code changed after signing (signed for ${claims.lattice.hash})`);
  const late = timeProblem(claims);
  if (late) problems.push(late.message);
  const r: Inspection = { file, hash, signed: true, valid: problems.length === 0, problems, claims, issuedAt: iso(claims.iat) };
  if (claims.exp !== undefined) r.expires = iso(claims.exp);
  if (claims.nbf !== undefined) r.notBefore = iso(claims.nbf);
  return r;
}

function inspectCommand(): Command {
  const cmd = new Command("inspect")
    .description("show a component's claims and whether they verify (signature, code hash, validity period)")
    .argument("<file>", "the component (.wasm)")
    .action(async (file: string, opts: OutputOpts) => {
      const r = await inspect(file);
      if (opts.output === "json") return printJson(r);
      const c = r.claims;
      const rows: Array<[string, string]> = [
        ["file", r.file],
        ["code hash", r.hash],
        ["signed", r.signed ? "yes" : "no"],
      ];
      if (c) {
        rows.push(
          ["name", c.lattice.name + (c.lattice.version ? ` ${c.lattice.version}` : "")],
          ["issuer", c.iss],
          ["subject", c.sub],
          ["caps", c.lattice.caps.join(", ") || "none"],
          ["issued", r.issuedAt ?? "-"],
          ["expires", r.expires ?? "never"],
        );
        if (r.notBefore) rows.push(["not before", r.notBefore]);
      }
      rows.push(["verified", r.valid ? "yes (signature, code hash, validity period)" : `no: ${r.problems.join("; ")}`]);
      process.stdout.write(rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${v}`).join("\n") + "\n");
    });
  return withOutputOption(cmd);
}

function iso(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

export function claimsCommands(): Command[] {
  return [keysCommand(), signCommand(), inspectCommand()];
}
