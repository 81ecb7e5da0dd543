/**
 * The control plane with 1,000 actor instances over 50 hosts: 50 real hosts in a crowd process
 * (test/kit/host-crowd.ts, each its own connection, lean presence, 1 s heartbeat) whose instances
 * are in-process echoes (test/kit/echo-runtime.ts: 1,000 Wasm instances would take 20-31 GB on
 * this machine; bench/memory.ts measures what one costs), and a 51st host in this process
 * running the app reconciler.
 *
 * - `startToReadyMs`: ten actors of 100 instances each started one after another with
 *   `startActor` (placement over the 50 hosts), until the inventories hold all 1,000;
 * - `inventoryMs`: one `inventories()` of the 50 lean hosts, ten times: no answer carries a count
 *   of live hosts, so each waits out the 250 ms stall; `inventoryLiveMs`: the same once the
 *   reconciler leads, whose live view's count ends it as soon as all 51 have answered;
 * - `apps`: 100 apps of one component, 2 instances each, deployed at once: until every app's
 *   status says deployed, then the reconciler's pass time over the next passes (each looks at
 *   all 100 apps and the 51 inventories).
 */
import { AppStore, parseManifest, reconcilerExtension, type ReconcilerExtension } from "../src/apps/index.js";
import { LatticeClient } from "../src/ctl/index.js";
import { Host, silentLogger } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { connectNode } from "../src/nats/node/index.js";
import { parseArtifactRef } from "../src/protocol/index.js";
import { EchoRuntime } from "../test/kit/echo-runtime.js";
import { watEcho } from "../test/kit/fixtures.js";
import { startCrowd } from "../test/kit/host-crowd.js";
import { Cleanup, connection, natsServer } from "../test/kit/lattice.js";
import { until } from "../test/kit/poll.js";
import { summarize, type Summary } from "./stats.js";

const HOSTS = 50;
const ACTORS = 10;
const EACH = 100;
const APPS = 100;

export interface InstancesScale {
  hosts: number;
  instances: number;
  startToReadyMs: number;
  inventoryMs: Summary;
  inventoryLiveMs: Summary;
  apps: { count: number; instancesEach: number; deployedMs: number; passMs: Summary };
}

function appManifest(i: number): string {
  return `
name: app-${i}
version: v1
components:
  - id: app-${i}-echo
    actor: scale-echo:1
    placement: { spread: { instances: 2 } }
`;
}

export async function instancesScale(): Promise<InstancesScale> {
  const cleanup = new Cleanup();
  try {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const nc = await connection(cleanup, nats.clientUrl);
    await new ArtifactStore(nc, "default").put(parseArtifactRef("scale-echo:1"), await watEcho());
    const client = new LatticeClient(nc, "default");
    await startCrowd(cleanup, nats.clientUrl, HOSTS, "inst", "lean");
    await until(async () => (await client.hosts()).replies.length >= HOSTS, 60_000, `${HOSTS} hosts answering`);

    const total = async () => (await client.inventories()).replies.flatMap((h) => h.actors).reduce((n, a) => n + a.instances, 0);
    const t0 = performance.now();
    for (let i = 0; i < ACTORS; i++) await client.startActor({ actorId: `inst-${i}`, ref: "scale-echo:1", instances: EACH });
    await until(async () => (await total()) >= ACTORS * EACH, 120_000, `${ACTORS * EACH} instances in the inventories`);
    const startToReadyMs = Math.round(performance.now() - t0);

    const gathers = async (): Promise<Summary> => {
      const ms: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        await client.inventories();
        ms.push(performance.now() - t);
      }
      return summarize(ms);
    };
    const inventoryMs = await gathers();
    for (let i = 0; i < ACTORS; i++) await client.stopActor(`inst-${i}`);

    // The reconciler's host: started last, so it is the only candidate and leads.
    const extension: ReconcilerExtension = reconcilerExtension({ intervalMs: 1_000 });
    const reconciling = new Host({ servers: nats.clientUrl, connect: connectNode, logger: silentLogger, name: "reconciler", presence: "lean", actors: new EchoRuntime(), extensions: [extension] });
    cleanup.add(() => reconciling.stop("bench done"));
    await reconciling.start();
    const store = new AppStore(nc, "default");
    const t1 = performance.now();
    await Promise.all(Array.from({ length: APPS }, (_, i) => store.deploy(parseManifest(appManifest(i)))));
    await until(
      async () => {
        const s = await Promise.all(Array.from({ length: APPS }, (_, i) => store.status(`app-${i}`)));
        return s.every((x) => x?.phase === "deployed");
      },
      300_000,
      `${APPS} apps deployed`,
      250,
    );
    const deployedMs = Math.round(performance.now() - t1);
    const inventoryLiveMs = await gathers();
    const passMs: number[] = [];
    const reconciler = extension.reconciler!;
    for (let passes = reconciler.stats.passes; passMs.length < 5; ) {
      await until(() => reconciler.stats.passes > passes, 30_000, "another reconciler pass");
      passes = reconciler.stats.passes;
      passMs.push(reconciler.stats.lastPassMs);
    }
    return { hosts: HOSTS + 1, instances: ACTORS * EACH, startToReadyMs, inventoryMs, inventoryLiveMs, apps: { count: APPS, instancesEach: 2, deployedMs, passMs: summarize(passMs) } };
  } finally {
    await cleanup.run();
  }
}
