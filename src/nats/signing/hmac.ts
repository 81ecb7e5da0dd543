/**
 * HMAC-SHA256 of session-mode calls: node:crypto (synchronous, a few microseconds) where it
 * exists, WebCrypto elsewhere. The message is the invocation subject, a zero byte, then the
 * covered body bytes: hashed in pieces, so nothing is copied.
 */
import { buffer } from "./ed25519.js";
import { nodeCrypto } from "./node-crypto.js";

/** The MAC of a call to `subject` whose signed body bytes are `covered`. */
export type CallMac = (subject: string, covered: Uint8Array) => Uint8Array | Promise<Uint8Array>;

const ZERO = new Uint8Array(1);
const utf8 = new TextEncoder();

/** A MAC function of one 32-byte session key (the key object is made once). */
export function callMac(key: Uint8Array): CallMac {
  const c = nodeCrypto;
  if (c) {
    const k = c.createSecretKey(key);
    return (subject, covered) => c.createHmac("sha256", k).update(subject).update(ZERO).update(covered).digest();
  }
  const k = crypto.subtle.importKey("raw", buffer(Uint8Array.from(key)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return async (subject, covered) => {
    const s = utf8.encode(subject);
    const m = new Uint8Array(s.length + 1 + covered.length);
    m.set(s);
    m.set(covered, s.length + 1);
    return new Uint8Array(await crypto.subtle.sign("HMAC", await k, m));
  };
}

/** Equal bytes, in time that does not depend on where they differ. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
