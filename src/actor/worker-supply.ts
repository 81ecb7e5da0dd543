/**
 * Actor workers made ahead of need. Starting a worker thread costs tens of milliseconds, and so
 * does loading a large component's glue and instantiating it (a JavaScript actor's engine image
 * is ~10 MB); neither needs to know which actor the instance will serve. So the supply keeps a
 * booted blank worker, plus one loaded instance for each of the last few digests it served: a
 * warm start or a scale-up then only binds an instance to its actor.
 */
import { ErrorCode, LatticeError } from "../protocol/index.js";
import type { CompiledComponent } from "./component-cache.js";
import type { HostCallHandler } from "./host-bridge.js";
import { unrefTimer, type HostBridge, type WorkerHandle as Worker, type WorkerPlatform } from "./worker-handle.js";
import type { WorkerLoad, WorkerReply } from "./worker-protocol.js";
/** A worker that has not loaded a component by then is stuck: it is dropped (the take fails). */
const LOAD_TIMEOUT_MS = 60_000;

export interface SupplyOptions {
  /** Booted blank workers to keep (default 1). */
  blank?: number;
  /** Digests for which a loaded instance is kept ready, most recent first (default 4; 0: none). */
  digests?: number;
}

interface Loaded {
  digest: string;
  ready: Promise<Worker>;
}

export class WorkerSupply {
  private readonly blanks: Worker[] = [];
  private loaded: Loaded[] = [];
  private closed = false;
  private readonly blank: number;
  private readonly digests: number;

  constructor(
    private readonly platform: WorkerPlatform,
    opts: SupplyOptions = {},
  ) {
    this.blank = opts.blank ?? 1;
    this.digests = opts.digests ?? 4;
    this.refillBlanks();
  }

  /** A worker holding a fresh instance of `component`, not yet bound to an actor. */
  async take(component: CompiledComponent, forwarded: string[]): Promise<Worker> {
    const i = this.loaded.findIndex((l) => l.digest === component.digest);
    let ready: Promise<Worker>;
    if (i >= 0) {
      ready = this.loaded[i]!.ready;
      this.loaded.splice(i, 1);
    } else {
      ready = this.load(this.blankWorker(), component, forwarded);
    }
    this.prepare(component, forwarded);
    const w = await ready;
    if (this.closed) {
      await w.terminate();
      throw new LatticeError(ErrorCode.Unavailable, "the actor runtime is closing");
    }
    w.keepAlive(true);
    return w;
  }

  /** A bridge for a worker of this platform to call its host through. */
  bridge(handler: HostCallHandler): HostBridge {
    return this.platform.bridge(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    const loaded = this.loaded.splice(0).map((l) => l.ready.then((w) => w.terminate(), () => undefined));
    await Promise.all([...this.blanks.splice(0).map((w) => w.terminate()), ...loaded]);
  }

  /** Keep one loaded instance of this digest ready, dropping the least recently used beyond the limit. */
  private prepare(component: CompiledComponent, forwarded: string[]): void {
    if (this.closed || this.digests === 0) return;
    const entry: Loaded = { digest: component.digest, ready: this.load(this.blankWorker(), component, forwarded) };
    // A spare that fails to load, or dies waiting to be taken, is not handed out.
    const drop = () => (this.loaded = this.loaded.filter((l) => l !== entry));
    void entry.ready.then((w) => w.listen({ message: () => undefined, died: drop }), drop);
    this.loaded.unshift(entry);
    for (const old of this.loaded.splice(this.digests)) void old.ready.then((w) => w.terminate(), () => undefined);
  }

  private blankWorker(): Worker {
    const w = this.blanks.shift() ?? this.platform.spawn();
    this.refillBlanks();
    return w;
  }

  private refillBlanks(): void {
    while (!this.closed && this.blanks.length < this.blank) {
      const w = this.platform.spawn();
      w.listen({
        message: () => undefined,
        died: () => {
          const i = this.blanks.indexOf(w);
          if (i >= 0) this.blanks.splice(i, 1);
        },
      });
      this.blanks.push(w);
    }
  }

  private load(w: Worker, component: CompiledComponent, forwarded: string[]): Promise<Worker> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        w.listen({ message: () => undefined, died: () => undefined });
      };
      const timer = setTimeout(() => {
        done();
        void w.terminate();
        reject(new LatticeError(ErrorCode.Internal, `actor worker did not load ${component.digest} within ${LOAD_TIMEOUT_MS / 1000} s`));
      }, LOAD_TIMEOUT_MS);
      unrefTimer(timer);
      const onExit = (e: Error) => {
        done();
        reject(new LatticeError(ErrorCode.Internal, `actor worker died while loading ${component.digest}: ${e.message}`));
      };
      const onMessage = (m: WorkerReply) => {
        if (m.type !== "loaded" && m.type !== "init_failed") return;
        done();
        if (m.type === "loaded") resolve(w);
        else {
          void w.terminate();
          reject(new LatticeError(ErrorCode.BadRequest, `the component failed to instantiate: ${m.message}`));
        }
      };
      w.listen({ message: onMessage, died: onExit });
      const msg: WorkerLoad = { type: "load", js: component.js, modules: component.modules, forwarded };
      w.post(msg);
    });
  }
}
