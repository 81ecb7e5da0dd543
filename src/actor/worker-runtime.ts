/**
 * An actor runtime over any worker platform (worker-handle.ts): components compiled once per
 * digest (component-cache.ts), instances in pools of workers (actor-pool.ts). Node's runtime is
 * this over worker threads (node-runtime.ts), a page's over Web Workers (src/web/).
 */
import type { Logger } from "../protocol/logging.js";
import { ErrorCode, LatticeError } from "../protocol/index.js";
import { ActorPool } from "./actor-pool.js";
import { ComponentCache, type CacheOptions, type ComponentTranspiler } from "./component-cache.js";
import type { ActorInstances, ActorRuntime, StartOptions } from "./runtime.js";
import type { WorkerPlatform } from "./worker-handle.js";
import { WorkerSupply, type SupplyOptions } from "./worker-supply.js";

export interface CollectOptions {
  /**
   * A full garbage collection, run by `settle` after a component was newly compiled: its fetched
   * bytes and its transpiled files (~23 MB for a JavaScript actor) are garbage by then, and an
   * idle host may not have V8 collect them for a long time.
   */
  collectGarbage?: () => void;
}

export class WorkerActorRuntime implements ActorRuntime {
  private readonly cache: ComponentCache;
  private workers?: WorkerSupply;
  /** A component was compiled since the last collection. */
  private compiled = false;

  constructor(
    private readonly log: Logger,
    private readonly platform: WorkerPlatform,
    private readonly transpiler: ComponentTranspiler & { close(): Promise<void> },
    private readonly supply: SupplyOptions = {},
    cache: CacheOptions = {},
    private readonly collect: CollectOptions = {},
  ) {
    this.cache = new ComponentCache(transpiler, cache);
  }

  async prepare(bytes: Uint8Array, what: string): Promise<string> {
    const before = this.cache.compiles;
    const { digest } = await this.cache.load(bytes, what);
    if (this.cache.compiles > before) this.compiled = true;
    return digest;
  }

  has(digest: string): boolean {
    return this.cache.has(digest);
  }

  settle(): void {
    if (!this.compiled || !this.collect.collectGarbage) return;
    this.compiled = false;
    this.collect.collectGarbage();
  }

  async start(opts: StartOptions): Promise<ActorInstances> {
    const component = this.cache.get(opts.digest);
    if (!component) throw new LatticeError(ErrorCode.Internal, `component ${opts.digest} was not prepared on this host`);
    // Spares are booted on first use, so a host that never runs an actor never starts a worker.
    this.workers ??= new WorkerSupply(this.platform, this.supply);
    return ActorPool.start({ ...opts, component: await component, log: this.log, workers: this.workers });
  }

  async close(): Promise<void> {
    await Promise.all([this.workers?.close(), this.transpiler.close()]);
    this.workers = undefined;
  }
}
