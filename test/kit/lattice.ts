/** In-process hosts and servers for tests, each registered for cleanup. */
import { NodeActorRuntime } from "../../src/actor/node-runtime.js";
import { Host, silentLogger, type HostOptions } from "../../src/host/index.js";
import { connectNode } from "../../src/nats/node/connect.js";
import { NodeProviderLauncher } from "../../src/provider/node-launcher.js";
import { startNatsServer, type LaunchOptions, type NatsServer } from "../../src/nats/node/server-launcher.js";
import type { NatsConnection } from "@nats-io/nats-core";

/** Collects cleanups and runs them in reverse order; pass `cleanup.run` to `after`. */
export class Cleanup {
  private fns: Array<() => unknown> = [];
  add(fn: () => unknown): void {
    this.fns.push(fn);
  }
  run = async (): Promise<void> => {
    const fns = this.fns.reverse();
    this.fns = [];
    for (const fn of fns) {
      try {
        await fn();
      } catch {
        // keep cleaning
      }
    }
  };
}

export async function natsServer(cleanup: Cleanup, opts: LaunchOptions = {}): Promise<NatsServer> {
  const s = await startNatsServer(opts);
  cleanup.add(() => s.stop());
  return s;
}

export async function host(cleanup: Cleanup, servers: string | string[], opts: Partial<HostOptions> = {}): Promise<Host> {
  const h = new Host({ servers, connect: connectNode, heartbeatMs: 500, actors: new NodeActorRuntime(silentLogger), providers: new NodeProviderLauncher({ logLevel: "warn" }), ...opts });
  cleanup.add(() => h.stop("test cleanup"));
  await h.start();
  return h;
}

export async function connection(cleanup: Cleanup, servers: string | string[]): Promise<NatsConnection> {
  const nc = await connectNode({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  cleanup.add(() => nc.close());
  return nc;
}
