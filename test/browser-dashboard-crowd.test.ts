/**
 * The dashboard stays responsive in a big lattice: 50 hosts (one child process, each host its own
 * NATS connection and a 1 s heartbeat) running 500 actor instances, under a steady call load.
 * A click is answered when the page has painted its answer (the scale form's "scaling…" line, a
 * redrawn event list): measured in the page, from the input event's timestamp (when Chromium got
 * the input, so time the page spent busy before it could take the click counts) to the first
 * frame after the answer. Target: a click within 100 ms (the median of nine; the slowest within
 * 300 ms, since test files and other processes share the machine).
 *
 * The instances run on EchoRuntime (test/kit/echo-runtime.ts): 500 Wasm instances would take
 * ~15 GB in worker threads. What the page sees (heartbeats, inventories, events, placement) is
 * the real hosts'.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { startUiServer } from "../src/cli/ui-server.js";
import { LatticeClient } from "../src/ctl/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import type { NatsServer } from "../src/nats/node/index.js";
import { parseArtifactRef } from "../src/protocol/index.js";
import { launchBrowser } from "./kit/browser.js";
import { watEcho } from "./kit/fixtures.js";
import { startCrowd } from "./kit/host-crowd.js";
import { Cleanup, connection, natsServer } from "./kit/lattice.js";
import { sleep, until } from "./kit/poll.js";

const HOSTS = 50;
const ACTORS = 10;
const INSTANCES_EACH = 50;
const CLICK_TARGET_MS = 100;
const WORST_CLICK_MS = 300;
const ECHO = "acme:demo/echo";

/**
 * In the page, for each pointerdown and click: the time from its input event's timestamp to the
 * first frame painted after its handlers ran (what Event Timing calls its duration; a click's
 * answer is the longer of its two). Listening on window in the bubble phase: after the page's own
 * handlers, on the body and below.
 */
function installClickTimer(page: Page): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as { clickTimes: number[] };
    w.clickTimes = [];
    for (const type of ["pointerdown", "click"]) {
      addEventListener(type, (ev) => {
        const input = ev.timeStamp;
        // The next animation frame runs before that frame is painted; the task after it, after.
        requestAnimationFrame(() => setTimeout(() => w.clickTimes.push(performance.now() - input), 0));
      });
    }
  });
}

async function clickTimes(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { clickTimes: number[] }).clickTimes);
}

describe("the dashboard with 50 hosts and 500 actor instances", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let client: LatticeClient;
  let page: Page;
  let pageConsole: string[];
  let stopLoad = false;
  let load: Promise<number>;

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {}, websocket: { port: 0 } });
    const nc = await connection(cleanup, nats.clientUrl);
    await new ArtifactStore(nc, "default").put(parseArtifactRef("echo:1"), await watEcho());
    client = new LatticeClient(nc, "default");
    const crowd = await startCrowd(cleanup, nats.clientUrl, HOSTS);
    assert.equal(crowd.hostIds.length, HOSTS);
    await until(async () => (await client.hosts()).replies.length === HOSTS, 30_000, `${HOSTS} hosts answering`);
    for (let i = 0; i < ACTORS; i++) {
      const r = await client.startActor({ actorId: `a${i}`, ref: "echo:1", instances: INSTANCES_EACH });
      assert.equal(r.unplaced, 0, `a${i}: ${JSON.stringify(r)}`);
    }
    const inventories = (await client.inventories()).replies;
    assert.equal(
      inventories.flatMap((h) => h.actors).reduce((n, a) => n + a.instances, 0),
      ACTORS * INSTANCES_EACH,
    );

    // A steady light load, so that rates move while the page is measured.
    load = (async () => {
      let calls = 0;
      while (!stopLoad) {
        await Promise.all(Array.from({ length: 10 }, (_, k) => client.call(`a${k}`, ECHO, "echo", [`m${calls}`])));
        calls += 10;
        await sleep(50);
      }
      return calls;
    })();

    const ui = await startUiServer({ port: 0, bind: "127.0.0.1", config: { servers: [nats.websocketUrl!], lattice: "default", auth: {} } });
    cleanup.add(() => ui.close());
    const browser = await launchBrowser(cleanup);
    const opened = await browser.open(`${ui.url}/`);
    page = opened.page;
    pageConsole = opened.console;
  });
  after(async () => {
    stopLoad = true;
    await load?.catch(() => undefined);
    await cleanup.run();
  });

  it("shows every host and instance, then answers a click within 100 ms", async () => {
    try {
      await page.waitForSelector(`#hosts li[data-kind="server"] >> nth=${HOSTS - 1}`, { timeout: 30_000 });
      await page.waitForFunction(
        (want) => Array.from(document.querySelectorAll<HTMLElement>("#actors-body tr[data-actor-id]")).reduce((n, r) => n + Number(r.dataset["count"] ?? 0), 0) === want,
        ACTORS * INSTANCES_EACH,
        { timeout: 30_000 },
      );
    } catch (e) {
      throw new Error(`the page never showed the whole lattice: ${String(e)}\npage console:\n${pageConsole.join("\n")}`);
    }
    assert.equal(await page.locator("#hosts li").count(), HOSTS);
    // The rates come from two inventories in a row: the page has taken at least two rounds of 50.
    await page.waitForSelector('#actors-body tr[data-actor-id="a0"]:not([data-rate="0"])', { timeout: 15_000 });
    await installClickTimer(page);

    // Scale a0 up and down by a click, five times; each answer is also checked where the CLI looks.
    const row = page.locator('#actors-body tr[data-actor-id="a0"]');
    // Ends on the way up: 60.
    for (let i = 0; i < 5; i++) {
      const n = i % 2 === 0 ? INSTANCES_EACH + 10 : INSTANCES_EACH;
      await row.locator("input.scale-input").fill(String(n));
      await row.locator('button[data-action="scale"]').click();
      await page.waitForSelector('#actor-msg[data-state="ok"]', { timeout: 30_000 });
      assert.match((await page.textContent("#actor-msg")) ?? "", new RegExp(`^scaled a0`));
      await page.waitForSelector(`#actors-body tr[data-actor-id="a0"][data-count="${n}"]`, { timeout: 30_000 });
    }
    // And a click that redraws the event list (heartbeats shown, then hidden).
    for (let i = 0; i < 4; i++) {
      await page.click("#show-heartbeats");
      await page.waitForFunction((on) => (document.getElementById("show-heartbeats") as HTMLInputElement).checked === on, i % 2 === 0);
      await sleep(100);
    }
    await until(async () => (await clickTimes(page)).length === 18, 5_000, "all nine clicks timed");
    const times = await clickTimes(page);
    console.log(`# pointerdown and click answered in (ms): ${times.map((t) => t.toFixed(1)).join(", ")}`);
    // The target holds for the typical click; one click may wait on the other test files and
    // processes sharing the machine, so the worst is held to a bound that still catches a page
    // that redraws everything (seconds with 500 instances), not to the target.
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const all = times.map((x) => x.toFixed(1)).join(", ");
    assert.ok(median <= CLICK_TARGET_MS, `the median click took ${median.toFixed(1)} ms to be answered (target ${CLICK_TARGET_MS} ms): ${all}`);
    assert.ok(sorted[sorted.length - 1]! <= WORST_CLICK_MS, `a click took ${sorted[sorted.length - 1]!.toFixed(1)} ms to be answered (bound ${WORST_CLICK_MS} ms): ${all}`);

    const inv = (await client.inventories()).replies;
    assert.equal(inv.flatMap((h) => h.actors.filter((a) => a.id === "a0")).reduce((n, a) => n + a.instances, 0), INSTANCES_EACH + 10);
  });
});
