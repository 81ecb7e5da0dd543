/**
 * The target's end of an invocation over NATS: `InvocationServer`, serving a target's instances
 * on one process (a host's instances of an actor, a provider): one queue subscription per
 * instance on the target's subjects, plus its own address (the direct subject callers pick it
 * by) and an answer on the target's members subject; decoded calls in, encoded replies out.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { CallLedger } from "./call-ledger.js";
import { CallMetrics } from "./call-metrics.js";
import type { SpyTap } from "./spy.js";
import type { InvocationGuard } from "./signing/call-signing.js";
import { outbox } from "./outbox.js";
import { PAUSE_MS, pauses } from "./pause-detector.js";
import { RecentReplies } from "./recent-replies.js";
import { endSpan, startServerSpan, tracingOn } from "./tracing.js";
import { base32Encode } from "../protocol/base32.js";
import { sameValue } from "../protocol/same-value.js";
import { DEFAULT_LINK_NAME, ErrorCode, LatticeError, decodeCall, encode, encodeReply, encodeResult, isLatticeError, messageOf, type CallEnvelope, type InvocationAddress, type Subjects } from "../protocol/index.js";
import type { TargetMetrics } from "../protocol/metrics.js";

/** One decoded call, as a target's handler sees it. */
export interface IncomingCall {
  iface: string;
  fn: string;
  args: unknown[];
  deadline: number;
  source: string;
  linkName: string;
  callId: string;
  /** The caller's W3C trace context, if it sent one. */
  traceparent?: string;
}

export type CallHandler = (call: IncomingCall) => Promise<unknown>;

/** Decides whether a call (that passed the signature guard) to `to` may run: the refusal, or undefined. */
export type InvocationPolicy = (to: InvocationAddress, call: CallEnvelope) => LatticeError | undefined | Promise<LatticeError | undefined>;

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
  /** Publishes a record per call while someone spies on the target (`lattice spy`). */
  spy?: SpyTap;
  /** The host this server runs on, named on its trace spans; default `responder` (a host's actors). */
  host?: string;
}

/** Calls remembered for answering a retry without running them again. */
const REMEMBERED_CALLS = 10_000;

/** A member's address: 60 random bits as 12 lower-case base-32 letters (MEMBER_TOKEN). */
function memberAddress(): string {
  return base32Encode(crypto.getRandomValues(new Uint8Array(8))).slice(0, 12).toLowerCase();
}

export class InvocationServer {
  /** This server's address: callers that have heard of it may send it calls directly. */
  readonly at = memberAddress();
  private subs: Subscription[] = [];
  /** The direct subscription and the members-question one, held while any queue subscription is. */
  private own: Subscription[] = [];
  /**
   * Replies by call id, kept until the call's deadline: a retry of a call this server has taken
   * (the caller gave up waiting too early) gets the same reply, and the work is not done twice.
   */
  private readonly recent = new RecentReplies(REMEMBERED_CALLS);
  /** Calls refused without running: they came after their deadline, or while this process was paused. */
  readonly stats = { expired: 0, stale: 0 };
  /** Calls, errors by code, latency, retries: what inventories report (`lattice get metrics`). */
  private readonly metrics = new CallMetrics();
  /** Set after a pause until the server answers a flush: the calls read until then queued while paused. */
  private afterPause?: Promise<void>;
  private readonly offWake = pauses.onWake((ms) => this.subs.length > 0 && this.paused(ms));
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
    if (n === 0) for (const s of this.own.splice(0)) void s.drain().catch(() => undefined);
    if (n > 0 && this.own.length === 0) {
      this.own.push(
        this.nc.subscribe(this.subjects.invocationDirectWildcard(this.target, this.at), {
          callback: (err, msg) => {
            if (!err) void this.serve(msg);
          },
        }),
        this.nc.subscribe(this.subjects.invocationMembers(this.target), {
          callback: (err, msg) => {
            if (!err && msg.reply) outbox.respond(msg, encode({ at: this.at, by: this.opts.responder, server: this.nc.info?.server_id, cluster: this.nc.info?.cluster }), () => undefined);
          },
        }),
      );
    }
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
    this.offWake();
  }

  /**
   * Stop taking calls and resolve once every call already taken is answered (or after
   * `timeoutMs`): what a replaced or stopped target does so that no call is dropped.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.offWake();
    await Promise.all([...this.subs.splice(0), ...this.own.splice(0)].map((s) => s.drain().catch(() => undefined)));
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
    const began = this.metrics.began();
    let sent: Uint8Array | undefined;
    try {
      sent = await this.answer(msg);
    } finally {
      this.metrics.ended(began);
      if (this.opts.spy?.on) this.opts.spy.served(this.target, msg, sent, began);
      if (--this.inflight === 0) this.idle?.();
    }
  }

  /** This target's call metrics here, as inventories carry them. */
  metricsSnapshot(): TargetMetrics {
    return this.metrics.snapshot(this.subs.length, this.stats.expired + this.stats.stale);
  }

  /** Answers the call; resolves with the reply sent. */
  private async answer(msg: Msg): Promise<Uint8Array> {
    let call: CallEnvelope | undefined;
    let reply: Promise<Uint8Array>;
    // Parsed here, once: the policy, the reply memory and the handler get it so.
    const to = this.subjects.parseInvocation(msg.subject);
    try {
      call = decodeCall(msg.data);
    } catch (e) {
      reply = Promise.resolve(this.failure(e));
    }
    const late = call && this.lateness(call);
    if (late) {
      const refusal = this.failure(late);
      outbox.respond(msg, refusal, () => undefined);
      return refusal;
    }
    // Refused before the reply memory is asked: a replayed copy gets no reply but the refusal.
    // A retry is signed anew, so it passes and gets the remembered reply of the call it repeats.
    // Both answer synchronously when they can: no await (a microtask) per call then.
    // The guard checks the subject as it arrived: the signature covers its bytes.
    const checking = call && this.opts.guard?.check(msg.subject, call, msg.data);
    let refused = checking instanceof Promise ? await checking : checking;
    if (call && !refused && !to) refused = new LatticeError(ErrorCode.BadRequest, `not an invocation subject: ${msg.subject}`);
    const policing = call && to && !refused && this.opts.policy?.(to, call);
    if (policing) refused = policing instanceof Promise ? await policing : policing;
    if (refused) {
      reply = Promise.resolve(this.failure(refused));
    } else if (call && to) {
      // Compared without the route: a retry may come through the group or straight to this member.
      const what = `${to.iface}.${to.fn} ${call.source}`;
      let entry = this.recent.get(call.callId);
      if (entry && (entry.call !== what || !sameValue(entry.args, call.args))) {
        reply = Promise.resolve(this.failure(new LatticeError(ErrorCode.BadRequest, `call id ${call.callId} was used for another call (another function, caller or arguments): an idempotency key names one call`)));
      } else {
        if (!entry) {
          entry = { reply: this.once(to, call), until: call.deadline, call: what, args: call.args };
          this.recent.add(call.callId, entry);
        } else this.metrics.retried();
        reply = entry.reply;
      }
    }
    const out = await reply!;
    outbox.respond(msg, out, (e) => this.opts.onError?.(`could not answer a call to ${this.target}: ${String(e)}`));
    return out;
  }

  /**
   * Why a call must not run, if it must not: its deadline passed before it was read (its caller
   * has given up, or sent it elsewhere), or it was sent while this process was paused. After a
   * pause, everything read until the server answers a flush queued while the process was
   * stopped (the server sends in order): none of it runs.
   */
  private lateness(call: CallEnvelope): LatticeError | undefined {
    if (pauses.sinceLastTick() >= PAUSE_MS) this.paused(pauses.sinceLastTick());
    if (this.afterPause) {
      this.stats.stale++;
      return new LatticeError(ErrorCode.Unavailable, `${this.opts.responder} was paused when ${this.target}'s call ${call.callId} reached it; it was not run`);
    }
    if (call.deadline > 0 && call.deadline < Date.now()) {
      this.stats.expired++;
      return new LatticeError(ErrorCode.Timeout, `${this.target}'s call ${call.callId} reached ${this.opts.responder} after its deadline; it was not run`);
    }
    return undefined;
  }

  /** Back from a pause: refuse what was read until the server answers a flush (what queued meanwhile). */
  private paused(ms: number): void {
    if (this.afterPause) return;
    this.opts.onError?.(`${this.opts.responder} was paused for ${(ms / 1000).toFixed(1)} s: the calls to ${this.target} sent meanwhile are not run`);
    this.afterPause = this.nc
      .flush()
      .catch(() => undefined)
      .finally(() => (this.afterPause = undefined));
  }

  /** Run the call, unless the ledger says another instance has taken it: then its reply. */
  private async once(to: InvocationAddress, c: CallEnvelope): Promise<Uint8Array> {
    const ledger = this.opts.ledger;
    if (!ledger || !c.callId) return this.run(to, c);
    try {
      const claim = await ledger.claim(c.callId, c.deadline);
      if (!claim.mine) return await claim.reply;
    } catch (e) {
      // Without the ledger a non-idempotent call must not run: it might run twice.
      return this.failure(isLatticeError(e) ? e : new LatticeError(ErrorCode.Unavailable, `the call ledger is unreachable: ${messageOf(e)}`, { cause: e }));
    }
    const reply = await this.run(to, c);
    await ledger.record(c.callId, reply).catch((e: unknown) => this.opts.onError?.(`could not record call ${c.callId}: ${String(e)}`));
    return reply;
  }

  private async run(to: InvocationAddress, c: CallEnvelope): Promise<Uint8Array> {
    // Traced: the handler gets the server span's context, so the calls made for this one are its children.
    const span = tracingOn() ? startServerSpan(to, c, this.opts.host ?? this.opts.responder, this.opts.responder) : undefined;
    const traceparent = span ? span.traceparent : c.traceparent;
    try {
      const value = await this.handler({
        iface: to.iface,
        fn: to.fn,
        args: [...c.args],
        deadline: c.deadline > 0 ? c.deadline : Date.now() + this.opts.defaultTimeoutMs,
        source: c.source || "unknown",
        linkName: c.link ?? DEFAULT_LINK_NAME,
        callId: c.callId,
        ...(traceparent ? { traceparent } : {}),
      });
      if (span) endSpan(span);
      return encodeResult(value, this.opts.responder, this.at);
    } catch (e) {
      if (span) endSpan(span, e);
      return this.failure(e);
    }
  }

  private failure(e: unknown): Uint8Array {
    const error = isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: messageOf(e) };
    this.metrics.error(error.code);
    return encodeReply({ ok: false, error, by: this.opts.responder, at: this.at });
  }
}
