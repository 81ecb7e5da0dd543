/**
 * An actor runtime whose instances are plain objects in the host's process: each answers
 * `acme:demo/echo.echo` with its argument. For tests about the size of a lattice (how many
 * hosts and instances the dashboard or a view keeps up with), where what runs inside an instance
 * does not matter: a Wasm instance in its own worker thread costs ~31 MB (measured: 500 of
 * them took 15.7 GB), so a crowd of them does not fit a test machine. Everything above the
 * runtime (presence, inventories, placement, invocation over NATS) is the real host.
 */
import type { ActorInstances, ActorRuntime, InstanceLoad, InstanceStats, Invocation, StartOptions } from "../../src/actor/runtime.js";
import { digestOf } from "../../src/nats/wasm-binary.js";
import { ErrorCode, LatticeError } from "../../src/protocol/index.js";

class EchoInstances implements ActorInstances {
  readonly stats: InstanceStats = { calls: 0, failed: 0, traps: 0, timeouts: 0, replaced: 0, refused: 0 };
  private wanted: number;

  constructor(
    readonly digest: string,
    private readonly actorId: string,
    instances: number,
  ) {
    this.wanted = instances;
  }

  get size(): number {
    return this.wanted;
  }

  load(): InstanceLoad {
    return { busy: 0, queued: 0, stuck: 0 };
  }

  invoke(inv: Invocation): Promise<unknown> {
    this.stats.calls++;
    if (inv.iface.startsWith("acme:demo/echo") && inv.fn === "echo") return Promise.resolve(inv.args[0]);
    this.stats.failed++;
    return Promise.reject(new LatticeError(ErrorCode.NotFound, `actor ${this.actorId} exports no function ${inv.iface}.${inv.fn}`));
  }

  scale(n: number): Promise<void> {
    this.wanted = n;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.wanted = 0;
    return Promise.resolve();
  }
}

export class EchoRuntime implements ActorRuntime {
  private readonly digests = new Set<string>();

  async prepare(bytes: Uint8Array): Promise<string> {
    const digest = await digestOf(bytes);
    this.digests.add(digest);
    return digest;
  }

  has(digest: string): boolean {
    return this.digests.has(digest);
  }

  start(opts: StartOptions): Promise<ActorInstances> {
    return Promise.resolve(new EchoInstances(opts.digest, opts.actorId, opts.instances));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
