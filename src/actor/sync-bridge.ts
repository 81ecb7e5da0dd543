/**
 * The Node transport of host calls (host-bridge.ts): requests and replies travel on a
 * MessagePort pair, and the worker takes its reply off its port with receiveMessageOnPort after
 * Atomics.wait on the shared count wakes it. It works on every Node with worker_threads.
 */
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import { replyTo, type HostCallHandler, type SyncReplies } from "./host-bridge.js";
import type { BridgeChannel, BridgeReply, BridgeRequest } from "./worker-protocol.js";

export { HostCallError, callHostSync } from "./host-bridge.js";

/** Host side: a channel pair, one end for the worker, the other served with `handler`. */
export function createBridge(handler: HostCallHandler): { worker: BridgeChannel; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  port1.on("message", (request: BridgeRequest) => {
    void replyTo(request, handler).then((reply) => {
      // Post first, then count: a worker that sees the count change finds the reply on its port.
      port1.postMessage(reply);
      Atomics.add(signal, 0, 1);
      Atomics.notify(signal, 0);
    });
  });
  port1.unref();
  return { worker: { port: port2, signal }, close: () => port1.close() };
}

/** Worker side: the replies of a bridge made by createBridge. */
export function nodeReplies(bridge: BridgeChannel): SyncReplies {
  const { port, signal } = bridge;
  return {
    send: (request) => port.postMessage(request),
    count: () => Atomics.load(signal, 0),
    take(seq) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const reply = m.message as BridgeReply;
        if (reply.seq === seq) return reply;
      }
      return undefined;
    },
    wait: (seen, ms) => Atomics.wait(signal, 0, seen, ms) !== "timed-out",
  };
}
