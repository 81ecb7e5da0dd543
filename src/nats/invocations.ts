/**
 * Both ends of an invocation over NATS: `invoke` (the caller: headers, deadline, error mapping)
 * and `InvocationServer` (a target's instances: one queue subscription each, decoded calls in,
 * encoded replies out). Actors, providers and the CLI all go through these two.
 */
import { NoRespondersError, RequestError, TimeoutError, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import {
  DEFAULT_LINK_NAME,
  ErrorCode,
  InvocationHeader,
  LatticeError,
  decodeArgs,
  decodeReply,
  encodeArgs,
  encodeReply,
  encodeResult,
  isLatticeError,
  replyError,
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
  const h = headers();
  h.set(InvocationHeader.Source, r.source);
  h.set(InvocationHeader.Deadline, String(r.deadline));
  h.set(InvocationHeader.CallId, r.callId ?? crypto.randomUUID());
  if (r.linkName && r.linkName !== DEFAULT_LINK_NAME) h.set(InvocationHeader.Link, r.linkName);
  if (r.traceparent) h.set(InvocationHeader.TraceParent, r.traceparent);
  const subject = subjects.invocation(r.target, r.iface, r.fn);
  const body = encodeArgs(r.args);
  let msg: Msg | undefined;
  for (let attempt = 1; !msg; attempt++) {
    const left = r.deadline - Date.now();
    const timeout = Math.max(1, r.attemptTimeoutMs ? Math.min(left, r.attemptTimeoutMs) : left);
    try {
      msg = await nc.request(subject, body, { timeout, headers: h });
    } catch (e) {
      if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) {
        throw new LatticeError(ErrorCode.NotFound, `no instance of ${r.target} is running in lattice ${subjects.lattice}`);
      }
      if (!(e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError))) throw e;
      if (r.deadline - Date.now() < MIN_RETRY_MS) {
        throw new LatticeError(ErrorCode.Timeout, `${r.target} did not answer ${r.iface ? `${r.iface}.` : ""}${r.fn} before its deadline (${attempt} attempt${attempt === 1 ? "" : "s"})`);
      }
    }
  }
  const reply = decodeReply(msg.data);
  if (!reply.ok) throw replyError(reply.error);
  return { value: reply.value, responder: msg.headers?.get(InvocationHeader.Responder) || undefined };
}

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

export interface ServerOptions {
  /** Queue subscriptions to hold: calls are shared between servers in proportion. */
  instances: number;
  /** Put on every reply as `lattice-responder`. */
  responder: string;
  defaultTimeoutMs: number;
  onError?: (message: string) => void;
}

/** Calls remembered for answering a retry without running them again. */
const REMEMBERED_CALLS = 10_000;

export class InvocationServer {
  private subs: Subscription[] = [];
  private readonly replyHeaders: MsgHdrs;
  /**
   * Replies by call id, kept until the call's deadline: a retry of a call this server has taken
   * (the caller gave up waiting too early) gets the same reply, and the work is not done twice.
   */
  private readonly recent = new Map<string, { reply: Promise<Uint8Array>; until: number }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    readonly target: string,
    private readonly handler: CallHandler,
    private readonly opts: ServerOptions,
  ) {
    this.replyHeaders = headers();
    this.replyHeaders.set(InvocationHeader.Responder, opts.responder);
    this.resize(opts.instances);
  }

  /** Hold `n` queue subscriptions. */
  resize(n: number): void {
    while (this.subs.length > n) this.subs.pop()?.unsubscribe();
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

  private async serve(msg: Msg): Promise<void> {
    if (!msg.reply) return;
    const callId = msg.headers?.get(InvocationHeader.CallId) || "";
    let entry = callId ? this.recent.get(callId) : undefined;
    if (!entry) {
      const deadlineHeader = Number(msg.headers?.get(InvocationHeader.Deadline));
      const deadline = Number.isFinite(deadlineHeader) && deadlineHeader > 0 ? deadlineHeader : Date.now() + this.opts.defaultTimeoutMs;
      entry = { reply: this.run(msg, deadline, callId), until: deadline };
      if (callId) this.remember(callId, entry);
    }
    const reply = await entry.reply;
    try {
      msg.respond(reply, { headers: this.replyHeaders });
    } catch (e) {
      this.opts.onError?.(`could not answer a call to ${this.target}: ${String(e)}`);
    }
  }

  private async run(msg: Msg, deadline: number, callId: string): Promise<Uint8Array> {
    try {
      const call = this.subjects.parseInvocation(msg.subject);
      if (!call) throw new LatticeError(ErrorCode.BadRequest, `not an invocation subject: ${msg.subject}`);
      const h = msg.headers;
      const value = await this.handler({
        iface: call.iface,
        fn: call.fn,
        args: decodeArgs(msg.data),
        deadline,
        source: h?.get(InvocationHeader.Source) || "unknown",
        linkName: h?.get(InvocationHeader.Link) || DEFAULT_LINK_NAME,
        callId,
      });
      return encodeResult(value);
    } catch (e) {
      return encodeReply({ ok: false, error: isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: e instanceof Error ? e.message : String(e) } });
    }
  }

  private remember(callId: string, entry: { reply: Promise<Uint8Array>; until: number }): void {
    this.recent.set(callId, entry);
    if (this.recent.size <= REMEMBERED_CALLS) return;
    // Map order is insertion order: drop what is past its deadline, then the oldest.
    const now = Date.now();
    for (const [id, e] of this.recent) {
      if (this.recent.size <= REMEMBERED_CALLS / 2) break;
      if (e.until < now || this.recent.size > REMEMBERED_CALLS) this.recent.delete(id);
    }
  }
}
