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
}

export interface InvokeResult {
  value: unknown;
  /** The host or provider whose instance answered. */
  responder?: string;
}

export async function invoke(nc: NatsConnection, subjects: Subjects, r: InvokeRequest): Promise<InvokeResult> {
  const timeout = Math.max(1, r.deadline - Date.now());
  const h = headers();
  h.set(InvocationHeader.Source, r.source);
  h.set(InvocationHeader.Deadline, String(r.deadline));
  h.set(InvocationHeader.CallId, r.callId ?? crypto.randomUUID());
  if (r.linkName && r.linkName !== DEFAULT_LINK_NAME) h.set(InvocationHeader.Link, r.linkName);
  if (r.traceparent) h.set(InvocationHeader.TraceParent, r.traceparent);
  let msg: Msg;
  try {
    msg = await nc.request(subjects.invocation(r.target, r.iface, r.fn), encodeArgs(r.args), { timeout, headers: h });
  } catch (e) {
    if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) {
      throw new LatticeError(ErrorCode.NotFound, `no instance of ${r.target} is running in lattice ${subjects.lattice}`);
    }
    if (e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError)) {
      throw new LatticeError(ErrorCode.Timeout, `${r.target} did not answer ${r.iface ? `${r.iface}.` : ""}${r.fn} within ${timeout} ms`);
    }
    throw e;
  }
  const reply = decodeReply(msg.data);
  if (!reply.ok) throw replyError(reply.error);
  return { value: reply.value, responder: msg.headers?.get(InvocationHeader.Responder) || undefined };
}

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

export class InvocationServer {
  private subs: Subscription[] = [];
  private readonly replyHeaders: MsgHdrs;

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
    let reply: Uint8Array;
    try {
      const call = this.subjects.parseInvocation(msg.subject);
      if (!call) throw new LatticeError(ErrorCode.BadRequest, `not an invocation subject: ${msg.subject}`);
      const h = msg.headers;
      const deadlineHeader = Number(h?.get(InvocationHeader.Deadline));
      const value = await this.handler({
        iface: call.iface,
        fn: call.fn,
        args: decodeArgs(msg.data),
        deadline: Number.isFinite(deadlineHeader) && deadlineHeader > 0 ? deadlineHeader : Date.now() + this.opts.defaultTimeoutMs,
        source: h?.get(InvocationHeader.Source) || "unknown",
        linkName: h?.get(InvocationHeader.Link) || DEFAULT_LINK_NAME,
        callId: h?.get(InvocationHeader.CallId) || "",
      });
      reply = encodeResult(value);
    } catch (e) {
      reply = encodeReply({ ok: false, error: isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: e instanceof Error ? e.message : String(e) } });
    }
    try {
      msg.respond(reply, { headers: this.replyHeaders });
    } catch (e) {
      this.opts.onError?.(`could not answer a call to ${this.target}: ${String(e)}`);
    }
  }
}
