/**
 * Signing and verifying invocations. `CallSigner` signs each call with a session MAC once it
 * serves session keys (`serveSessions`: hosts and providers), else with Ed25519 (a short-lived
 * `lattice call`). `InvocationGuard` is the receiving side: an `InvocationServer` asks it about
 * every call, and it answers at once when the lattice does not verify invocations.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import {
  ErrorCode,
  LatticeError,
  MAC_BYTES,
  ReplayMemory,
  SIGNATURE_BYTES,
  encodeCall,
  encodeSessionCall,
  issuedAtProblem,
  placeSignature,
  signedLength,
  signedMessage, messageOf,
  type CallEnvelope,
  type InvocationSecurity,
  type Subjects,
} from "../../protocol/index.js";
import { SigningKey, VerifyingKeys } from "./ed25519.js";
import { sameBytes } from "./hmac.js";
import type { SessionKey, SessionKeyCache } from "./session-key-cache.js";
import { SigningSessions, type SessionOptions } from "./signing-sessions.js";

const EMPTY_SIGNATURE = new Uint8Array(SIGNATURE_BYTES);

/** At once when it can be (a session key known, node:crypto), else later. */
type Maybe<T> = T | Promise<T>;

export interface SignedCall {
  body: Uint8Array;
  issuedAt: number;
}

/** Signs calls with one nkey: per call with Ed25519, or with its session's MAC once it serves sessions. */
export class CallSigner {
  readonly publicKey: string;
  /** The Ed25519 key itself (session key requests and answers are signed with it). */
  readonly key: SigningKey;
  private sessions?: SigningSessions;

  constructor(seed: string) {
    this.key = new SigningKey(seed);
    this.publicKey = this.key.publicKey;
  }

  /**
   * Sign with session MACs from now on, giving the session keys to verifiers `trusted` allows.
   * Only for a signer that stays connected to answer key requests.
   */
  serveSessions(nc: NatsConnection, subjects: Subjects, trusted: (publicKey: string) => boolean, opts?: SessionOptions): SigningSessions {
    this.sessions?.stop();
    this.sessions = new SigningSessions(nc, subjects, this.key, trusted, opts);
    return this.sessions;
  }

  /** Stop serving session keys: verifiers that have not fetched a session's key by then cannot verify its calls. */
  stop(): void {
    this.sessions?.stop();
    this.sessions = undefined;
  }

  /**
   * The signed wire form of a call to `subject`. `after` (the issued-at of a previous attempt)
   * makes a retry's signature new, so it is not taken for a replay of the first attempt.
   */
  signCall(subject: string, call: CallEnvelope, after = 0): Maybe<SignedCall> {
    const issuedAt = Math.max(Date.now(), after + 1);
    const session = this.sessions?.current();
    let body: Uint8Array;
    let signature: Maybe<Uint8Array>;
    if (session) {
      body = encodeSessionCall(call, session.fields, issuedAt);
      signature = session.mac(subject, body.subarray(0, body.length - MAC_BYTES - 2));
    } else {
      body = encodeCall({ ...call, signature: { signer: this.publicKey, issuedAt, signature: EMPTY_SIGNATURE } });
      signature = this.key.sign(signedMessage(subject, body)!);
    }
    const done = (s: Uint8Array): SignedCall => {
      placeSignature(body, s);
      return { body, issuedAt };
    };
    // At once with node:crypto (see invoke for why that matters); WebCrypto answers later.
    return signature instanceof Promise ? signature.then(done) : done(signature);
  }
}

/** Why calls were refused, counted by the guard. */
export type RejectReason = "unsigned" | "untrusted" | "forged" | "stale" | "replayed" | "noSessionKey";

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
  /** Session-mode calls whose session key could not be had (unknown session, the signer refused, a forged answer). */
  noSessionKey: number;
}

export function emptyGuardStats(): GuardStats {
  return { verified: 0, rejected: 0, unsigned: 0, untrusted: 0, forged: 0, stale: 0, replayed: 0, noSessionKey: 0 };
}

export interface GuardOptions {
  /** The lattice's current setting (from the watched lattice state); none means no verification. */
  settings: () => InvocationSecurity | undefined;
  /** Signers trusted besides the setting's `trustedKeys`: the lattice's live hosts. */
  trusted: (publicKey: string) => boolean;
  /** Where session keys come from; without it, session-mode calls are refused (`noSessionKey`). */
  sessions?: SessionKeyCache;
  /** Told about refusals, throttled: at most one line per reason per second (`notLogged`: how many since). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
  now?: () => number;
  /** Bound of the replay memory (signatures). */
  maxRemembered?: number;
}

/** A call's own deadline bounds a key fetch, or this much when it has none. */
const DEFAULT_FETCH_MS = 5_000;

type Refusal = { reason: RejectReason; message: string } | undefined;

/**
 * Decides whether an instance may run a call: when the lattice verifies invocations, only calls
 * signed by a trusted key, over exactly what arrived, issued within the window, and not seen
 * before. One per host (or provider), shared by all its targets, so its counts are the host's.
 */
export class InvocationGuard {
  readonly stats: GuardStats = emptyGuardStats();
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

  /** The trust rule: the setting's trusted keys, and whom `trusted` allows (live hosts). Signers give session keys by it too. */
  trusts(publicKey: string): boolean {
    return this.opts.settings()?.trustedKeys.includes(publicKey) === true || this.opts.trusted(publicKey);
  }

  /**
   * The refusal, or undefined when the call may run: at once when the lattice does not verify,
   * and for a call whose session key is known (no promise on the hot path); else a promise of it.
   */
  check(subject: string, call: CallEnvelope, body: Uint8Array): Maybe<LatticeError | undefined> {
    const s = this.opts.settings();
    if (!s?.verify) return undefined;
    return this.verify(s, subject, call, body);
  }

  private verify(s: InvocationSecurity, subject: string, call: CallEnvelope, body: Uint8Array): Maybe<LatticeError | undefined> {
    const sig = call.signature;
    const covered = sig && signedLength(body, sig.signature.length);
    if (!sig || covered === undefined) return this.reject("unsigned", "the lattice requires signed invocations and this call is not signed", call);
    const now = this.now();
    const stale = issuedAtProblem(sig.issuedAt, now, s.windowMs);
    if (stale) return this.reject("stale", `the call's signature was ${stale}`, call);
    if (!this.trusts(sig.signer)) {
      return this.reject("untrusted", `the call is signed by ${sig.signer}, which is neither a live host of the lattice nor a trusted key`, call);
    }
    // Claimed before the (asynchronous) check, so two copies arriving together cannot both pass.
    const verdict = this.replays.claim(sig.signature, sig.issuedAt, now, s.windowMs);
    if (verdict === "replayed") return this.reject("replayed", `the call replays one already received (call id ${call.callId})`, call);
    if (verdict === "forgotten") return this.reject("stale", "the call is older than this instance's replay memory reaches: sign it again", call);
    const refusal = sig.session === undefined ? this.checkSignature(subject, body, sig.signer, sig.signature) : this.checkMac(subject, body.subarray(0, covered), call, sig.session);
    return refusal instanceof Promise ? refusal.then((r) => this.settle(r, call)) : this.settle(refusal, call);
  }

  private settle(refusal: Refusal, call: CallEnvelope): LatticeError | undefined {
    if (refusal) {
      this.replays.release(call.signature!.signature);
      return this.reject(refusal.reason, refusal.message, call);
    }
    this.stats.verified++;
    return undefined;
  }

  private async checkSignature(subject: string, body: Uint8Array, signer: string, signature: Uint8Array): Promise<Refusal> {
    if (await this.keys.verify(signer, signedMessage(subject, body)!, signature)) return undefined;
    return { reason: "forged", message: `the call's signature does not verify for ${signer}` };
  }

  private checkMac(subject: string, covered: Uint8Array, call: CallEnvelope, session: string): Maybe<Refusal> {
    const { signer, issuedAt, signature } = call.signature!;
    if (!this.opts.sessions) return { reason: "noSessionKey", message: "this instance has no key to ask for session keys with: it cannot verify session-signed calls" };
    const key = this.opts.sessions.key(signer, session, call.deadline > 0 ? call.deadline : this.now() + DEFAULT_FETCH_MS);
    const compare = (k: SessionKey): Maybe<Refusal> => {
      if (issuedAt > k.expiresAt) return { reason: "stale", message: `the call was signed with ${signer}'s session ${session} after it expired` };
      const mac = k.mac(subject, covered);
      const matches = (m: Uint8Array): Refusal => (sameBytes(m, signature) ? undefined : { reason: "forged", message: `the call's MAC does not verify for ${signer}'s session ${session}` });
      return mac instanceof Promise ? mac.then(matches) : matches(mac);
    };
    if (!(key instanceof Promise)) return compare(key);
    return key.then(compare, (e: unknown) => ({ reason: "noSessionKey" as const, message: `no key for the call's session: ${messageOf(e)}` }));
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
