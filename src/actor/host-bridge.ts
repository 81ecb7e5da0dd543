/**
 * Synchronous calls from a Wasm guest (inside a worker) to the host thread: the part every
 * transport shares. Guest imports are synchronous, but the host's work (a NATS request) is not:
 * the worker sends the request, blocks in Atomics.wait on a shared word that counts the replies
 * the host has made, and takes its reply when the count moves. Node carries the replies on a
 * MessagePort the worker drains with receiveMessageOnPort (sync-bridge.ts); a browser, which has
 * no such call, carries them in a SharedArrayBuffer (sab-bridge.ts). This is the synckit pattern.
 *
 * A host call can give up before its reply comes (its deadline passed). That reply still comes,
 * later: each request and reply therefore carry a sequence number, and the worker drops any reply
 * that is not the one it waits for. (Without it, every later call of that worker was answered
 * with the reply of the call before: an instance wedged for good.) The shared word counts the
 * replies, so a wait wakes for any reply and cannot miss the one it wants.
 */
import { ErrorCode } from "../protocol/errors.js";
import { messageOf } from "../protocol/errors.js";
import type { BridgeReply, BridgeRequest, HostCall, HostCallReply } from "./worker-protocol.js";

/** What the guest sees when a host call fails: jco turns `payload` into the `result`'s error. */
export class HostCallError extends Error {
  override readonly name = "HostCallError";
  // Only set when there is one: jco reads any own `payload` as the function's error value.
  declare readonly payload?: unknown;

  constructor(
    readonly code: string,
    message: string,
    payload?: unknown,
  ) {
    super(message);
    if (payload !== undefined) (this as { payload?: unknown }).payload = payload;
  }
}

/** Serves host calls on the host thread. */
export type HostCallHandler = (call: HostCall) => Promise<unknown>;

/** Host side: the reply to one request, a failure included (never rejects). */
export async function replyTo({ seq, call }: BridgeRequest, handler: HostCallHandler): Promise<BridgeReply> {
  try {
    return { seq, ok: true, value: await handler(call) };
  } catch (e) {
    const err = e as { code?: unknown; payload?: unknown };
    return {
      seq,
      ok: false,
      code: typeof err.code === "string" ? err.code : "internal",
      message: messageOf(e),
      ...(err.payload !== undefined ? { payload: err.payload } : {}),
    };
  }
}

/** Worker side of a transport: how requests leave and replies are found. */
export interface SyncReplies {
  send(request: BridgeRequest): void;
  /** The shared word: how many replies the host has made so far. */
  count(): number;
  /** The reply numbered `seq` if it has come; replies to calls that gave up waiting are dropped. */
  take(seq: number): BridgeReply | undefined;
  /** Block while the count is `seen`, for at most `ms`: false if that time passed. */
  wait(seen: number, ms: number): boolean;
}

/** The sequence number of this worker's last host call (one bridge per worker). */
let lastSeq = 0;

/** Worker side: call the host and block until it answers (or `timeoutMs` passes: a `timeout` error). */
export function callHostSync(replies: SyncReplies, call: HostCall, timeoutMs: number): unknown {
  const seq = ++lastSeq;
  replies.send({ seq, call });
  const until = performance.now() + timeoutMs;
  for (;;) {
    const seen = replies.count();
    const reply = replies.take(seq);
    if (reply) return settle(reply);
    const left = until - performance.now();
    if (left <= 0 || !replies.wait(seen, left)) {
      const last = replies.take(seq);
      if (last) return settle(last);
      throw new HostCallError(ErrorCode.Timeout, `host call ${call.iface}.${call.fn} got no answer within ${Math.round(timeoutMs)} ms`);
    }
  }
}

function settle(reply: HostCallReply): unknown {
  if (!reply.ok) throw new HostCallError(reply.code, reply.message, reply.payload);
  return reply.value;
}
