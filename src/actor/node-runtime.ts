/** The Node actor runtime: components compiled once per digest, instances in worker threads. */
import type { Logger } from "../host/logger.js";
import { ErrorCode, LatticeError } from "../protocol/index.js";
import { ActorPool } from "./actor-pool.js";
import { ComponentCache } from "./component-cache.js";
import type { ActorInstances, ActorRuntime, StartOptions } from "./runtime.js";

export class NodeActorRuntime implements ActorRuntime {
  private readonly cache = new ComponentCache();

  constructor(private readonly log: Logger) {}

  async prepare(bytes: Uint8Array, what: string): Promise<string> {
    return (await this.cache.load(bytes, what)).digest;
  }

  has(digest: string): boolean {
    return this.cache.has(digest);
  }

  async start(opts: StartOptions): Promise<ActorInstances> {
    const component = this.cache.get(opts.digest);
    if (!component) throw new LatticeError(ErrorCode.Internal, `component ${opts.digest} was not prepared on this host`);
    return ActorPool.start({ ...opts, component: await component, log: this.log });
  }

  async close(): Promise<void> {}
}
