/**
 * Entry point of a Node actor worker thread: the instance of actor-instance.ts, over parentPort,
 * with the MessagePort bridge (sync-bridge.ts).
 */
// First: the preview2 shim, which actor-instance.ts loads, must find a lazy Worker (lazy-shim-worker.ts).
import { restoreWorker } from "./lazy-shim-worker.js";
import { parentPort } from "node:worker_threads";
import { serveActorWorker, type Instantiate } from "./actor-instance.js";
import { nodeReplies } from "./sync-bridge.js";
import type { BridgeChannel, WorkerRequest } from "./worker-protocol.js";

restoreWorker();

const port = parentPort;
if (!port) throw new Error("actor-worker must run in a worker thread");

// jco's glue checks `process.env.JCO_DEBUG` on every call into and out of the guest, and Node's
// process.env is a native interceptor: a plain copy makes each check a property read (4% of a
// JavaScript actor's HTTP request). Actors never see it: their WASI environment is empty.
process.env = { ...process.env };

serveActorWorker({
  send: (m) => port.postMessage(m),
  receive: (handler) => port.on("message", (m: WorkerRequest) => handler(m)),
  replies: (bridge) => nodeReplies(bridge as BridgeChannel),
  importGlue: async (js) => (await import(`data:text/javascript;base64,${Buffer.from(js).toString("base64")}`)) as { instantiate: Instantiate },
});
