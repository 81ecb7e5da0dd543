/**
 * An actor instance in a Web Worker: actor/actor-instance.ts, over the worker's own messages,
 * with the SharedArrayBuffer bridge (actor/sab-bridge.ts) for its host calls.
 */
import { serveActorWorker, type Instantiate } from "../actor/actor-instance.js";
import { sabReplies, type SabBridgeChannel } from "../actor/sab-bridge.js";
import type { WorkerReply, WorkerRequest } from "../actor/worker-protocol.js";

serveActorWorker({
  send: (m: WorkerReply) => self.postMessage(m),
  receive: (handler) => (self.onmessage = (e: MessageEvent<WorkerRequest>) => handler(e.data)),
  replies: (bridge) => sabReplies(bridge as SabBridgeChannel),
  async importGlue(js) {
    const url = URL.createObjectURL(new Blob([js], { type: "text/javascript" }));
    try {
      return (await import(url)) as { instantiate: Instantiate };
    } finally {
      URL.revokeObjectURL(url);
    }
  },
});
