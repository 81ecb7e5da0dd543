/**
 * Session keys of signed invocations: how a verifier gets a signer's session key (the HMAC key of
 * its session-mode calls) once per session. Pure: schemas and the exact bytes each side signs.
 *
 * The verifier sends a `SessionKeyRequest` to `lattice.<L>.ctl.v1.session.<signer>.<session>`
 * (answered only by the signer process that made that session) naming itself, with a fresh curve
 * (X25519) key for the answer, a nonce, and its Ed25519 signature over `sessionRequestMessage`.
 * The signer answers a verifier it trusts with `{ ok: true, data: SessionKeyAnswer }`: the key
 * sealed to that curve key (nkeys xkeys: X25519 + XSalsa20-Poly1305) and its own Ed25519
 * signature over `sessionAnswerMessage`, which binds the answer to the request's nonce and
 * verifier, so it can be neither forged nor replayed to someone else.
 */
import { Type, type Static } from "@sinclair/typebox";
import { SESSION_ID_PATTERN, SIGNER_KEY_PATTERN } from "./invocation-signature.js";
import { ControlReply } from "./schemas.js";

/** An HMAC-SHA256 key. */
export const SESSION_KEY_BYTES = 32;
/** A verifier keeps a key no longer than this, whatever expiry the signer states. */
export const MAX_SESSION_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** An nkeys curve (xkey) public key. */
export const CURVE_KEY_PATTERN = "^X[A-Z2-7]{55}$";
const BASE64URL = "^[A-Za-z0-9_-]*$";
/** 64 bytes in base64url without padding. */
const Signature = Type.String({ pattern: BASE64URL, minLength: 86, maxLength: 86 });

export const SessionKeyRequest = Type.Object({
  /** The verifier's nkey public key: the signer checks it against the same trust rule verifiers apply. */
  verifier: Type.String({ pattern: SIGNER_KEY_PATTERN }),
  /** A fresh curve key of the verifier's: the answer's key is sealed to it. */
  curve: Type.String({ pattern: CURVE_KEY_PATTERN }),
  /** Random, 16 to 48 bytes in base64url: the answer's signature covers it. */
  nonce: Type.String({ pattern: BASE64URL, minLength: 22, maxLength: 64 }),
  /** The verifier's Ed25519 signature over `sessionRequestMessage`, base64url. */
  signature: Signature,
});
export type SessionKeyRequest = Static<typeof SessionKeyRequest>;

export const SessionKeyAnswer = Type.Object({
  session: Type.String({ pattern: SESSION_ID_PATTERN }),
  /** Epoch milliseconds by the signer's clock: calls issued later are refused, and the key is dropped. */
  expiresAt: Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 }),
  /** The signer's curve public key, which sealed the key. */
  sealer: Type.String({ pattern: CURVE_KEY_PATTERN }),
  /** The 32-byte key, sealed (xkeys v1 format), base64url. */
  sealed: Type.String({ pattern: BASE64URL, minLength: 1, maxLength: 256 }),
  /** The signer's Ed25519 signature over `sessionAnswerMessage`, base64url. */
  signature: Signature,
});
export type SessionKeyAnswer = Static<typeof SessionKeyAnswer>;
export const SessionKeyReply = ControlReply(SessionKeyAnswer);

/** What the verifier signs: every field of its request, and what it asks for (lattice, signer, session). */
export function sessionRequestMessage(lattice: string, signer: string, session: string, r: Omit<SessionKeyRequest, "signature">): Uint8Array {
  return lines("lattice-session-request-v1", lattice, signer, session, r.verifier, r.curve, r.nonce);
}

/** What the signer signs: the answer, bound to the request it answers (verifier, its curve key, nonce). */
export function sessionAnswerMessage(lattice: string, signer: string, request: Omit<SessionKeyRequest, "signature">, a: Omit<SessionKeyAnswer, "signature">): Uint8Array {
  return lines("lattice-session-answer-v1", lattice, signer, a.session, String(a.expiresAt), request.verifier, request.curve, request.nonce, a.sealer, a.sealed);
}

/** Fields joined by newlines: none of them can hold one (their patterns say so), so the join is unambiguous. */
function lines(...fields: string[]): Uint8Array {
  return new TextEncoder().encode(fields.join("\n"));
}

export function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Undefined for anything that is not base64url. */
export function fromBase64Url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return undefined;
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
