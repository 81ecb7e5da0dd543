/**
 * Signed invocations: what a caller signs, where the signature sits in the call envelope, the
 * lattice setting that turns verification on, and the replay memory of a verifier. Pure: the
 * cryptography is done in nats/signing/ (call-signing.ts, ed25519.ts, hmac.ts).
 *
 * Two modes, told apart by the envelope's length:
 * - Ed25519, per call: `[args, deadline, callId, source, link, traceparent, signer, issuedAt,
 *   signature]`, `signature` a bin 8 of 64 bytes, so the body's final 66 bytes.
 * - session: `[…, signer, issuedAt, session, mac]`, `mac` an HMAC-SHA256 (bin 8 of 32 bytes, the
 *   final 34) with the signer's session key, which a verifier fetches once per session from the
 *   signer (protocol/session-keys.ts): a MAC costs microseconds, an Ed25519 verification more than
 *   a whole call.
 * Either way the signed message is the invocation subject (UTF-8), one zero byte, then every body
 * byte before the signature's tail: target, interface and function (the subject) and all of the
 * envelope (arguments, deadline, call id, source, link, trace context, signer, issued-at, session)
 * exactly as sent. Signing the received bytes needs no canonical re-encoding, and a deadline or
 * source cannot be changed in flight. (Ed25519 hashes its message itself: no digest of our own.)
 */
import { Type, type Static } from "@sinclair/typebox";
import { ErrorCode, LatticeError } from "./errors.js";
import { SIGNER_KEY_PATTERN, isSignerKey } from "./names.js";

/** An Ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** A session-mode call's HMAC-SHA256, untruncated. */
export const MAC_BYTES = 32;
/** A session id: random, one subject token (it names the subject its key is fetched on). */
export const SESSION_ID_PATTERN = "^[A-Za-z0-9_-]{16,43}$";
const sessionId = new RegExp(SESSION_ID_PATTERN);

export function isSessionId(id: string): boolean {
  return sessionId.test(id);
}

/** Who may sign: pattern and check in names.ts, which the CLI loads without the schemas. */
export { SIGNER_KEY_PATTERN, isSignerKey };

/** The signature fields of a call envelope. */
export interface CallSignature {
  /** The signer's nkey public key. */
  signer: string;
  /** Epoch milliseconds when the caller signed (each attempt of a retried call is signed anew). */
  issuedAt: number;
  /** Session mode: the id of the signer's session whose key made `signature`, an HMAC. */
  session?: string;
  /** Ed25519 (64 bytes) or, with `session`, HMAC-SHA256 (32 bytes); zeros while the body is being built. */
  signature: Uint8Array;
}

/**
 * How many leading body bytes a signature of `signatureBytes` covers (the subject comes before
 * them), or undefined if the body does not end with a bin 8 of that length.
 */
export function signedLength(body: Uint8Array, signatureBytes: number = SIGNATURE_BYTES): number | undefined {
  const n = body.length - signatureBytes - 2;
  if (n < 1 || body[n] !== 0xc4 || body[n + 1] !== signatureBytes) return undefined;
  return n;
}

/** The bytes a signed call's signature covers, or undefined if the body does not end with one. */
export function signedMessage(subject: string, body: Uint8Array, signatureBytes: number = SIGNATURE_BYTES): Uint8Array | undefined {
  const n = signedLength(body, signatureBytes);
  if (n === undefined) return undefined;
  const s = utf8.encode(subject);
  const out = new Uint8Array(s.length + 1 + n);
  out.set(s);
  out.set(body.subarray(0, n), s.length + 1);
  return out;
}

/** Write a signature (or MAC) into the placeholder of its length at the end of a signed call's body. */
export function placeSignature(body: Uint8Array, signature: Uint8Array): void {
  if (signedLength(body, signature.length) === undefined) throw new LatticeError(ErrorCode.Internal, `the body does not end with a ${signature.length}-byte placeholder`);
  body.set(signature, body.length - signature.length);
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
 * Signed calls seen within the window, keyed by their signature or MAC (Ed25519 and HMAC are
 * deterministic and the verifier refuses non-canonical signatures, so one signed call has exactly
 * one signature: a resent copy has the same). Bounded: beyond `max` the oldest go, and a call issued no later
 * than one forgotten while still in its window is refused as `forgotten`, so a full memory fails
 * closed instead of letting a replay through.
 */
export class ReplayMemory {
  private readonly seen = new Map<number, number>();
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

/**
 * The first 6 bytes (of R, or of a MAC: uniformly random either way) as a number: no string to
 * allocate per call. Two different calls share a key with odds of about one in 2^48 / 200,000
 * (1.4e9), and then the second is refused as a replay: a rare failed call, never a replay let
 * through.
 */
function replayKey(s: Uint8Array): number {
  return ((s[0]! * 256 + s[1]!) * 256 + s[2]!) * 2 ** 24 + ((s[3]! << 16) | (s[4]! << 8) | s[5]!);
}
