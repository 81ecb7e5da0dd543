/**
 * Transpile jobs sent to a worker of their own and their answers, for both platforms: Node's
 * transpiler (a worker thread running transpile-worker.ts) and a page's (a Web Worker running
 * src/web/transpile.worker.ts). The worker is started on the first job and again after it dies;
 * a death fails the jobs it had.
 */
import { ErrorCode, LatticeError } from "../protocol/index.js";
import type { TranspileAnswer, TranspileJob, Transpiled } from "./jco-transpile.js";

/** What the jobs need of the worker a platform starts. */
export interface TranspileWorker {
  post(job: TranspileJob): void;
  /** Whether jobs wait on it (Node: only then does it keep the process alive). */
  busy(on: boolean): void;
  terminate(): Promise<void>;
}

export interface TranspileWorkerEvents {
  answer(a: TranspileAnswer): void;
  /** It died: `why` says how (it is told once). */
  died(why: string): void;
}

export class TranspileJobs {
  private worker?: TranspileWorker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (t: Transpiled) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly spawn: (events: TranspileWorkerEvents) => TranspileWorker,
    /** Names the worker in errors ("the transpiler thread"). */
    private readonly what: string,
    /** false: the worker is stopped whenever no job waits (it holds the transpiler: memory). */
    private readonly keepIdle = true,
  ) {}

  run(bytes: Uint8Array): Promise<Transpiled> {
    const w = (this.worker ??= this.start());
    const job: TranspileJob = { id: this.nextId++, bytes };
    w.busy(true);
    return new Promise((resolve, reject) => {
      this.waiting.set(job.id, { resolve, reject });
      w.post(job);
    });
  }

  /** Stop the worker (a transpile in progress fails). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private start(): TranspileWorker {
    const w: TranspileWorker = this.spawn({
      answer: (a) => {
        const p = this.waiting.get(a.id);
        if (!p) return;
        this.waiting.delete(a.id);
        if (this.waiting.size === 0) {
          w.busy(false);
          if (!this.keepIdle && this.worker === w) void this.close();
        }
        if (a.ok) p.resolve({ files: a.files, imports: a.imports, exports: a.exports });
        else p.reject(new LatticeError(ErrorCode.BadRequest, a.message));
      },
      died: (why) => {
        if (this.worker === w) this.worker = undefined;
        for (const p of this.waiting.values()) p.reject(new LatticeError(ErrorCode.Internal, `${this.what} failed: ${why}`));
        this.waiting.clear();
      },
    });
    return w;
  }
}
