/**
 * The page's worker platform (actor/worker-handle.ts): actor instances in Web Workers
 * (actor.worker.ts), calling their host through a SharedArrayBuffer (actor/sab-bridge.ts), which
 * needs the page cross-origin isolated (`lattice ui` serves it so).
 */
import { WorkerListener, type WorkerEvents, type WorkerHandle, type WorkerPlatform } from "../actor/worker-handle.js";
import type { WorkerReply, WorkerRequest } from "../actor/worker-protocol.js";
import { createSabBridge } from "../actor/sab-bridge.js";
import { ErrorCode, LatticeError } from "../protocol/index.js";

class BrowserWorker implements WorkerHandle {
  private readonly worker = new Worker(new URL("./actor.worker.js", import.meta.url), { type: "module", name: "actor" });
  private readonly listener = new WorkerListener();

  constructor() {
    this.worker.onmessage = (e: MessageEvent<WorkerReply>) => this.listener.message(e.data);
    // A page's worker lives on after an uncaught error, but its instance may be half-way: it is
    // as good as dead, and its pool replaces it. So is one whose script did not load.
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.listener.die(new Error(e.message || "the actor worker failed"));
    };
    this.worker.onmessageerror = () => this.listener.die(new Error("a message from the actor worker could not be read"));
  }

  post(m: WorkerRequest, transfer: readonly unknown[] = []): void {
    this.worker.postMessage(m, transfer as Transferable[]);
  }

  listen(events: WorkerEvents): void {
    this.listener.listen(events);
  }

  terminate(): Promise<void> {
    this.worker.terminate();
    this.listener.die(new Error("worker terminated"));
    return Promise.resolve();
  }

  keepAlive(): void {
    // A page has no process to keep alive.
  }
}

export const browserWorkers: WorkerPlatform = {
  spawn: () => new BrowserWorker(),
  bridge(handler) {
    if (typeof SharedArrayBuffer === "undefined") {
      throw new LatticeError(ErrorCode.Unavailable, "this page is not cross-origin isolated (no SharedArrayBuffer), so it cannot run actors: open it from `lattice ui`");
    }
    return createSabBridge(handler);
  },
};
