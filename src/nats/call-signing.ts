/**
 * Signing and verifying invocations with nkeys (Ed25519) at native speed: node:crypto where it
 * exists, WebCrypto (`crypto.subtle`) elsewhere (a browser). tweetnacl, which @nats-io/nkeys signs
 * with, takes milliseconds per signature on the bench machine; OpenSSL tens of microseconds (see
 * docs/benchmarks.md). nkeys still decodes and checks the keys.
 *
 * `InvocationGuard` is the receiving side: an `InvocationServer` asks it about every call, and
 * it answers at once when the lattice does not verify invocations.
 */
import type * as NodeCrypto from "node:crypto";
import { fromPublic, fromSeed } from "@nats-io/nkeys";
import {
  ErrorCode,
  LatticeError,
  ReplayMemory,
  SIGNATURE_BYTES,
  encodeCall,
  isSignerKey,
  issuedAtProblem,
  placeSignature,
  signedMessage,
  type CallEnvelope,
  type InvocationSecurity,
} from "../protocol/index.js";

type Sign = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;
type Verify = (message: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;

/** An Ed25519 implementation: keys from their raw 32 bytes. */
interface Ed25519 {
  readonly name: string;
  signer(seed: Uint8Array): Sign;
  verifier(publicKey: Uint8Array): Verify;
}

/** PKCS #8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): neither API imports raw private keys. */
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
/** SPKI wrapping of a raw 32-byte Ed25519 public key. */
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function wrap(prefix: Uint8Array, raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefix.length + raw.length);
  out.set(prefix);
  out.set(raw, prefix.length);
  return out;
}

/** WebCrypto: everywhere (browsers, Node, Deno), asynchronous. */
const webCrypto: Ed25519 = {
  name: "webcrypto",
  signer(seed) {
    const key = crypto.subtle.importKey("pkcs8", wrap(PKCS8_PREFIX, seed), "Ed25519", false, ["sign"]);
    return async (m) => new Uint8Array(await crypto.subtle.sign("Ed25519", await key, buffer(m)));
  },
  verifier(publicKey) {
    const key = crypto.subtle.importKey("raw", buffer(publicKey), "Ed25519", false, ["verify"]);
    return async (m, sig) => crypto.subtle.verify("Ed25519", await key, buffer(sig), buffer(m));
  },
};

/**
 * node:crypto, synchronous: the same OpenSSL code without WebCrypto's promise and thread-pool
 * hop per operation (measured: docs/benchmarks.md). Reached through process.getBuiltinModule so
 * this module imports nothing Node-only and still bundles for a browser.
 */
function nodeCrypto(): Ed25519 | undefined {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  const c = get?.("node:crypto") as typeof NodeCrypto | undefined;
  if (!c) return undefined;
  return {
    name: "node:crypto",
    signer(seed) {
      const key = c.createPrivateKey({ key: Buffer.from(wrap(PKCS8_PREFIX, seed)), format: "der", type: "pkcs8" });
      return (m) => c.sign(null, m, key);
    },
    verifier(publicKey) {
      const key = c.createPublicKey({ key: Buffer.from(wrap(SPKI_PREFIX, publicKey)), format: "der", type: "spki" });
      return (m, sig) => c.verify(null, m, key, sig);
    },
  };
}

const ed25519: Ed25519 = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LATTICE_ED25519 === "webcrypto" ? webCrypto : (nodeCrypto() ?? webCrypto);

/** Signs calls with one nkey. The seed stays in this object (as a key object, not extractable by WebCrypto). */
export class CallSigner {
  readonly publicKey: string;
  private readonly sign: Sign;

  constructor(seed: string) {
    let raw: Uint8Array;
    try {
      const text = seed.trim();
      this.publicKey = fromSeed(new TextEncoder().encode(text)).getPublicKey();
      raw = base32Decode(text).subarray(2, 34); // 2 prefix bytes, the seed, 2 checksum bytes
    } catch {
      throw new Error("the signing seed is not an nkey seed (S…)");
    }
    if (!isSignerKey(this.publicKey)) throw new Error("the signing seed must be a server, user, account, operator or cluster nkey seed");
    this.sign = ed25519.signer(raw);
  }

  /**
   * The signed wire form of a call to `subject`. `after` (the issued-at of a previous attempt)
   * makes a retry's signature new, so it is not taken for a replay of the first attempt.
   */
  async signCall(subject: string, call: CallEnvelope, after = 0): Promise<{ body: Uint8Array; issuedAt: number }> {
    const issuedAt = Math.max(Date.now(), after + 1);
    const body = encodeCall({ ...call, signature: { signer: this.publicKey, issuedAt, signature: new Uint8Array(SIGNATURE_BYTES) } });
    const message = signedMessage(subject, body);
    if (!message) throw new Error("a signed call must end with its signature");
    placeSignature(body, await this.sign(message));
    return { body, issuedAt };
  }
}

/** Verifiers by public key, made once each. */
class VerifyingKeys {
  private readonly keys = new Map<string, Verify>();

  constructor(private readonly max = 4_096) {}

  get(publicKey: string): Verify {
    let key = this.keys.get(publicKey);
    if (!key) {
      key = ed25519.verifier(rawPublicKey(publicKey));
      if (this.keys.size >= this.max) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(publicKey, key);
    }
    return key;
  }
}

/** The 32 Ed25519 bytes of an nkey public key (nkeys checks prefix and checksum first). */
function rawPublicKey(key: string): Uint8Array {
  fromPublic(key);
  const bytes = base32Decode(key);
  return bytes.subarray(1, 33);
}

/** NATS messages and our buffers are never shared memory: WebCrypto's types just cannot know. */
function buffer(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}

function base32Decode(s: string): Uint8Array {
  const out = new Uint8Array(Math.floor((s.length * 5) / 8));
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (const ch of s) {
    const v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".indexOf(ch);
    if (v < 0) throw new Error("not base32");
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** Why calls were refused, counted by the guard. */
export type RejectReason = "unsigned" | "untrusted" | "forged" | "stale" | "replayed";

export interface GuardStats {
  /** Signed calls accepted. */
  verified: number;
  /** Calls refused, by reason; `rejected` is their sum. */
  rejected: number;
  unsigned: number;
  untrusted: number;
  forged: number;
  stale: number;
  replayed: number;
}

export interface GuardOptions {
  /** The lattice's current setting (from the watched lattice state); none means no verification. */
  settings: () => InvocationSecurity | undefined;
  /** Signers trusted besides the setting's `trustedKeys`: the lattice's live hosts. */
  trusted: (publicKey: string) => boolean;
  /** Told about refusals, throttled: at most one line per reason per second (`notLogged`: how many since). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
  now?: () => number;
  /** Bound of the replay memory (signatures). */
  maxRemembered?: number;
}

/**
 * Decides whether an instance may run a call: when the lattice verifies invocations, only calls
 * signed by a trusted key, over exactly what arrived, issued within the window, and not seen
 * before. One per host (or provider), shared by all its targets, so its counts are the host's.
 */
export class InvocationGuard {
  readonly stats: GuardStats = { verified: 0, rejected: 0, unsigned: 0, untrusted: 0, forged: 0, stale: 0, replayed: 0 };
  private readonly keys = new VerifyingKeys();
  private readonly replays: ReplayMemory;
  private readonly now: () => number;
  private readonly lastWarned = new Map<RejectReason, { at: number; count: number }>();

  constructor(private readonly opts: GuardOptions) {
    this.replays = new ReplayMemory(opts.maxRemembered);
    this.now = opts.now ?? Date.now;
  }

  /** Whether the lattice verifies invocations now: callers sign exactly then. */
  get verifying(): boolean {
    return this.opts.settings()?.verify === true;
  }

  /**
   * Undefined when the lattice does not verify (no work, no promise); else resolves with the
   * refusal, or undefined when the call may run.
   */
  check(subject: string, call: CallEnvelope, body: Uint8Array): Promise<LatticeError | undefined> | undefined {
    const s = this.opts.settings();
    if (!s?.verify) return undefined;
    return this.verify(s, subject, call, body);
  }

  private async verify(s: InvocationSecurity, subject: string, call: CallEnvelope, body: Uint8Array): Promise<LatticeError | undefined> {
    const sig = call.signature;
    const message = sig && signedMessage(subject, body);
    if (!sig || !message) return this.reject("unsigned", "the lattice requires signed invocations and this call is not signed", call);
    const now = this.now();
    const stale = issuedAtProblem(sig.issuedAt, now, s.windowMs);
    if (stale) return this.reject("stale", `the call's signature was ${stale}`, call);
    if (!s.trustedKeys.includes(sig.signer) && !this.opts.trusted(sig.signer)) {
      return this.reject("untrusted", `the call is signed by ${sig.signer}, which is neither a live host of the lattice nor a trusted key`, call);
    }
    // Claimed before the (asynchronous) check, so two copies arriving together cannot both pass.
    const verdict = this.replays.claim(sig.signature, sig.issuedAt, now, s.windowMs);
    if (verdict === "replayed") return this.reject("replayed", `the call replays one already received (call id ${call.callId})`, call);
    if (verdict === "forgotten") return this.reject("stale", "the call is older than this instance's replay memory reaches: sign it again", call);
    let ok = false;
    try {
      ok = await this.keys.get(sig.signer)(message, sig.signature);
    } catch {
      ok = false;
    }
    if (!ok) {
      this.replays.release(sig.signature);
      return this.reject("forged", `the call's signature does not verify for ${sig.signer}`, call);
    }
    this.stats.verified++;
    return undefined;
  }

  private reject(reason: RejectReason, message: string, call: CallEnvelope): LatticeError {
    this.stats[reason]++;
    this.stats.rejected++;
    const now = this.now();
    const last = this.lastWarned.get(reason);
    if (!last || now - last.at >= 1_000) {
      this.opts.warn?.(`invocation refused: ${reason}`, { reason, source: call.source, callId: call.callId, signer: call.signature?.signer, notLogged: last?.count ?? 0 });
      this.lastWarned.set(reason, { at: now, count: 0 });
    } else {
      last.count++;
    }
    return new LatticeError(reason === "untrusted" ? ErrorCode.Forbidden : ErrorCode.Unauthenticated, message);
  }
}
