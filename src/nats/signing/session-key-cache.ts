/**
 * The verifier's side of session keys: the key of each (signer, session) it meets, fetched once
 * from the signer over NATS and kept until the session expires. Calls that meet a session being
 * fetched wait for that one fetch; the memory is bounded (the oldest keys go first).
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { createCurve } from "@nats-io/nkeys";
import {
  ErrorCode,
  LatticeError,
  MAX_SESSION_LIFETIME_MS,
  SESSION_KEY_BYTES,
  SessionKeyReply,
  decode,
  encode,
  fromBase64Url,
  sessionAnswerMessage,
  sessionRequestMessage,
  toBase64Url,
  type Subjects,
} from "../../protocol/index.js";
import { VerifyingKeys, type SigningKey } from "./ed25519.js";
import { callMac, type CallMac } from "./hmac.js";
import { isNoResponders, isTimeout } from "../request-errors.js";

/** A session key as a verifier holds it. */
export interface SessionKey {
  mac: CallMac;
  /** Epoch milliseconds (the signer's word, capped): calls issued later are refused. */
  expiresAt: number;
}

export interface SessionKeyCacheOptions {
  /** Keys kept at most (default 4,096). */
  max?: number;
  /** Fetches under way at most; calls meeting yet another unknown session are refused (default 256). */
  maxPending?: number;
  now?: () => number;
}

/** A fetch waits no longer than this, whatever the call's deadline. */
const MAX_FETCH_MS = 5_000;
/** After "no responders", one more try this much later: a new session's subscription may still be crossing a cluster. */
const NO_RESPONDERS_RETRY_MS = 100;

export class SessionKeyCache {
  private readonly keys = new Map<string, SessionKey>();
  private readonly pending = new Map<string, Promise<SessionKey>>();
  private readonly verifying = new VerifyingKeys(1_024);
  private readonly now: () => number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    /** Who asks: signers give keys only to verifiers they trust. */
    private readonly identity: SigningKey,
    private readonly opts: SessionKeyCacheOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.keys.size;
  }

  /**
   * The key of `signer`'s session: at once when known, else fetched (waiting at most until
   * `deadline`). Rejects with an `unauthenticated` LatticeError saying why there is none.
   */
  key(signer: string, session: string, deadline: number): SessionKey | Promise<SessionKey> {
    const id = `${signer}.${session}`;
    const known = this.keys.get(id);
    if (known && known.expiresAt > this.now()) return known;
    if (known) this.keys.delete(id);
    let p = this.pending.get(id);
    if (!p) {
      if (this.pending.size >= (this.opts.maxPending ?? 256)) return Promise.reject(refused("too many session keys are being fetched at once"));
      p = this.fetch(signer, session, Math.min(deadline, Date.now() + MAX_FETCH_MS))
        .then((k) => this.remember(id, k))
        .finally(() => this.pending.delete(id));
      this.pending.set(id, p);
    }
    return within(p, deadline);
  }

  private remember(id: string, k: SessionKey): SessionKey {
    this.keys.set(id, k);
    if (this.keys.size > (this.opts.max ?? 4_096)) this.keys.delete(this.keys.keys().next().value!);
    return k;
  }

  private async fetch(signer: string, session: string, deadline: number): Promise<SessionKey> {
    const lattice = this.subjects.lattice;
    const curve = createCurve();
    const req = { verifier: this.identity.publicKey, curve: curve.getPublicKey(), nonce: toBase64Url(crypto.getRandomValues(new Uint8Array(24))) };
    const signature = toBase64Url(await this.identity.sign(sessionRequestMessage(lattice, signer, session, req)));
    const msg = await this.request(this.subjects.sessionKey(signer, session), encode({ ...req, signature }), deadline, `${signer}'s session ${session}`);
    const reply = decode(SessionKeyReply, msg.data, "session key answer");
    if (!reply.ok) throw refused(`${signer} did not give the key of session ${session}: ${reply.error.code}: ${reply.error.message}`);
    const a = reply.data;
    const answerSignature = fromBase64Url(a.signature);
    if (a.session !== session || !answerSignature || !(await this.verifying.verify(signer, sessionAnswerMessage(lattice, signer, req, a), answerSignature))) {
      throw refused(`the answer for session ${session} is not signed by ${signer}`);
    }
    let key: Uint8Array | null = null;
    try {
      key = curve.open(fromBase64Url(a.sealed) ?? new Uint8Array(), a.sealer);
    } catch {
      key = null;
    }
    if (key?.length !== SESSION_KEY_BYTES) throw refused(`the key of session ${session} does not open`);
    const expiresAt = Math.min(a.expiresAt, this.now() + MAX_SESSION_LIFETIME_MS);
    if (expiresAt <= this.now()) throw refused(`${signer}'s session ${session} has expired`);
    return { mac: callMac(key), expiresAt };
  }

  private async request(subject: string, body: Uint8Array, deadline: number, what: string): Promise<Msg> {
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw refused(`no key for ${what} before the call's deadline`);
      try {
        return await this.nc.request(subject, body, { timeout: left });
      } catch (e) {
        if (isNoResponders(e) && attempt === 1 && left > 2 * NO_RESPONDERS_RETRY_MS) {
          await new Promise((r) => setTimeout(r, NO_RESPONDERS_RETRY_MS));
          continue;
        }
        if (isNoResponders(e)) throw refused(`nobody serves ${what} (unknown or expired)`);
        throw refused(isTimeout(e) ? `no answer for the key of ${what}` : `could not ask for the key of ${what}: ${String(e)}`);
      }
    }
  }
}

/** A shared fetch, as one call waits for it: no longer than that call's deadline. */
function within<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(refused("no session key before the call's deadline")), Math.min(MAX_FETCH_MS, Math.max(0, deadline - Date.now())));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function refused(message: string): LatticeError {
  return new LatticeError(ErrorCode.Unauthenticated, message);
}
