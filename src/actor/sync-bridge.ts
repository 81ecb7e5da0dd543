/**
 * Synchronous calls from a Wasm guest (inside a worker) to the host thread. Guest imports are
 * synchronous, but the host's work (a NATS request) is not: the worker posts the request, blocks
 * in Atomics.wait, and the host thread posts the reply and wakes it; the worker then takes the
 * reply off its port with receiveMessageOnPort. This is the synckit pattern, and it works on
 * every Node with worker_threads.
 */
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import type { BridgeChannel, HostCall, HostCallReply } from "./worker-protocol.js";

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

const PENDING = 0;
const READY = 1;

/** Host side: a channel pair, one end for the worker, the other served with `handler`. */
export function createBridge(handler: (call: HostCall) => Promise<unknown>): { worker: BridgeChannel; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  port1.on("message", (call: HostCall) => {
    void (async () => {
      let reply: HostCallReply;
      try {
        reply = { ok: true, value: await handler(call) };
      } catch (e) {
        const err = e as { code?: unknown; payload?: unknown };
        reply = {
          ok: false,
          code: typeof err.code === "string" ? err.code : "internal",
          message: e instanceof Error ? e.message : String(e),
          ...(err.payload !== undefined ? { payload: err.payload } : {}),
        };
      }
      port1.postMessage(reply);
      Atomics.store(signal, 0, READY);
      Atomics.notify(signal, 0);
    })();
  });
  port1.unref();
  return { worker: { port: port2, signal }, close: () => port1.close() };
}

/** Worker side: call the host and block until it answers (or `timeoutMs` passes). */
export function callHostSync(bridge: BridgeChannel, call: HostCall, timeoutMs: number): unknown {
  Atomics.store(bridge.signal, 0, PENDING);
  bridge.port.postMessage(call);
  const waited = Atomics.wait(bridge.signal, 0, PENDING, timeoutMs);
  const msg = receiveMessageOnPort(bridge.port);
  if (!msg) throw new Error(waited === "timed-out" ? `host call ${call.iface}.${call.fn} timed out after ${timeoutMs} ms` : "host call lost its reply");
  const reply = msg.message as HostCallReply;
  if (!reply.ok) throw new HostCallError(reply.code, reply.message, reply.payload);
  return reply.value;
}
