/** The Node worker platform (worker-handle.ts): worker threads, and the MessagePort bridge. */
import { Worker } from "node:worker_threads";
import { createBridge } from "./sync-bridge.js";
import type { WorkerEvents, WorkerHandle, WorkerPlatform } from "./worker-handle.js";
import type { WorkerReply } from "./worker-protocol.js";

const WORKER_URL = new URL("./actor-worker.js", import.meta.url);

class NodeWorker implements WorkerHandle {
  private readonly worker = new Worker(WORKER_URL);
  private events?: WorkerEvents;
  private death?: Error;

  constructor() {
    // A worker that must not keep the process alive, nor crash it, while nobody uses it.
    this.worker.unref();
    this.worker.on("message", (m: WorkerReply) => this.events?.message(m));
    this.worker.on("error", (e) => this.die(e));
    this.worker.on("exit", (code) => this.die(new Error(`worker exited (${code})`)));
  }

  post(m: unknown, transfer?: readonly unknown[]): void {
    this.worker.postMessage(m, transfer as Parameters<Worker["postMessage"]>[1]);
  }

  listen(events: WorkerEvents): void {
    this.events = events;
    const death = this.death;
    if (death) queueMicrotask(() => this.events === events && events.died(death));
  }

  terminate(): Promise<void> {
    return this.worker.terminate().then(() => undefined);
  }

  keepAlive(on: boolean): void {
    if (on) this.worker.ref();
    else this.worker.unref();
  }

  private die(e: Error): void {
    if (this.death) return;
    this.death = e;
    this.events?.died(e);
  }
}

export const nodeWorkers: WorkerPlatform = {
  spawn: () => new NodeWorker(),
  bridge(handler) {
    const b = createBridge(handler);
    return { worker: b.worker, transfer: [b.worker.port], close: b.close };
  },
};
