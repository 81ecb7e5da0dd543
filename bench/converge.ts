/**
 * Time to converge after a host loss: an app (an actor spread over 3 hosts) runs one instance on
 * a host in its own process; the host is SIGKILLed; the clock stops when the app's status says
 * 3 instances run again, all on living hosts. Production defaults: 1 s heartbeat, reconciler
 * interval 1 s (lease 3 s). The reconciling host is never the one killed here.
 */
import { AppStore, parseManifest, reconcilerExtension } from "../src/apps/index.js";
import { Host } from "../src/host/index.js";
import { NodeActorRuntime } from "../src/actor/node-runtime.js";
import { silentLogger } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { connectNode } from "../src/nats/node/index.js";
import { parseArtifactRef, type AppStatus, type HostInfo } from "../src/protocol/index.js";
import { CliProcess } from "../test/kit/cli.js";
import { watEcho } from "../test/kit/fixtures.js";
import { Cleanup } from "../test/kit/lattice.js";
import { until } from "../test/kit/poll.js";
import { summarize, type Summary } from "./stats.js";

const HEARTBEAT_MS = 1_000;

function manifest(round: number): string {
  return `
name: converge-${round}
version: v1
components:
  - id: echo-${round}
    actor: echo:1
    placement: { spread: { instances: 3 } }
`;
}

/** The app's first component is deployed at `instances`, none of them on `goneHost`. */
export function recoveredWithout(s: AppStatus | undefined, goneHost: string, instances: number): boolean {
  const running = s?.components[0]?.running ?? {};
  return s?.phase === "deployed" && !(goneHost in running) && Object.values(running).reduce((n, x) => n + x, 0) === instances;
}

export async function convergeAfterHostLoss(servers: string, rounds = 10): Promise<{ convergeMs: Summary; samples: number[] }> {
  const cleanup = new Cleanup();
  try {
    const stayers: Host[] = [];
    for (const name of ["stay-a", "stay-b"]) {
      const h = new Host({
        servers,
        connect: connectNode,
        name,
        heartbeatMs: HEARTBEAT_MS,
        actors: new NodeActorRuntime(silentLogger),
        extensions: [reconcilerExtension()],
      });
      cleanup.add(() => h.stop());
      await h.start();
      stayers.push(h);
    }
    const nc = stayers[0]!.connection;
    await new ArtifactStore(nc, "default").put(parseArtifactRef("echo:1"), await watEcho());
    const store = new AppStore(nc, "default");
    const samples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const victim = new CliProcess(["host", "--nats-url", servers, "--name", `victim-${round}`, "--heartbeat", `${HEARTBEAT_MS}ms`, "--no-reconcile", "-o", "json", "--log-level", "error"]);
      cleanup.add(() => victim.stop("SIGKILL"));
      const victimId = (await victim.jsonLines<{ host: HostInfo }>(1))[0]!.host.id;
      await stayers[0]!.view.waitFor((v) => v.has(victimId), 10_000);
      const m = parseManifest(manifest(round));
      await store.deploy(m);
      await until(async () => {
        const s = await store.status(m.name);
        return s?.phase === "deployed" && (s.components[0]?.running[victimId] ?? 0) > 0;
      }, 60_000, `${m.name} deployed with an instance on the victim`, 20);
      const killedAt = performance.now();
      await victim.stop("SIGKILL");
      await until(async () => recoveredWithout(await store.status(m.name), victimId, 3), 60_000, `${m.name} back at 3 instances`, 20);
      samples.push(Math.round(performance.now() - killedAt));
      await store.undeploy(m.name);
      await until(async () => (await store.record(m.name)) === undefined, 60_000, `${m.name} undeployed`, 50);
    }
    return { convergeMs: summarize(samples), samples };
  } finally {
    await cleanup.run();
  }
}
