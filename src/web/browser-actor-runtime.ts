/**
 * The page's actor runtime: the Node runtime's pools and cache (actor/worker-runtime.ts) over Web
 * Workers (browser-workers.ts), with components transpiled in a worker of their own
 * (transpile.worker.ts). What it transpiled is kept by digest in memory, for as long as the
 * page lives (the component cache holds it, compiled), and in IndexedDB for the next page
 * (transpile-store.ts).
 */
import type { ComponentTranspiler } from "../actor/component-cache.js";
import type { TranspileAnswer, Transpiled } from "../actor/jco-transpile.js";
import { TranspileJobs, type TranspileWorker, type TranspileWorkerEvents } from "../actor/transpile-jobs.js";
import { WorkerActorRuntime } from "../actor/worker-runtime.js";
import type { Logger } from "../protocol/logging.js";
import { browserWorkers } from "./browser-workers.js";
import { TranspileStore } from "./transpile-store.js";

/** The page's store first, else a job for the transpile worker (started on the first one). */
class PageTranspiler implements ComponentTranspiler {
  private readonly jobs = new TranspileJobs(spawnWorker, "the transpile worker");
  private readonly store = new TranspileStore();

  constructor(private readonly log: Logger) {}

  async transpile(bytes: Uint8Array, digest: string): Promise<Transpiled> {
    const stored = await this.store.get(digest);
    if (stored) {
      this.log.info("a transpiled component found in the page's store", { digest });
      return stored;
    }
    const started = performance.now();
    const out = await this.jobs.run(bytes);
    this.log.info(`transpiled a component in ${((performance.now() - started) / 1000).toFixed(1)} s`, { digest });
    void this.store.put(digest, out);
    return out;
  }

  close(): Promise<void> {
    return this.jobs.close();
  }
}

function spawnWorker(events: TranspileWorkerEvents): TranspileWorker {
  const w = new Worker(new URL("./transpile.worker.js", import.meta.url), { type: "module", name: "transpile" });
  w.onmessage = (e: MessageEvent<TranspileAnswer>) => events.answer(e.data);
  let dead = false;
  const died = (why: string) => {
    if (dead) return;
    dead = true;
    w.terminate();
    events.died(why);
  };
  w.onerror = (e) => {
    e.preventDefault();
    died(e.message || "its script failed");
  };
  return {
    post: (job) => w.postMessage(job),
    busy: () => undefined,
    terminate: () => {
      died("it was stopped");
      return Promise.resolve();
    },
  };
}

/** An actor runtime for a browser host (the `actors` of its Host options). */
export function browserActorRuntime(log: Logger): WorkerActorRuntime {
  if (!crossOriginIsolated) log.warn("this page is not cross-origin isolated: no SharedArrayBuffer, so actors cannot run here (`lattice ui` serves it isolated)");
  return new WorkerActorRuntime(log, browserWorkers, new PageTranspiler(log));
}
