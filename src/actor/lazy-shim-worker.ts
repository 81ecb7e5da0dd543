/**
 * The preview2 shim (`@bytecodealliance/preview2-shim`, Node build) starts a worker thread of its
 * own for I/O when its `io` module is evaluated, in every actor worker: a second V8 isolate per
 * instance (~10 MB resident) that most actors never use (no files, no sockets: the sandbox gives
 * them none). Imported first by actor-worker.ts, this module makes the `Worker` the shim sees
 * lazy when the worker's data asks for it (`{ lazyShimThread: true }`: the small profile): the
 * thread starts when the shim first posts to it, ~20 ms into that call, once per instance.
 * `restoreWorker()` undoes the swap once the shim is loaded.
 */
import threads from "node:worker_threads";
import { syncBuiltinESMExports } from "node:module";

type Listener = (...args: unknown[]) => void;
const RealWorker = threads.Worker;

class LazyWorker {
  private real?: threads.Worker;
  private readonly listeners: Array<[string, Listener]> = [];
  private refed = true;

  constructor(
    private readonly url: string | URL,
    private readonly options?: threads.WorkerOptions,
  ) {}

  on(event: string, fn: Listener): this {
    this.listeners.push([event, fn]);
    this.real?.on(event, fn);
    return this;
  }

  unref(): void {
    this.refed = false;
    this.real?.unref();
  }

  ref(): void {
    this.refed = true;
    this.real?.ref();
  }

  postMessage(m: unknown, transfer?: readonly threads.TransferListItem[]): void {
    this.started().postMessage(m, transfer);
  }

  terminate(): Promise<number> {
    return this.real ? this.real.terminate() : Promise.resolve(0);
  }

  private started(): threads.Worker {
    if (!this.real) {
      const w = new RealWorker(this.url, this.options);
      for (const [event, fn] of this.listeners) w.on(event, fn);
      if (!this.refed) w.unref();
      this.real = w;
    }
    return this.real;
  }
}

/** What an actor worker's `workerData` may say. */
export interface ActorWorkerData {
  lazyShimThread?: boolean;
}

if ((threads.workerData as ActorWorkerData | undefined)?.lazyShimThread) {
  threads.Worker = LazyWorker as unknown as typeof threads.Worker;
  syncBuiltinESMExports();
}

/** Give `node:worker_threads` its own Worker back (after the shim has been imported). */
export function restoreWorker(): void {
  if (threads.Worker === RealWorker) return;
  threads.Worker = RealWorker;
  syncBuiltinESMExports();
}
