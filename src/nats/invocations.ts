/**
 * The caller's end of an invocation over NATS: `invoke` (the envelope, the deadline, where each
 * attempt goes, retries, error mapping). Actors, providers and the CLI all call through it; the
 * other end is `InvocationServer` (invocation-server.ts).
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { CallSigner } from "./signing/call-signing.js";
import { outbox } from "./outbox.js";
import { isNoResponders, isTimeout } from "./request-errors.js";
import { routerOf, type Member, type TargetRoutes } from "./router.js";
import { endClientSpan, startClientSpan, tracingOn } from "./tracing.js";
import { DEFAULT_LINK_NAME, ErrorCode, LatticeError, decodeReply, encodeCall, replyError, type CallEnvelope, type InvocationReply, type Subjects } from "../protocol/index.js";

export { InvocationServer, type CallHandler, type IncomingCall, type InvocationPolicy, type ServerOptions } from "./invocation-server.js";

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
  /** The W3C trace context of the call this one is made for: passed on, or the parent of its CLIENT span. */
  traceparent?: string;
  /**
   * When to send the call again, with the same call id, while no attempt has been answered:
   * `auto` (the default) after the target's retransmission timeout (router.ts), a number of ms
   * after that long, 0 never. Every attempt after the first spends the connection's retry budget.
   */
  attemptTimeoutMs?: number | "auto";
  /** Sign the call (each attempt anew) with this key. */
  signer?: CallSigner;
  /** Told once the call settles: the bytes of its last attempt and of its answer (0: none came). For `lattice spy`. */
  sizes?: (requestBytes: number, replyBytes: number) => void;
}

export interface InvokeResult {
  value: unknown;
  /** The host or provider whose instance answered. */
  responder?: string;
  /** How many times the call was sent before the answer came (1: the first went through). */
  attempts: number;
}

/** A retry with less time than this left would only add load. */
const MIN_RETRY_MS = 20;

/**
 * Call a target and wait for its answer. Each attempt goes where the router says (a member it
 * chose, or the target's queue group); one that is not answered in time is not given up: the
 * call is sent again, with the same call id, to another member (retry budget and deadline
 * allowing), and the first answer wins. A member that answers `unavailable` (overloaded, paused)
 * is skipped the same way. "No responders" at a member's address drops that member and tries
 * another at once; in the queue group it means nobody runs the target.
 */
export function invoke(nc: NatsConnection, subjects: Subjects, r: InvokeRequest): Promise<InvokeResult> {
  const callId = r.callId ?? crypto.randomUUID();
  // Traced: the CLIENT span's context goes on the wire, so the callee's server span is its child.
  const span = tracingOn() ? startClientSpan(r, callId) : undefined;
  const traceparent = span ? span.traceparent : r.traceparent;
  const call: CallEnvelope = {
    args: r.args,
    deadline: r.deadline,
    callId,
    source: r.source,
    ...(r.linkName && r.linkName !== DEFAULT_LINK_NAME ? { link: r.linkName } : {}),
    ...(traceparent ? { traceparent } : {}),
  };
  const result = new Attempts(nc, subjects, r, call).result;
  return span ? endClientSpan(span, result) : result;
}

/** One call's attempts, until one is answered or the deadline passes. */
class Attempts {
  readonly result: Promise<InvokeResult>;
  private resolve!: (r: InvokeResult) => void;
  private reject!: (e: Error) => void;
  private readonly routes: TargetRoutes;
  private readonly router: ReturnType<typeof routerOf>;
  private readonly unsigned?: Uint8Array;
  /** Members this call has been sent to, by address. */
  private tried?: Set<string>;
  private pending = 0;
  private sent = 0;
  private issuedAt = 0;
  /** Sizes of the last attempt sent and the last answer, kept only when `r.sizes` asks for them. */
  private sentBytes = 0;
  private gotBytes = 0;
  private done = false;
  private timer?: ReturnType<typeof setTimeout>;
  /** The answer to give if no attempt does better: an `unavailable` or "no responders". */
  private fallback?: Error;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly r: InvokeRequest,
    private readonly call: CallEnvelope,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.router = routerOf(nc);
    this.routes = this.router.routes(subjects, r.target);
    this.unsigned = r.signer ? undefined : encodeCall(call);
    this.router.called();
    this.send();
  }

  private get retries(): boolean {
    return this.r.attemptTimeoutMs !== 0;
  }

  private attemptTimeoutMs(): number {
    const t = this.r.attemptTimeoutMs;
    return typeof t === "number" && t > 0 ? t : this.routes.attemptTimeoutMs();
  }

  /** Send one more attempt, to the member the router picks (or the queue group). */
  private send(): void {
    const left = this.r.deadline - Date.now();
    if (left < (this.sent === 0 ? 1 : MIN_RETRY_MS)) return this.settleIfIdle();
    const member = this.routes.pick(this.tried);
    if (member) (this.tried ??= new Set()).add(member.at);
    const subject = member ? this.subjects.invocationDirect(this.r.target, member.at, this.r.iface, this.r.fn) : this.subjects.invocation(this.r.target, this.r.iface, this.r.fn);
    this.sent++;
    this.pending++;
    const started = performance.now();
    if (member) this.routes.sent(member, started);
    // A retry is signed anew: a verifier refuses a second copy of a signature as a replay.
    // Not awaited when signed at once: an await here defers the publish past the outbox's turn,
    // and concurrent calls then go out one write each (measured: a third of the throughput).
    const signed = this.r.signer?.signCall(subject, this.call, this.issuedAt);
    const go = (body: Uint8Array | undefined) => {
      if (this.r.sizes) this.sentBytes = body?.length ?? 0;
      return outbox.request(this.nc, subject, body, left).then(
        (msg) => this.answered(msg, member, started),
        (e: unknown) => this.failed(e, member, started),
      );
    };
    if (!signed) void go(this.unsigned);
    else if (signed instanceof Promise) void signed.then(({ body, issuedAt }) => ((this.issuedAt = issuedAt), go(body)), (e: unknown) => this.failed(e, member, started));
    else {
      this.issuedAt = signed.issuedAt;
      void go(signed.body);
    }
    if (this.retries) this.armRetry();
  }

  /** After the attempt timeout with no answer, the call goes elsewhere too (the router avoids stalled members). */
  private armRetry(): void {
    clearTimeout(this.timer);
    const wait = Math.min(this.attemptTimeoutMs(), this.r.deadline - Date.now());
    this.timer = setTimeout(() => {
      if (this.done) return;
      if (this.router.mayRetry()) this.send();
      else this.armRetry();
    }, Math.max(1, wait));
  }

  private answered(msg: Msg, member: Member | undefined, started: number): void {
    const ms = performance.now() - started;
    this.attemptEnded(member, started);
    if (this.r.sizes) this.gotBytes = msg.data.length;
    let reply: InvocationReply;
    try {
      reply = decodeReply(msg.data);
    } catch (e) {
      return this.finish(() => this.reject(e instanceof Error ? e : new Error(String(e))));
    }
    this.routes.answered(ms, reply.at, reply.by);
    if (this.done) return;
    if (reply.ok) return this.finish(() => this.resolve({ value: reply.value, responder: reply.by ?? undefined, attempts: this.sent }));
    const err = replyError(reply.error);
    // Overloaded or paused there: another member may take it now. While an earlier attempt is
    // still out, its answer is awaited: it may be running the call, so "not done" would be untrue.
    if (err.code === ErrorCode.Unavailable) {
      this.fallback = err;
      if (this.retries && this.router.mayRetry()) this.send();
      return this.settleIfIdle();
    }
    this.finish(() => this.reject(err));
  }

  private failed(e: unknown, member: Member | undefined, started: number): void {
    this.attemptEnded(member, started);
    if (this.done) return;
    if (isNoResponders(e)) {
      if (member) {
        // That member stopped serving: another one, at once (a retry the budget does not pay).
        this.routes.gone(member);
        this.send();
      } else {
        this.fallback = new LatticeError(ErrorCode.NotFound, `no instance of ${this.r.target} is running in lattice ${this.subjects.lattice}`);
      }
      return this.settleIfIdle();
    }
    if (isTimeout(e)) return this.settleIfIdle();
    this.finish(() => this.reject(e instanceof Error ? e : new Error(String(e))));
  }

  private attemptEnded(member: Member | undefined, started: number): void {
    this.pending--;
    if (member) this.routes.ended(member, started);
  }

  /**
   * With no attempt in flight: the best answer there is. Attempts wait out the whole deadline, so
   * none in flight means the deadline came, or the last one was refused (`fallback`).
   */
  private settleIfIdle(): void {
    if (this.done || this.pending > 0) return;
    const what = `${this.r.target} did not answer ${this.r.iface ? `${this.r.iface}.` : ""}${this.r.fn} before its deadline`;
    const e = this.fallback ?? new LatticeError(ErrorCode.Timeout, `${what} (${this.sent} attempt${this.sent === 1 ? "" : "s"})`);
    this.finish(() => this.reject(e));
  }

  private finish(settle: () => void): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.r.sizes?.(this.sentBytes, this.gotBytes);
    settle();
  }
}
