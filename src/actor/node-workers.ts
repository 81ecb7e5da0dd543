/** The Node worker platform (worker-handle.ts): worker threads, and the MessagePort bridge. */
import { Worker, type ResourceLimits } from "node:worker_threads";
import type { ActorWorkerData } from "./lazy-shim-worker.js";
import { createBridge } from "./sync-bridge.js";
import { WorkerListener, type WorkerEvents, type WorkerHandle, type WorkerPlatform } from "./worker-handle.js";
import type { WorkerReply } from "./worker-protocol.js";

const WORKER_URL = new URL("./actor-worker.js", import.meta.url);

class NodeWorker implements WorkerHandle {
  private readonly worker: Worker;
  private readonly listener = new WorkerListener();

  constructor(o: NodeWorkerOptions) {
    const workerData: ActorWorkerData = { lazyShimThread: o.lazyShimThread === true };
    this.worker = new Worker(WORKER_URL, { workerData, ...(o.resourceLimits ? { resourceLimits: o.resourceLimits } : {}) });
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

export interface NodeWorkerOptions {
  /** V8 heap limits of each worker (Node's defaults when absent). */
  resourceLimits?: ResourceLimits;
  /** Start the preview2 shim's I/O thread only when an instance first uses it (lazy-shim-worker.ts). */
  lazyShimThread?: boolean;
}

export function nodeWorkerPlatform(o: NodeWorkerOptions = {}): WorkerPlatform {
  return {
    spawn: () => new NodeWorker(o),
    bridge(handler) {
      const b = createBridge(handler);
      return { worker: b.worker, transfer: [b.worker.port], close: b.close };
    },
  };
}

export const nodeWorkers: WorkerPlatform = nodeWorkerPlatform();
