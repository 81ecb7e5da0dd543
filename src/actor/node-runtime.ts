/** The Node actor runtime: components compiled once per digest, instances in worker threads. */
import type { Logger } from "../protocol/logging.js";
import { ErrorCode, LatticeError } from "../protocol/index.js";
import { ActorPool } from "./actor-pool.js";
import { ComponentCache } from "./component-cache.js";
import { Transpiler } from "./transpiler.js";
import type { ActorInstances, ActorRuntime, StartOptions } from "./runtime.js";
import { WorkerSupply, type SupplyOptions } from "./worker-supply.js";

export interface NodeRuntimeOptions extends SupplyOptions {
  /** Where transpiled components are kept (transpiler.ts); false: nowhere, transpile every time. */
  transpileCache?: string | false;
}

export class NodeActorRuntime implements ActorRuntime {
  private readonly transpiler: Transpiler;
  private readonly cache: ComponentCache;
  private workers?: WorkerSupply;

  constructor(
    private readonly log: Logger,
    private readonly opts: NodeRuntimeOptions = {},
  ) {
    this.transpiler = new Transpiler(opts.transpileCache);
    this.cache = new ComponentCache(this.transpiler);
  }

  async prepare(bytes: Uint8Array, what: string): Promise<string> {
    return (await this.cache.load(bytes, what)).digest;
  }

  has(digest: string): boolean {
    return this.cache.has(digest);
  }

  async start(opts: StartOptions): Promise<ActorInstances> {
    const component = this.cache.get(opts.digest);
    if (!component) throw new LatticeError(ErrorCode.Internal, `component ${opts.digest} was not prepared on this host`);
    // Spares are booted on first use, so a host that never runs an actor never starts a worker.
    this.workers ??= new WorkerSupply(this.opts);
    return ActorPool.start({ ...opts, component: await component, log: this.log, workers: this.workers });
  }

  async close(): Promise<void> {
    await Promise.all([this.workers?.close(), this.transpiler.close()]);
    this.workers = undefined;
  }
}
