/**
 * The signer's side of session keys: a random HMAC key per session, a new session every
 * `rotateMs`, each served to trusted verifiers on its own subject until it expires (see
 * protocol/session-keys.ts). Calls made before a rotation keep verifying while their session lives.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { createCurve, type KeyPair } from "@nats-io/nkeys";
import {
  ErrorCode,
  LatticeError,
  SESSION_KEY_BYTES,
  SessionKeyRequest,
  decode,
  encode,
  fromBase64Url,
  isLatticeError,
  sessionAnswerMessage,
  sessionRequestMessage,
  toBase64Url,
  sessionFields, messageOf,
  type SessionFields,
  type SessionKeyAnswer,
  type Subjects,
} from "../../protocol/index.js";
import { VerifyingKeys, type SigningKey } from "./ed25519.js";
import { callMac, type CallMac } from "./hmac.js";

export const DEFAULT_ROTATE_MS = 10 * 60_000;

export interface SessionOptions {
  /** A new session this often (default 10 minutes). */
  rotateMs?: number;
  /** How long a session is served and its calls accepted, from its start (default 2 × rotateMs). */
  lifetimeMs?: number;
  /** Told about refused key requests (an untrusted verifier, a bad signature). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
  now?: () => number;
}

/** The session a call is signed with. */
export interface Session {
  id: string;
  mac: CallMac;
  expiresAt: number;
  /** Signer and session id, MessagePack-encoded once. */
  fields: SessionFields;
}

interface LiveSession extends Session {
  key: Uint8Array;
  sub: Subscription;
}

export class SigningSessions {
  /** Served key requests and refused ones. */
  readonly stats = { served: 0, refused: 0 };
  /** Oldest first; the last one signs. */
  private live: LiveSession[] = [];
  private starting?: Promise<void>;
  private timer?: ReturnType<typeof setInterval>;
  private sealer?: KeyPair;
  private stopped = false;
  private readonly verifying = new VerifyingKeys(1_024);
  private readonly rotateMs: number;
  private readonly lifetimeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly key: SigningKey,
    /** Whom to give keys: the same rule verifiers apply to signers (live hosts, trusted keys). */
    private readonly trusted: (publicKey: string) => boolean,
    private readonly opts: SessionOptions = {},
  ) {
    this.rotateMs = opts.rotateMs ?? DEFAULT_ROTATE_MS;
    this.lifetimeMs = opts.lifetimeMs ?? 2 * this.rotateMs;
    if (this.lifetimeMs <= this.rotateMs) throw new LatticeError(ErrorCode.BadRequest, "a session must live longer than the rotation interval");
    this.now = opts.now ?? Date.now;
  }

  /**
   * The session to sign with, or undefined: callers then sign with Ed25519. The first call starts
   * the sessions, and until the first one's subject is known to the server (one round trip), there is none.
   */
  current(): Session | undefined {
    this.starting ??= this.rotate().then(
      () => {
        if (this.stopped) return;
        this.timer = setInterval(() => void this.rotate().catch(() => undefined), this.rotateMs);
        (this.timer as { unref?: () => void }).unref?.();
      },
      () => (this.starting = undefined), // NATS away: try again on a later call
    );
    // Past its expiry (rotations failing while NATS was away), per-call Ed25519 until a new one.
    const s = this.live.at(-1);
    return s && s.expiresAt > this.now() ? s : undefined;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const s of this.live) s.sub.unsubscribe();
    this.live = [];
  }

  /** Start a session, serve its key, sign with it once the server has the subscription; drop expired ones. */
  private async rotate(): Promise<void> {
    const key = crypto.getRandomValues(new Uint8Array(SESSION_KEY_BYTES));
    const id = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
    const session: LiveSession = {
      id,
      key,
      mac: callMac(key),
      expiresAt: this.now() + this.lifetimeMs,
      fields: sessionFields(this.key.publicKey, id),
      sub: this.nc.subscribe(this.subjects.sessionKey(this.key.publicKey, id), {
        callback: (err, msg) => {
          if (!err) void this.answer(msg, session);
        },
      }),
    };
    // Nobody can ask for a session before the server knows who serves it.
    await this.nc.flush();
    if (this.stopped) return session.sub.unsubscribe();
    this.live.push(session);
    const now = this.now();
    this.live = this.live.filter((s) => {
      const keep = s === session || s.expiresAt > now;
      if (!keep) s.sub.unsubscribe();
      return keep;
    });
  }

  private async answer(msg: Msg, s: LiveSession): Promise<void> {
    if (!msg.reply) return;
    let reply: unknown;
    try {
      reply = { ok: true, data: await this.seal(msg.data, s) };
      this.stats.served++;
    } catch (e) {
      this.stats.refused++;
      const error = isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: messageOf(e) };
      this.opts.warn?.("session key request refused", { session: s.id, ...error });
      reply = { ok: false, error };
    }
    try {
      msg.respond(encode(reply));
    } catch {
      // The connection is closing: the verifier's request times out and it refuses the call.
    }
  }

  /** The answer to one request: only for a trusted verifier whose signature over its request verifies. */
  private async seal(data: Uint8Array, s: LiveSession): Promise<SessionKeyAnswer> {
    if (this.now() >= s.expiresAt) throw new LatticeError(ErrorCode.NotFound, `session ${s.id} has expired`);
    const req = decode(SessionKeyRequest, data, "session key request");
    if (!this.trusted(req.verifier)) throw new LatticeError(ErrorCode.Forbidden, `${req.verifier} is neither a live host of the lattice nor a trusted key`);
    const lattice = this.subjects.lattice;
    const signature = fromBase64Url(req.signature);
    if (!signature || !(await this.verifying.verify(req.verifier, sessionRequestMessage(lattice, this.key.publicKey, s.id, req), signature))) {
      throw new LatticeError(ErrorCode.Unauthenticated, `the session key request's signature does not verify for ${req.verifier}`);
    }
    this.sealer ??= createCurve();
    let sealed: Uint8Array;
    try {
      sealed = this.sealer.seal(s.key, req.curve);
    } catch {
      throw new LatticeError(ErrorCode.BadRequest, "the request's curve key is not a valid xkey");
    }
    const answer = { session: s.id, expiresAt: s.expiresAt, sealer: this.sealer.getPublicKey(), sealed: toBase64Url(sealed) };
    return { ...answer, signature: toBase64Url(await this.key.sign(sessionAnswerMessage(lattice, this.key.publicKey, req, answer))) };
  }
}
