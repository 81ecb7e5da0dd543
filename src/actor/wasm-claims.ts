/**
 * Claims inside a component: a custom section (id 0) named `lattice-claims` whose content is the
 * signed token (UTF-8). Custom sections may sit anywhere in a core module or a component and
 * runtimes ignore them, so appending one changes nothing about how the code runs. The code hash
 * the token carries is of the bytes without that section. Pure byte work, browser-safe.
 */
import { ClaimsError, verifyClaims, type ActorClaims } from "../protocol/index.js";
import { digestOf } from "../nats/wasm-binary.js";
import { customSections, withCustomSection, withoutCustomSection } from "./wasm-sections.js";

export const CLAIMS_SECTION = "lattice-claims";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The bytes without any claims section: what the code hash covers. */
export function withoutClaims(bytes: Uint8Array): Uint8Array {
  return withoutCustomSection(bytes, CLAIMS_SECTION);
}

/** The token in the component's claims section, if it has one. Throws ClaimsError if it has several. */
export function claimsToken(bytes: Uint8Array): string | undefined {
  const found = customSections(bytes, CLAIMS_SECTION);
  if (found.length === 0) return undefined;
  if (found.length > 1) throw new ClaimsError("malformed", `${found.length} ${CLAIMS_SECTION} sections; a signed component has one`);
  try {
    return utf8.decode(found[0]);
  } catch {
    throw new ClaimsError("malformed", `the ${CLAIMS_SECTION} section is not UTF-8`);
  }
}

/** The component with `token` as its only claims section, appended at the end. */
export function embedClaims(bytes: Uint8Array, token: string): Uint8Array {
  return withCustomSection(bytes, CLAIMS_SECTION, new TextEncoder().encode(token));
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
