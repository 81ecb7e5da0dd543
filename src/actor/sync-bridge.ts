/**
 * Synchronous calls from a Wasm guest (inside a worker) to the host thread. Guest imports are
 * synchronous, but the host's work (a NATS request) is not: the worker posts the request, blocks
 * in Atomics.wait, and the host thread posts the reply and wakes it; the worker then takes the
 * reply off its port with receiveMessageOnPort. This is the synckit pattern, and it works on
 * every Node with worker_threads.
 *
 * A host call can give up before its reply comes (its deadline passed). That reply still arrives,
 * later, on the same port: each request and reply therefore carry a sequence number, and the
 * worker drops any reply that is not the one it waits for. (Without it, every later call of that
 * worker was answered with the reply of the call before: an instance wedged for good.) The shared
 * word counts the replies posted, so a wait wakes for any reply and cannot miss the one it wants.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { ErrorCode } from "../protocol/errors.js";
import type { BridgeChannel, BridgeReply, BridgeRequest, HostCall, HostCallReply } from "./worker-protocol.js";
import { messageOf } from "../protocol/index.js";

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

/** Host side: a channel pair, one end for the worker, the other served with `handler`. */
export function createBridge(handler: (call: HostCall) => Promise<unknown>): { worker: BridgeChannel; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  port1.on("message", ({ seq, call }: BridgeRequest) => {
    void (async () => {
      let reply: BridgeReply;
      try {
        reply = { seq, ok: true, value: await handler(call) };
      } catch (e) {
        const err = e as { code?: unknown; payload?: unknown };
        reply = {
          seq,
          ok: false,
          code: typeof err.code === "string" ? err.code : "internal",
          message: messageOf(e),
          ...(err.payload !== undefined ? { payload: err.payload } : {}),
        };
      }
      // Post first, then count: a worker that sees the count change finds the reply on its port.
      port1.postMessage(reply);
      Atomics.add(signal, 0, 1);
      Atomics.notify(signal, 0);
    })();
  });
  port1.unref();
  return { worker: { port: port2, signal }, close: () => port1.close() };
}

/** The sequence number of this worker's last host call (one bridge per worker). */
let lastSeq = 0;

/** Worker side: call the host and block until it answers (or `timeoutMs` passes: a `timeout` error). */
export function callHostSync(bridge: BridgeChannel, call: HostCall, timeoutMs: number): unknown {
  const seq = ++lastSeq;
  const request: BridgeRequest = { seq, call };
  bridge.port.postMessage(request);
  const until = performance.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(bridge.signal, 0);
    const reply = replyTo(bridge.port, seq);
    if (reply) return settle(reply);
    const left = until - performance.now();
    if (left <= 0 || Atomics.wait(bridge.signal, 0, seen, left) === "timed-out") {
      const last = replyTo(bridge.port, seq);
      if (last) return settle(last);
      throw new HostCallError(ErrorCode.Timeout, `host call ${call.iface}.${call.fn} got no answer within ${Math.round(timeoutMs)} ms`);
    }
  }
}

/** The reply numbered `seq` if it has come; replies to calls that gave up waiting are dropped. */
function replyTo(port: MessagePort, seq: number): BridgeReply | undefined {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const reply = m.message as BridgeReply;
    if (reply.seq === seq) return reply;
  }
  return undefined;
}

function settle(reply: HostCallReply): unknown {
  if (!reply.ok) throw new HostCallError(reply.code, reply.message, reply.payload);
  return reply.value;
}
