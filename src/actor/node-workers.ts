/** The Node worker platform (worker-handle.ts): worker threads, and the MessagePort bridge. */
import { Worker, type ResourceLimits } from "node:worker_threads";
import { createBridge } from "./sync-bridge.js";
import { WorkerListener, type WorkerEvents, type WorkerHandle, type WorkerPlatform } from "./worker-handle.js";
import type { WorkerReply } from "./worker-protocol.js";

const WORKER_URL = new URL("./actor-worker.js", import.meta.url);

class NodeWorker implements WorkerHandle {
  private readonly worker: Worker;
  private readonly listener = new WorkerListener();

  constructor(resourceLimits?: ResourceLimits) {
    this.worker = new Worker(WORKER_URL, resourceLimits ? { resourceLimits } : {});
    // A worker that must not keep the process alive, nor crash it, while nobody uses it.
    this.worker.unref();
    this.worker.on("message", (m: WorkerReply) => this.listener.message(m));
    this.worker.on("error", (e) => this.listener.die(e));
    this.worker.on("exit", (code) => this.listener.die(new Error(`worker exited (${code})`)));
  }

  post(m: unknown, transfer?: readonly unknown[]): void {
    this.worker.postMessage(m, transfer as Parameters<Worker["postMessage"]>[1]);
  }

  listen(events: WorkerEvents): void {
    this.listener.listen(events);
  }

  terminate(): Promise<void> {
    return this.worker.terminate().then(() => undefined);
  }

  keepAlive(on: boolean): void {
    if (on) this.worker.ref();
    else this.worker.unref();
  }
}

/** Worker threads, each with these V8 heap limits (Node's defaults when absent). */
export function nodeWorkerPlatform(resourceLimits?: ResourceLimits): WorkerPlatform {
  return {
    spawn: () => new NodeWorker(resourceLimits),
    bridge(handler) {
      const b = createBridge(handler);
      return { worker: b.worker, transfer: [b.worker.port], close: b.close };
    },
  };
}

export const nodeWorkers: WorkerPlatform = nodeWorkerPlatform();
