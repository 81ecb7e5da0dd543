/**
 * The page's actor runtime: the Node runtime's pools and cache (actor/worker-runtime.ts) over Web
 * Workers (browser-workers.ts), with components transpiled in a worker of their own
 * (transpile.worker.ts). What it transpiled is kept by digest in memory, for as long as the
 * page lives (the component cache holds it, compiled), and in IndexedDB for the next page
 * (transpile-store.ts).
 */
import type { ComponentTranspiler } from "../actor/component-cache.js";
import type { TranspileAnswer, TranspileJob, Transpiled } from "../actor/jco-transpile.js";
import { WorkerActorRuntime } from "../actor/worker-runtime.js";
import { ErrorCode, LatticeError, type Logger } from "../protocol/index.js";
import { browserWorkers } from "./browser-workers.js";
import { TranspileStore } from "./transpile-store.js";

/** The page's store first, else a job for the transpile worker (started on the first one). */
class WorkerTranspiler implements ComponentTranspiler {
  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (t: Transpiled) => void; reject: (e: Error) => void }>();
  private readonly store = new TranspileStore();

  constructor(private readonly log: Logger) {}

  async transpile(bytes: Uint8Array, digest: string): Promise<Transpiled> {
    const stored = await this.store.get(digest);
    if (stored) {
      this.log.info("a transpiled component found in the page's store", { digest });
      return stored;
    }
    const started = performance.now();
    const out = await this.inWorker(bytes);
    this.log.info(`transpiled a component in ${((performance.now() - started) / 1000).toFixed(1)} s`, { digest });
    void this.store.put(digest, out);
    return out;
  }

  private inWorker(bytes: Uint8Array): Promise<Transpiled> {
    const w = (this.worker ??= this.spawn());
    const job: TranspileJob = { id: this.nextId++, bytes };
    return new Promise((resolve, reject) => {
      this.waiting.set(job.id, { resolve, reject });
      w.postMessage(job);
    });
  }

  close(): Promise<void> {
    this.worker?.terminate();
    this.fail(this.worker, "the actor runtime closed");
    return Promise.resolve();
  }

  private spawn(): Worker {
    const w = new Worker(new URL("./transpile.worker.js", import.meta.url), { type: "module", name: "transpile" });
    w.onmessage = (e: MessageEvent<TranspileAnswer>) => {
      const a = e.data;
      const p = this.waiting.get(a.id);
      if (!p) return;
      this.waiting.delete(a.id);
      if (a.ok) p.resolve({ files: a.files, imports: a.imports, exports: a.exports });
      else p.reject(new LatticeError(ErrorCode.BadRequest, a.message));
    };
    w.onerror = (e) => {
      e.preventDefault();
      w.terminate();
      this.fail(w, `the transpile worker failed: ${e.message}`);
    };
    return w;
  }

  private fail(w: Worker | undefined, why: string): void {
    if (w === undefined || this.worker !== w) return;
    this.worker = undefined;
    for (const p of this.waiting.values()) p.reject(new LatticeError(ErrorCode.Internal, why));
    this.waiting.clear();
  }
}

/** An actor runtime for a browser host (the `actors` of its Host options). */
export function browserActorRuntime(log: Logger): WorkerActorRuntime {
  if (!crossOriginIsolated) log.warn("this page is not cross-origin isolated: no SharedArrayBuffer, so actors cannot run here (`lattice ui` serves it isolated)");
  return new WorkerActorRuntime(log, browserWorkers, new WorkerTranspiler(log));
}
