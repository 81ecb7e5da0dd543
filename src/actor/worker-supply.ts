/**
 * Booted actor workers kept ready. Starting a worker thread and loading the WASI shim takes tens
 * of milliseconds, far more than instantiating a compiled component; keeping a spare or two
 * makes a warm start (compiled digest → first call) cost only the instantiation.
 */
import { Worker } from "node:worker_threads";

const WORKER_URL = new URL("./actor-worker.js", import.meta.url);

export class WorkerSupply {
  private readonly spares: Worker[] = [];
  private closed = false;

  constructor(private readonly keep: number) {
    this.refill();
  }

  /** A worker that has not been given a component yet. */
  take(): Worker {
    const w = this.spares.shift() ?? new Worker(WORKER_URL);
    w.ref();
    w.removeAllListeners("error");
    this.refill();
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.spares.splice(0).map((w) => w.terminate()));
  }

  private refill(): void {
    while (!this.closed && this.spares.length < this.keep) {
      const w = new Worker(WORKER_URL);
      // A spare must not keep the process alive, nor crash it if it dies unused.
      w.unref();
      w.on("error", () => this.drop(w));
      w.once("exit", () => this.drop(w));
      this.spares.push(w);
    }
  }

  private drop(w: Worker): void {
    const i = this.spares.indexOf(w);
    if (i >= 0) this.spares.splice(i, 1);
  }
}
