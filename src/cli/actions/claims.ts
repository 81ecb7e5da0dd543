/** What `lattice keys gen`, `lattice sign` and `lattice inspect` do. */
import { writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { createAccount, createOperator } from "@nats-io/nkeys";
import { claimsToken, codeHash, embedClaims } from "../../actor/wasm-claims.js";
import { createModuleKey, isLatticeError, parseClaimsToken, signClaims, signatureValid, timeProblem, type ActorClaims } from "../../protocol/index.js";
import { CliError } from "../errors.js";
import type { OutputOpts } from "../lattice-options.js";
import { printJson } from "../output.js";
import { readComponent } from "./push.js";

export type KeyType = "account" | "operator" | "module";

function newKey(type: KeyType): { publicKey: string; seed: string } {
  if (type === "module") return createModuleKey();
  const kp = type === "operator" ? createOperator() : createAccount();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

export function keysGen(opts: OutputOpts & { type: KeyType }): void {
  const key = newKey(opts.type);
  process.stderr.write("warning: the seed is a secret: whoever holds it can sign as this key. Store it like a password.\n");
  if (opts.output === "json") return printJson({ type: opts.type, ...key });
  process.stdout.write(`public key: ${key.publicKey}\nseed:       ${key.seed}\n`);
}

export interface SignOpts extends OutputOpts {
  issuer?: string;
  subject?: string;
  name: string;
  ver?: string;
  caps?: string[];
  expires?: number;
  notBefore?: number;
  out?: string;
}

export async function sign(file: string, opts: SignOpts): Promise<void> {
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

async function inspectFile(file: string): Promise<Inspection> {
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

export async function inspect(file: string, opts: OutputOpts): Promise<void> {
  const r = await inspectFile(file);
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
}

function iso(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}
