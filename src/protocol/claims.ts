/**
 * Actor claims: a JWT signed by an issuer's nkey (ed25519), the format NATS and wasmCloud use,
 * saying who vouches for a component (`iss`), its identity (`sub`, a module key), its name and
 * version, the link interfaces it may call (`caps`) and the sha256 of its code, which binds the
 * token to those bytes. Pure: no I/O; where the token lives in a component is actor/wasm-claims.ts.
 */
import { fromPublic, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { Type, type Static } from "@sinclair/typebox";
import { validate } from "./codec.js";
import { ErrorCode, LatticeError, messageOf } from "./errors.js";
import { LINK_INTERFACE_PATTERN, unversioned } from "./links.js";
import { createModuleKey, moduleKeyFromSeed, type ModuleKey } from "./module-keys.js";
import { ISSUER_KEY_PATTERN, assertIssuerKey } from "./names.js";

/** The header of every claims token: the NATS JWT v2 algorithm name. */
export const CLAIMS_HEADER = { typ: "JWT", alg: "ed25519-nkey" } as const;
/** A token longer than this is refused before it is parsed. */
export const MAX_CLAIMS_TOKEN = 64 * 1024;

/** Issuer keys: pattern and check in names.ts, which the CLI loads without the schemas. */
export { ISSUER_KEY_PATTERN, assertIssuerKey };
export const MODULE_KEY_PATTERN = "^M[A-Z2-7]{55}$";
export const CODE_HASH_PATTERN = "^sha256:[0-9a-f]{64}$";

export const ActorClaimsBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  version: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** Link interfaces it may call: `wasi:keyvalue/store`, or `wasi:keyvalue` for the whole package. */
  caps: Type.Array(Type.String({ pattern: LINK_INTERFACE_PATTERN, maxLength: 128 }), { maxItems: 64 }),
  /** `sha256:<hex>` of the component without its claims section. */
  hash: Type.String({ pattern: CODE_HASH_PATTERN }),
});
export type ActorClaimsBody = Static<typeof ActorClaimsBody>;

/** Times are JWT NumericDates: seconds since the epoch. */
export const ActorClaims = Type.Object({
  jti: Type.String({ minLength: 1, maxLength: 128 }),
  iat: Type.Integer({ minimum: 0 }),
  exp: Type.Optional(Type.Integer({ minimum: 0 })),
  nbf: Type.Optional(Type.Integer({ minimum: 0 })),
  iss: Type.String({ pattern: ISSUER_KEY_PATTERN }),
  sub: Type.String({ pattern: MODULE_KEY_PATTERN }),
  lattice: ActorClaimsBody,
});
export type ActorClaims = Static<typeof ActorClaims>;

/** What a host reports of a running actor's verified claims (in its inventory). */
export const ClaimsSummary = Type.Object({
  issuer: Type.String({ pattern: ISSUER_KEY_PATTERN }),
  subject: Type.String({ pattern: MODULE_KEY_PATTERN }),
  name: Type.String({ maxLength: 128 }),
  version: Type.Optional(Type.String({ maxLength: 64 })),
  caps: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 64 }),
  /** RFC 3339; absent when the claims never expire. */
  expires: Type.Optional(Type.String({ format: "date-time", maxLength: 64 })),
});
export type ClaimsSummary = Static<typeof ClaimsSummary>;

/** Why a component's claims are refused. */
export type ClaimsRefusal = "unsigned" | "malformed" | "bad signature" | "issuer not allowed" | "hash mismatch" | "expired" | "not yet valid";

/** A refusal of claims: code `forbidden`, the message starts with the reason. */
export class ClaimsError extends LatticeError {
  constructor(
    readonly reason: ClaimsRefusal,
    detail: string,
  ) {
    super(ErrorCode.Forbidden, `${reason}: ${detail}`);
  }
}

export interface SignOptions {
  /** The issuer's seed: an account (`SA…`) or operator (`SO…`) nkey seed. */
  issuerSeed: string;
  /** The module's seed (`SM…`), to keep its subject key; default: a fresh module key. */
  subjectSeed?: string;
  name: string;
  version?: string;
  caps?: string[];
  /** `sha256:<hex>` of the code the token vouches for. */
  hash: string;
  /** Seconds from `now` until the claims expire; default: never. */
  expiresInSeconds?: number;
  /** Seconds from `now` before which the claims are not valid; default: at once. */
  notBeforeSeconds?: number;
  /** Epoch milliseconds; default: now. */
  now?: number;
}

export interface Signed {
  token: string;
  claims: ActorClaims;
  /** The module seed when a fresh one was made: keep it to sign the next version as the same subject. */
  subjectSeed?: string;
}

/** Sign claims for a component. Throws `bad_request` for an unusable seed or claim. */
export function signClaims(opts: SignOptions): Signed {
  const issuer = issuerKeys(opts.issuerSeed);
  let subject: ModuleKey;
  try {
    subject = opts.subjectSeed === undefined ? createModuleKey() : moduleKeyFromSeed(opts.subjectSeed);
  } catch (e) {
    throw new LatticeError(ErrorCode.BadRequest, `subject seed: ${messageOf(e)}`, { cause: e });
  }
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  const body: ActorClaimsBody = { name: opts.name, ...(opts.version !== undefined ? { version: opts.version } : {}), caps: [...new Set(opts.caps ?? [])], hash: opts.hash };
  const claims: ActorClaims = { jti: randomId(), iat, iss: issuer.getPublicKey(), sub: subject.publicKey, lattice: body };
  if (opts.expiresInSeconds !== undefined) claims.exp = iat + Math.ceil(opts.expiresInSeconds);
  if (opts.notBeforeSeconds !== undefined) claims.nbf = iat + Math.floor(opts.notBeforeSeconds);
  validate(ActorClaims, claims, "claims");
  const signingInput = `${b64url(JSON.stringify(CLAIMS_HEADER))}.${b64url(JSON.stringify(claims))}`;
  const signature = issuer.sign(new TextEncoder().encode(signingInput));
  return { token: `${signingInput}.${toB64url(signature)}`, claims, ...(opts.subjectSeed === undefined ? { subjectSeed: subject.seed } : {}) };
}

export interface ParsedToken {
  claims: ActorClaims;
  /** `header.payload`: the bytes the signature covers. */
  signingInput: string;
  signature: Uint8Array;
}

/** Split and decode a token without trusting it. Throws ClaimsError `malformed`. */
export function parseClaimsToken(token: string): ParsedToken {
  if (token.length > MAX_CLAIMS_TOKEN) throw new ClaimsError("malformed", `token is ${token.length} characters, over ${MAX_CLAIMS_TOKEN}`);
  const parts = token.split(".");
  if (parts.length !== 3) throw new ClaimsError("malformed", "a token has three dot-separated parts");
  const [h, p, s] = parts as [string, string, string];
  const header = jsonPart(h, "header");
  if (typeof header !== "object" || header === null || (header as Record<string, unknown>).alg !== CLAIMS_HEADER.alg) {
    throw new ClaimsError("malformed", `the header's alg is not ${CLAIMS_HEADER.alg}`);
  }
  let claims: ActorClaims;
  try {
    claims = validate(ActorClaims, jsonPart(p, "payload"), "claims");
  } catch (e) {
    throw new ClaimsError("malformed", messageOf(e));
  }
  const signature = fromB64url(s, "signature");
  if (signature.length !== 64) throw new ClaimsError("malformed", "an ed25519 signature is 64 bytes");
  return { claims, signingInput: `${h}.${p}`, signature };
}

/** True if the issuer named in the claims signed them. */
export function signatureValid(t: ParsedToken): boolean {
  try {
    return fromPublic(t.claims.iss).verify(new TextEncoder().encode(t.signingInput), t.signature);
  } catch {
    return false; // not a valid nkey (bad checksum): nobody could have signed it
  }
}

/** A problem with the claims' validity period at `now` (epoch ms), if any. */
export function timeProblem(c: ActorClaims, now = Date.now()): ClaimsError | undefined {
  const t = Math.floor(now / 1000);
  if (c.exp !== undefined && t >= c.exp) return new ClaimsError("expired", `expired at ${isoSeconds(c.exp)}`);
  if (c.nbf !== undefined && t < c.nbf) return new ClaimsError("not yet valid", `valid from ${isoSeconds(c.nbf)}`);
  return undefined;
}

export interface VerifyOptions {
  /** `sha256:<hex>` of the code the token came with. */
  hash: string;
  /** Issuers (public keys) whose signatures are accepted; undefined: any issuer. */
  allowedIssuers?: readonly string[];
  /** Epoch milliseconds; default: now. */
  now?: number;
}

/**
 * The claims of a token, verified: signature, issuer, code hash, validity period (in that order:
 * nothing of an unsigned payload is worth reporting). Throws ClaimsError naming the reason.
 */
export function verifyClaims(token: string, opts: VerifyOptions): ActorClaims {
  const t = parseClaimsToken(token);
  const c = t.claims;
  if (!signatureValid(t)) throw new ClaimsError("bad signature", `the token is not signed by its issuer ${c.iss}`);
  if (opts.allowedIssuers && !opts.allowedIssuers.includes(c.iss)) {
    throw new ClaimsError("issuer not allowed", `issuer ${c.iss} is not one this host trusts`);
  }
  if (c.lattice.hash !== opts.hash) throw new ClaimsError("hash mismatch", `the code is ${opts.hash}, the claims were signed for ${c.lattice.hash}`);
  const late = timeProblem(c, opts.now);
  if (late) throw late;
  return c;
}

/** True if `caps` cover calls on `iface` (versioned or not): the exact interface or its package. */
export function capsAllow(caps: readonly string[], iface: string): boolean {
  const name = unversioned(iface);
  const slash = name.indexOf("/");
  return caps.includes(name) || (slash > 0 && caps.includes(name.slice(0, slash)));
}

export function claimsSummary(c: ActorClaims): ClaimsSummary {
  const s: ClaimsSummary = { issuer: c.iss, subject: c.sub, name: c.lattice.name, caps: [...c.lattice.caps] };
  if (c.lattice.version !== undefined) s.version = c.lattice.version;
  if (c.exp !== undefined) s.expires = isoSeconds(c.exp);
  return s;
}

/** An issuer key pair from its seed; only account and operator keys may issue. */
function issuerKeys(seed: string): KeyPair {
  if (!/^S[AO]/.test(seed)) throw new LatticeError(ErrorCode.BadRequest, "the issuer seed must be an nkey account (SA…) or operator (SO…) seed");
  try {
    return fromSeed(new TextEncoder().encode(seed));
  } catch {
    throw new LatticeError(ErrorCode.BadRequest, "the issuer seed is not a valid nkey seed");
  }
}

function isoSeconds(s: number): string {
  const d = new Date(s * 1000);
  return Number.isNaN(d.getTime()) ? `${s}` : d.toISOString();
}

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function jsonPart(part: string, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromB64url(part, what)));
  } catch (e) {
    if (e instanceof ClaimsError) throw e;
    throw new ClaimsError("malformed", `the ${what} is not JSON`);
  }
}

function b64url(s: string): string {
  return toB64url(new TextEncoder().encode(s));
}

function toB64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64url(s: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new ClaimsError("malformed", `the ${what} is not base64url`);
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
