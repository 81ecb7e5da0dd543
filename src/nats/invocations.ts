/**
 * Both ends of an invocation over NATS: `invoke` (the caller: headers, deadline, error mapping)
 * and `InvocationServer` (a target's instances: one queue subscription each, decoded calls in,
 * encoded replies out). Actors, providers and the CLI all go through these two.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { CallLedger } from "./call-ledger.js";
import type { CallSigner, InvocationGuard } from "./call-signing.js";
import { isNoResponders, isTimeout } from "./request-errors.js";
import { RecentReplies } from "./recent-replies.js";
import { request } from "./request-mux.js";
import {
  DEFAULT_LINK_NAME,
  ErrorCode,
  LatticeError,
  decodeCall,
  decodeReply,
  encodeCall,
  encodeReply,
  encodeResult,
  isLatticeError,
  replyError,
  type CallEnvelope,
  type Subjects,
} from "../protocol/index.js";

export interface InvokeRequest {
  target: string;
  /** Exported interface (`acme:demo/echo`), or "" for a world-level function. */
  iface: string;
  fn: string;
  args: readonly unknown[];
  /** Who calls: an actor or provider id, a host id, `cli`. */
  source: string;
  /** Epoch milliseconds. */
  deadline: number;
  linkName?: string;
  /** The idempotency key: keep it when retrying the same logical call. */
  callId?: string;
  traceparent?: string;
  /** Send the call again after this long without an answer (same call id), while the deadline allows. */
  attemptTimeoutMs?: number;
  /** Sign the call (each attempt anew) with this key. */
  signer?: CallSigner;
}

export interface InvokeResult {
  value: unknown;
  /** The host or provider whose instance answered. */
  responder?: string;
}

/**
 * Call a target and wait for its answer. With `attemptTimeoutMs`, an attempt that gets no answer
 * in that time is sent again, with the same call id, while the deadline allows: a call taken by
 * an instance that died goes to another one. "No responders" fails at once: nobody runs the target.
 */
export async function invoke(nc: NatsConnection, subjects: Subjects, r: InvokeRequest): Promise<InvokeResult> {
  const subject = subjects.invocation(r.target, r.iface, r.fn);
  const call: CallEnvelope = {
    args: r.args,
    deadline: r.deadline,
    callId: r.callId ?? crypto.randomUUID(),
    source: r.source,
    ...(r.linkName && r.linkName !== DEFAULT_LINK_NAME ? { link: r.linkName } : {}),
    ...(r.traceparent ? { traceparent: r.traceparent } : {}),
  };
  const unsigned = r.signer ? undefined : encodeCall(call);
  let issuedAt = 0;
  let msg: Msg | undefined;
  for (let attempt = 1; !msg; attempt++) {
    let body = unsigned;
    // A retry is signed anew: a verifier refuses a second copy of a signature as a replay.
    // Not awaited when signed at once: an await here defers the publish past nats.js's flush,
    // and concurrent calls then go out one write each (measured: a third of the throughput).
    const signed = r.signer?.signCall(subject, call, issuedAt);
    if (signed) ({ body, issuedAt } = signed instanceof Promise ? await signed : signed);
    const left = r.deadline - Date.now();
    const timeout = Math.max(1, r.attemptTimeoutMs ? Math.min(left, r.attemptTimeoutMs) : left);
    try {
      msg = await outbox.request(nc, subject, body, timeout);
    } catch (e) {
      if (isNoResponders(e)) {
        throw new LatticeError(ErrorCode.NotFound, `no instance of ${r.target} is running in lattice ${subjects.lattice}`);
      }
      if (!isTimeout(e)) throw e;
      if (r.deadline - Date.now() < MIN_RETRY_MS) {
        throw new LatticeError(ErrorCode.Timeout, `${r.target} did not answer ${r.iface ? `${r.iface}.` : ""}${r.fn} before its deadline (${attempt} attempt${attempt === 1 ? "" : "s"})`);
      }
    }
  }
  const reply = decodeReply(msg.data);
  if (!reply.ok) throw replyError(reply.error);
  return { value: reply.value, responder: reply.by ?? undefined };
}

// Node's setImmediate runs after the turn's I/O; a browser (no setImmediate) gets a timer.
const later: (f: () => void) => unknown = globalThis.setImmediate ?? ((f: () => void) => setTimeout(f, 0));

/**
 * Messages held to the end of the event loop's turn, then sent together: nats.js writes its
 * outbound buffer to the socket once per microtask checkpoint, and callers that each react to an
 * event of their own (an HTTP request, a worker's answer) each end one, so each message left in
 * a socket write of its own. Held for `setImmediate`, those of one turn share a write (a
 * syscall, and a wake-up of the server, each). The delay is the rest of the turn.
 */
class Outbox {
  private held: Array<() => void> = [];

  private add(send: () => void): void {
    if (this.held.push(send) === 1) later(this.flush);
  }

  request(nc: NatsConnection, subject: string, body: Uint8Array | undefined, timeout: number): Promise<Msg> {
    return new Promise((resolve, reject) => this.add(() => request(nc, subject, body, timeout).then(resolve, reject)));
  }

  respond(msg: Msg, data: Uint8Array, onError: (e: unknown) => void): void {
    this.add(() => {
      try {
        msg.respond(data);
      } catch (e) {
        onError(e);
      }
    });
  }

  private readonly flush = (): void => {
    const held = this.held;
    this.held = [];
    for (const send of held) send();
  };
}

/** One per process: whatever is sent in a turn shares its writes. */
const outbox = new Outbox();

/** A retry with less time than this left would only add load. */
const MIN_RETRY_MS = 20;

/** One decoded call, as a target's handler sees it. */
export interface IncomingCall {
  iface: string;
  fn: string;
  args: unknown[];
  deadline: number;
  source: string;
  linkName: string;
  callId: string;
}

export type CallHandler = (call: IncomingCall) => Promise<unknown>;

/** Decides whether a call (that passed the signature guard) may run: the refusal, or undefined. */
export type InvocationPolicy = (subject: string, call: CallEnvelope) => LatticeError | undefined | Promise<LatticeError | undefined>;

export interface ServerOptions {
  /** Queue subscriptions to hold: calls are shared between servers in proportion. */
  instances: number;
  /** Put on every reply (`by`): who answered. */
  responder: string;
  defaultTimeoutMs: number;
  onError?: (message: string) => void;
  /** For a target whose calls are not idempotent: run each call id once, lattice-wide. */
  ledger?: CallLedger;
  /** Refuses unsigned, forged, stale and replayed calls when the lattice verifies invocations. */
  guard?: InvocationGuard;
  /** Asked after the guard; synchronous when it has the decision at hand (no await per call then). */
  policy?: InvocationPolicy;
}

/** Calls remembered for answering a retry without running them again. */
const REMEMBERED_CALLS = 10_000;

export class InvocationServer {
  private subs: Subscription[] = [];
  /**
   * Replies by call id, kept until the call's deadline: a retry of a call this server has taken
   * (the caller gave up waiting too early) gets the same reply, and the work is not done twice.
   */
  private readonly recent = new RecentReplies(REMEMBERED_CALLS);
  /** Calls taken and not yet answered, and who waits for them all to be. */
  private inflight = 0;
  private idle?: () => void;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    readonly target: string,
    private readonly handler: CallHandler,
    private readonly opts: ServerOptions,
  ) {
    this.resize(opts.instances);
  }

  /**
   * Hold `n` queue subscriptions. One given up is drained, not dropped: calls the server already
   * routed to it are still taken (an unsubscribe would lose those in flight).
   */
  resize(n: number): void {
    while (this.subs.length > n) void this.subs.pop()?.drain().catch(() => undefined);
    while (this.subs.length < n) {
      this.subs.push(
        this.nc.subscribe(this.subjects.invocationWildcard(this.target), {
          queue: this.subjects.invocationQueue(this.target),
          callback: (err, msg) => {
            if (!err) void this.serve(msg);
          },
        }),
      );
    }
  }

  stop(): void {
    this.resize(0);
  }

  /**
   * Stop taking calls and resolve once every call already taken is answered (or after
   * `timeoutMs`): what a replaced or stopped target does so that no call is dropped.
   */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all(this.subs.splice(0).map((s) => s.drain().catch(() => undefined)));
    if (this.inflight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async serve(msg: Msg): Promise<void> {
    if (!msg.reply) return;
    this.inflight++;
    try {
      await this.answer(msg);
    } finally {
      if (--this.inflight === 0) this.idle?.();
    }
  }

  private async answer(msg: Msg): Promise<void> {
    let call: CallEnvelope | undefined;
    let reply: Promise<Uint8Array>;
    try {
      call = decodeCall(msg.data);
    } catch (e) {
      reply = Promise.resolve(this.failure(e));
    }
    // Refused before the reply memory is asked: a replayed copy gets no reply but the refusal.
    // A retry is signed anew, so it passes and gets the remembered reply of the call it repeats.
    // Both answer synchronously when they can: no await (a microtask) per call then.
    const checking = call && this.opts.guard?.check(msg.subject, call, msg.data);
    let refused = checking instanceof Promise ? await checking : checking;
    const policing = !refused && call && this.opts.policy?.(msg.subject, call);
    if (policing) refused = policing instanceof Promise ? await policing : policing;
    if (refused) {
      reply = Promise.resolve(this.failure(refused));
    } else if (call) {
      let entry = call.callId ? this.recent.get(call.callId) : undefined;
      if (!entry) {
        entry = { reply: this.once(msg.subject, call), until: call.deadline };
        if (call.callId) this.recent.add(call.callId, entry);
      }
      reply = entry.reply;
    }
    outbox.respond(msg, await reply!, (e) => this.opts.onError?.(`could not answer a call to ${this.target}: ${String(e)}`));
  }

  /** Run the call, unless the ledger says another instance has taken it: then its reply. */
  private async once(subject: string, c: CallEnvelope): Promise<Uint8Array> {
    const ledger = this.opts.ledger;
    if (!ledger || !c.callId) return this.run(subject, c);
    try {
      const claim = await ledger.claim(c.callId, c.deadline);
      if (!claim.mine) return await claim.reply;
    } catch (e) {
      // Without the ledger a non-idempotent call must not run: it might run twice.
      return this.failure(isLatticeError(e) ? e : new LatticeError(ErrorCode.Unavailable, `the call ledger is unreachable: ${e instanceof Error ? e.message : String(e)}`));
    }
    const reply = await this.run(subject, c);
    await ledger.record(c.callId, reply).catch((e: unknown) => this.opts.onError?.(`could not record call ${c.callId}: ${String(e)}`));
    return reply;
  }

  private async run(subject: string, c: CallEnvelope): Promise<Uint8Array> {
    try {
      const call = this.subjects.parseInvocation(subject);
      if (!call) throw new LatticeError(ErrorCode.BadRequest, `not an invocation subject: ${subject}`);
      const value = await this.handler({
        iface: call.iface,
        fn: call.fn,
        args: [...c.args],
        deadline: c.deadline > 0 ? c.deadline : Date.now() + this.opts.defaultTimeoutMs,
        source: c.source || "unknown",
        linkName: c.link ?? DEFAULT_LINK_NAME,
        callId: c.callId,
      });
      return encodeResult(value, this.opts.responder);
    } catch (e) {
      return this.failure(e);
    }
  }

  private failure(e: unknown): Uint8Array {
    const error = isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: e instanceof Error ? e.message : String(e) };
    return encodeReply({ ok: false, error, by: this.opts.responder });
  }
}
