/**
 * Time from `host.start()` to the new host being in another host's view, on loopback.
 * Each run starts a fresh host (own connection, own nkey) and stops it afterwards.
 */
import { Host } from "../src/host/index.js";
import { connectNode } from "../src/nats/node/index.js";
import { summarize, type Summary } from "./stats.js";

export interface DiscoveryResult {
  /** host.start() called → the observer's view has the host. */
  seenByOtherView: Summary;
  /** host.start() called → start() resolved (connected, subscribed, announced). */
  startResolved: Summary;
}

export async function hostDiscovery(servers: string, runs = 20, warmup = 3): Promise<DiscoveryResult> {
  const observer = new Host({ servers, connect: connectNode, name: "observer" });
  await observer.start();
  const seen: number[] = [];
  const started: number[] = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const h = new Host({ servers, connect: connectNode, name: `bench-${i}` });
      let seenAt = 0;
      const inView = new Promise<void>((resolve) => {
        const off = observer.view.onChange((c) => {
          if (c.kind === "added" && c.host.info.id === h.id) {
            seenAt = performance.now();
            off();
            resolve();
          }
        });
      });
      const t0 = performance.now();
      await h.start();
      const startedAt = performance.now();
      await inView;
      if (i >= warmup) {
        seen.push(seenAt - t0);
        started.push(startedAt - t0);
      }
      await h.stop();
    }
  } finally {
    await observer.stop();
  }
  return { seenByOtherView: summarize(seen), startResolved: summarize(started) };
}
