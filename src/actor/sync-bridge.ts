/**
 * Synchronous calls from a Wasm guest (inside a worker) to the host thread. Guest imports are
 * synchronous, but the host's work (a NATS request) is not: the worker posts the request, blocks
 * in Atomics.wait, and the host thread posts the reply and wakes it; the worker then takes the
 * reply off its port with receiveMessageOnPort. This is the synckit pattern, and it works on
 * every Node with worker_threads.
 */
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import type { BridgeChannel, HostCall, HostCallReply } from "./worker-protocol.js";

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
        reply = { ok: false, message: e instanceof Error ? e.message : String(e) };
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
  if (!reply.ok) throw new Error(reply.message);
  return reply.value;
}
