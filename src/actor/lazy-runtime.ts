/**
 * An actor runtime loaded when a host first needs it: until its first actor, a small-profile host
 * holds none of the runtime's code (worker supply, pools, the compile cache, the transpiler).
 * `has` answers false until then, which sends the first start down the path that fetches.
 */
import type { ActorInstances, ActorRuntime, StartOptions } from "./runtime.js";

export class LazyActorRuntime implements ActorRuntime {
  private loading?: Promise<ActorRuntime>;
  private loaded?: ActorRuntime;

  constructor(private readonly load: () => Promise<ActorRuntime>) {}

  async prepare(bytes: Uint8Array, what: string): Promise<string> {
    return (await this.runtime()).prepare(bytes, what);
  }

  has(digest: string): boolean {
    return this.loaded?.has(digest) ?? false;
  }

  settle(): void {
    this.loaded?.settle?.();
  }

  async start(opts: StartOptions): Promise<ActorInstances> {
    return (await this.runtime()).start(opts);
  }

  async close(): Promise<void> {
    if (this.loading) await (await this.loading).close();
  }

  private runtime(): Promise<ActorRuntime> {
    this.loading ??= this.load().then((rt) => (this.loaded = rt));
    // A runtime that failed to load is tried again on the next start.
    this.loading.catch(() => (this.loading = undefined));
    return this.loading;
  }
}
