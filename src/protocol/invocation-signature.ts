/**
 * Signed invocations: what a caller signs, where the signature sits in the call envelope, the
 * lattice setting that turns verification on, and the replay memory of a verifier. Pure: the
 * Ed25519 work is done in nats/call-signing.ts.
 *
 * A signed call is the envelope `[args, deadline, callId, source, link, traceparent, signer,
 * issuedAt, signature]`, `signature` last: a MessagePack bin 8 of 64 bytes, so the body's final
 * 66 bytes. The signed message is the invocation subject (UTF-8), one zero byte, then every body
 * byte before those 66: target, interface and function (the subject) and all of the envelope
 * (arguments, deadline, call id, source, link, trace context, signer, issued-at) exactly as sent.
 * Signing the received bytes needs no canonical re-encoding, and a deadline or source cannot be
 * changed in flight. (Ed25519 hashes its message itself, with SHA-512: no digest of our own.)
 */
import { Type, type Static } from "@sinclair/typebox";

export const SIGNATURE_BYTES = 64;
/** bin 8 marker, length byte, the signature. */
const SIGNATURE_TAIL = SIGNATURE_BYTES + 2;

/** Who may sign: an nkey public key of a kind that signs (server `N`, user `U`, account `A`, operator `O`, cluster `C`). */
export const SIGNER_KEY_PATTERN = "^[NUAOC][A-Z2-7]{55}$";
const signerKey = new RegExp(SIGNER_KEY_PATTERN);

export function isSignerKey(key: string): boolean {
  return signerKey.test(key);
}

/** The signature fields of a call envelope. */
export interface CallSignature {
  /** The signer's nkey public key. */
  signer: string;
  /** Epoch milliseconds when the caller signed (each attempt of a retried call is signed anew). */
  issuedAt: number;
  /** Ed25519, 64 bytes; zeros while the body is being built. */
  signature: Uint8Array;
}

/** The bytes a signed call's signature covers, or undefined if the body does not end with one. */
export function signedMessage(subject: string, body: Uint8Array): Uint8Array | undefined {
  const n = body.length - SIGNATURE_TAIL;
  if (n < 1 || body[n] !== 0xc4 || body[n + 1] !== SIGNATURE_BYTES) return undefined;
  const s = utf8.encode(subject);
  const out = new Uint8Array(s.length + 1 + n);
  out.set(s);
  out.set(body.subarray(0, n), s.length + 1);
  return out;
}

/** Write a signature into the placeholder at the end of a signed call's body. */
export function placeSignature(body: Uint8Array, signature: Uint8Array): void {
  if (signature.length !== SIGNATURE_BYTES) throw new Error(`an Ed25519 signature is ${SIGNATURE_BYTES} bytes, not ${signature.length}`);
  body.set(signature, body.length - SIGNATURE_BYTES);
}

const utf8 = new TextEncoder();

// ---- the lattice setting -------------------------------------------------------------------

/** Lattice-state key of the invocation security setting. */
export const INVOCATION_SECURITY_KEY = "security.invocations";
export const DEFAULT_SIGNATURE_WINDOW_MS = 30_000;

export const InvocationSecurity = Type.Object({
  /** Instances refuse calls that are unsigned, forged, stale, replayed or from an untrusted key. */
  verify: Type.Boolean(),
  /** How far issued-at may be from the receiver's clock, either way; also how long replays are remembered. */
  windowMs: Type.Integer({ minimum: 1_000, maximum: 600_000 }),
  /** Signers trusted besides the lattice's live hosts (a CLI user's key, an outside service). */
  trustedKeys: Type.Array(Type.String({ pattern: SIGNER_KEY_PATTERN }), { maxItems: 1_024 }),
  updatedAt: Type.String({ format: "date-time", maxLength: 64 }),
});
export type InvocationSecurity = Static<typeof InvocationSecurity>;

/** Why issued-at is unacceptable, or undefined when it is within the window. */
export function issuedAtProblem(issuedAt: number, now: number, windowMs: number): string | undefined {
  const skew = now - issuedAt;
  if (Math.abs(skew) <= windowMs) return undefined;
  const s = (ms: number) => `${Math.round(Math.abs(ms) / 100) / 10} s`;
  return skew > 0 ? `issued ${s(skew)} ago, outside the ${s(windowMs)} window` : `issued ${s(skew)} in the future, outside the ${s(windowMs)} window`;
}

// ---- replay memory -------------------------------------------------------------------------

export type ReplayVerdict = "new" | "replayed" | "forgotten";

/**
 * Signed calls seen within the window, keyed by their signature (Ed25519 is deterministic and
 * the verifier refuses non-canonical signatures, so one signed call has exactly one signature:
 * a resent copy has the same). Bounded: beyond `max` the oldest go, and a call issued no later
 * than one forgotten while still in its window is refused as `forgotten`, so a full memory fails
 * closed instead of letting a replay through.
 */
export class ReplayMemory {
  private readonly seen = new Map<string, number>();
  private floor = -Infinity;

  constructor(private readonly max = 200_000) {}

  get size(): number {
    return this.seen.size;
  }

  /** Take a signature: `new` if not seen within the window (it is remembered from now on). */
  claim(signature: Uint8Array, issuedAt: number, now: number, windowMs: number): ReplayVerdict {
    const key = replayKey(signature);
    if (this.seen.has(key)) return "replayed";
    if (issuedAt <= this.floor) return "forgotten";
    this.seen.set(key, issuedAt);
    // Insertion order is close to issued-at order: drop from the front what is out of the window.
    for (const [k, at] of this.seen) {
      const expired = at < now - windowMs;
      if (!expired && this.seen.size <= this.max) break;
      if (!expired) this.floor = Math.max(this.floor, at);
      this.seen.delete(k);
    }
    return "new";
  }

  /** Forget a signature claimed for a call that then failed verification. */
  release(signature: Uint8Array): void {
    this.seen.delete(replayKey(signature));
  }
}

/** The first 24 bytes (R's first 192 bits) as a short string: unique enough, cheap to hash. */
function replayKey(signature: Uint8Array): string {
  return String.fromCharCode(...signature.subarray(0, 24));
}
