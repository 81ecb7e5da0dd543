/**
 * Claims inside a component: a custom section (id 0) named `lattice-claims` whose content is the
 * signed token (UTF-8). Custom sections may sit anywhere in a core module or a component and
 * runtimes ignore them, so appending one changes nothing about how the code runs. The code hash
 * the token carries is of the bytes without that section. Pure byte work, browser-safe.
 */
import { ClaimsError, ErrorCode, LatticeError, verifyClaims, type ActorClaims } from "../protocol/index.js";
import { digestOf, wasmKind } from "./wasm-binary.js";

export const CLAIMS_SECTION = "lattice-claims";

interface Section {
  id: number;
  /** Where the section starts (its id byte) and ends, in the binary. */
  start: number;
  end: number;
  /** Custom sections: the name, and where the content after it starts. */
  name?: string;
  contentStart?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Top-level sections of a module or component. Throws `bad_request` for anything malformed. */
function sections(bytes: Uint8Array): Section[] {
  if (!wasmKind(bytes)) throw new LatticeError(ErrorCode.BadRequest, "not a WebAssembly module or component");
  const out: Section[] = [];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++]!;
    const [size, afterSize] = leb(bytes, at);
    const end = afterSize + size;
    if (end > bytes.length) throw malformed(`section at byte ${start} runs past the end`);
    const s: Section = { id, start, end };
    if (id === 0) {
      const [len, afterLen] = leb(bytes, afterSize);
      if (afterLen + len > end) throw malformed(`custom section name at byte ${start} runs past its section`);
      try {
        s.name = utf8.decode(bytes.subarray(afterLen, afterLen + len));
      } catch {
        throw malformed(`custom section name at byte ${start} is not UTF-8`);
      }
      s.contentStart = afterLen + len;
    }
    out.push(s);
    at = end;
  }
  return out;
}

/** An unsigned LEB128 u32 at `at`: [value, offset after it]. */
function leb(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (at + i >= bytes.length) throw malformed("truncated length");
    const b = bytes[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, at + i + 1];
  }
  throw malformed("length longer than 5 bytes");
}

function encodeLeb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function malformed(what: string): LatticeError {
  return new LatticeError(ErrorCode.BadRequest, `malformed WebAssembly: ${what}`);
}

/** The bytes without any claims section: what the code hash covers. */
export function withoutClaims(bytes: Uint8Array): Uint8Array {
  const drop = sections(bytes).filter((s) => s.name === CLAIMS_SECTION);
  if (drop.length === 0) return bytes;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const s of drop) {
    parts.push(bytes.subarray(at, s.start));
    at = s.end;
  }
  parts.push(bytes.subarray(at));
  return concat(parts);
}

/** The token in the component's claims section, if it has one. Throws ClaimsError if it has several. */
export function claimsToken(bytes: Uint8Array): string | undefined {
  const found = sections(bytes).filter((s) => s.name === CLAIMS_SECTION);
  if (found.length === 0) return undefined;
  if (found.length > 1) throw new ClaimsError("malformed", `${found.length} ${CLAIMS_SECTION} sections; a signed component has one`);
  const s = found[0]!;
  try {
    return utf8.decode(bytes.subarray(s.contentStart, s.end));
  } catch {
    throw new ClaimsError("malformed", `the ${CLAIMS_SECTION} section is not UTF-8`);
  }
}

/** The component with `token` as its only claims section, appended at the end. */
export function embedClaims(bytes: Uint8Array, token: string): Uint8Array {
  const name = new TextEncoder().encode(CLAIMS_SECTION);
  const content = new TextEncoder().encode(token);
  const body = [...encodeLeb(name.length), ...name];
  const header = Uint8Array.from([0, ...encodeLeb(body.length + content.length), ...body]);
  return concat([withoutClaims(bytes), header, content]);
}

/** `sha256:<hex>` of the code without its claims: what a token's `hash` must be. */
export function codeHash(bytes: Uint8Array): Promise<string> {
  return digestOf(withoutClaims(bytes));
}

export interface ComponentClaimsPolicy {
  /** Issuers a host trusts; set, it refuses unsigned components and every other issuer. */
  allowedIssuers?: readonly string[];
  /** Epoch milliseconds; default: now. */
  now?: number;
}

/**
 * The verified claims of a component, or undefined for an unsigned one where that is allowed.
 * Claims that are present are always checked (signature, code hash, validity); the issuer only
 * against `allowedIssuers` when given. Throws ClaimsError (`forbidden`) with the reason.
 */
export async function verifyComponentClaims(bytes: Uint8Array, policy: ComponentClaimsPolicy = {}): Promise<ActorClaims | undefined> {
  const token = claimsToken(bytes);
  if (token === undefined) {
    if (policy.allowedIssuers) throw new ClaimsError("unsigned", "the component carries no claims; sign it with `lattice sign`");
    return undefined;
  }
  return verifyClaims(token, { hash: await codeHash(bytes), allowedIssuers: policy.allowedIssuers, now: policy.now });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
