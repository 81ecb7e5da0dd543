/**
 * Calls into and out of a browser host, beside the same calls between Node hosts, in one run:
 * a browser tab (`lattice ui`'s /host page in headless Chromium) and a Node host each run the
 * echo actor (a small Wasm component) and the counter actor (JavaScript, increments through
 * wasi:keyvalue linked to the keyvalue provider on a third, Node, host). The bench process calls
 * them one at a time over NATS: echo measures server → browser actor, counter adds the browser
 * actor → server provider hop. The tab talks to NATS over WebSocket, the Node hosts over TCP.
 */
import { Cleanup, connection, host, natsServer } from "../test/kit/lattice.js";
import { launchBrowser } from "../test/kit/browser.js";
import { until } from "../test/kit/poll.js";
import { exampleComponent, watEcho } from "../test/kit/fixtures.js";
import { startUiServer } from "../src/cli/ui-server.js";
import { LatticeClient } from "../src/ctl/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import { parseArtifactRef } from "../src/protocol/index.js";
import { summarize, type Summary } from "./stats.js";

export interface CallLatency {
  /** Milliseconds per call, one at a time, from the bench process. */
  browser: Summary;
  node: Summary;
  /** browser median / node median. */
  medianRatio: number;
}

export interface BrowserResult {
  /** The bench process → the echo actor (Wasm) on the tab vs on a Node host. */
  echo: CallLatency;
  /** The bench process → the counter actor (JavaScript) → the keyvalue provider on a Node host and back. */
  counter: CallLatency;
  calls: number;
}

const ratio = (a: Summary, b: Summary) => Math.round((a.median / b.median) * 100) / 100;

export async function browserCalls(opts: { calls: number } = { calls: 300 }): Promise<BrowserResult> {
  const cleanup = new Cleanup();
  try {
    const nats = await natsServer(cleanup, { jetstream: {}, websocket: { port: 0 } });
    const kvHost = await host(cleanup, nats.clientUrl, { name: "kv-host" });
    const nodeHost = await host(cleanup, nats.clientUrl, { name: "node-host" });
    const ui = await startUiServer({ port: 0, bind: "127.0.0.1", config: { servers: [nats.websocketUrl!], lattice: "default", auth: {} } });
    cleanup.add(() => ui.close());
    const chromium = await launchBrowser(cleanup);
    const tab = await chromium.open(`${ui.url}/host?name=bench-tab`);
    const tabId = await until(() => tab.page.evaluate(() => (document.body.dataset.state === "running" ? document.body.dataset.hostId : undefined)), 30_000, "the tab's host");

    const nc = await connection(cleanup, nats.clientUrl);
    const client = new LatticeClient(nc, "default", { timeoutMs: 5_000 });
    const store = new ArtifactStore(nc, "default");
    await store.put(parseArtifactRef("echo:1"), await watEcho());
    await store.put(parseArtifactRef("counter:1"), await exampleComponent("counter"));
    await client.startProvider({ providerId: "kv", ref: "keyvalue", hostId: kvHost.id });
    const state = new LatticeState(nc, "default");
    await state.putConfig("bench-kv", { bucket: "bench-browser" });
    const placements: Array<[string, string]> = [
      ["browser", tabId],
      ["node", nodeHost.id],
    ];
    for (const [where, hostId] of placements) {
      await client.startActor({ actorId: `echo-${where}`, ref: "echo:1", instances: 1, hostId, timeoutMs: 120_000 });
      await client.startActor({ actorId: `counter-${where}`, ref: "counter:1", instances: 1, hostId, timeoutMs: 120_000 });
      await state.putLink({ source: `counter-${where}`, target: "kv", interface: "wasi:keyvalue", name: "default", config: ["bench-kv"] });
    }

    const time = async (target: string, iface: string, fn: string, args: unknown[]): Promise<Summary> => {
      // Warm: the first calls find the members and settle the router's round-trip estimates.
      await until(async () => (await client.call(target, iface, fn, args).then(() => true, () => false)) || undefined, 30_000, `${target} answering`);
      for (let i = 0; i < 20; i++) await client.call(target, iface, fn, args);
      const ms: number[] = [];
      for (let i = 0; i < opts.calls; i++) {
        const t0 = performance.now();
        await client.call(target, iface, fn, args);
        ms.push(performance.now() - t0);
      }
      return summarize(ms);
    };
    // Alternate browser and node rounds, so that a slower stretch of the machine hits both.
    const echo = { browser: [] as Summary[], node: [] as Summary[] };
    const counter = { browser: [] as Summary[], node: [] as Summary[] };
    for (let round = 0; round < 2; round++) {
      for (const [where] of placements) {
        const w = where as "browser" | "node";
        echo[w].push(await time(`echo-${where}`, "acme:demo/echo", "echo", ["hello"]));
        counter[w].push(await time(`counter-${where}`, "acme:demo/counter", "increment", [`bench-${where}`]));
      }
    }
    const best = (s: Summary[]) => s.reduce((a, b) => (b.median < a.median ? b : a));
    const pair = (x: { browser: Summary[]; node: Summary[] }): CallLatency => {
      const browser = best(x.browser);
      const node = best(x.node);
      return { browser, node, medianRatio: ratio(browser, node) };
    };
    return { echo: pair(echo), counter: pair(counter), calls: opts.calls };
  } finally {
    await cleanup.run();
  }
}
