/**
 * A browser tab as a lattice host, in a real Chromium: it joins with kind=browser, answers like
 * any host (bad input included), keeps its place while hidden, and leaves when closed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Page } from "playwright-core";
import { startUiServer, type UiServer } from "../src/cli/ui-server.js";
import type { Host } from "../src/host/index.js";
import type { NatsServer } from "../src/nats/node/server-launcher.js";
import { ControlOp, EventType, Subjects, type HostInfo } from "../src/protocol/index.js";
import { launchBrowser, type TestBrowser } from "./kit/browser.js";
import { cliJson } from "./kit/cli.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const text = new TextDecoder();
const subjects = new Subjects("default");
type Reply = { ok: boolean; error?: { code: string; message: string }; data?: unknown };
type Event = { type: string; source: string; data: Record<string, unknown> };

/** The tab's host id once it runs (or its page state and console when it does not). */
async function runningHost(page: Page, consoleLines: string[]): Promise<string> {
  const state = await until(
    () => page.evaluate(() => (document.body.dataset.state === "connecting" ? undefined : document.body.dataset.state)),
    30_000,
    "the host page to connect",
  );
  assert.equal(state, "running", `page state ${state}: ${await page.locator("#status").textContent()}\n${consoleLines.join("\n")}`);
  return (await page.evaluate(() => document.body.dataset.hostId))!;
}

/** Every event of `type` from `source`, as they come. */
function eventsOf(nc: NatsConnection, type: EventType, source: string): Array<{ at: number; event: Event }> {
  const seen: Array<{ at: number; event: Event }> = [];
  nc.subscribe(subjects.event(type), {
    callback: (_err, m) => {
      const event = JSON.parse(text.decode(m.data)) as Event;
      if (event.source === source) seen.push({ at: Date.now(), event });
    },
  });
  return seen;
}

describe("browser host", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let ui: UiServer;
  let chromium: TestBrowser;
  let nc: NatsConnection;
  let node: Host;
  const cli = (...args: string[]) => cliJson<HostInfo[]>([...args, "--nats-url", nats.clientUrl]);

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {}, websocket: { port: 0 } });
    ui = await startUiServer({ port: 0, bind: "127.0.0.1", config: { servers: [nats.websocketUrl!], lattice: "default", auth: {} } });
    cleanup.add(() => ui.close());
    chromium = await launchBrowser(cleanup);
    nc = await connection(cleanup, nats.clientUrl);
    node = await host(cleanup, nats.clientUrl, { name: "node-side" });
  });
  after(cleanup.run);

  it("joins the lattice as a host labelled kind=browser, with the page's name and labels", async () => {
    const { page, console: lines } = await chromium.open(`${ui.url}/host?name=tab1&label=zone=desk`);
    const id = await runningHost(page, lines);
    const hosts = await cli("get", "hosts");
    const tab = hosts.find((h) => h.id === id);
    assert.ok(tab, `tab1 (${id}) not among ${hosts.map((h) => h.name).join(", ")}`);
    assert.equal(tab.name, "tab1");
    assert.deepEqual(tab.labels, { kind: "browser", zone: "desk" });
    assert.equal(tab.accepts?.providers, false);
    // The Node host's view has it too, from the tab's own announcement.
    await until(() => node.view.hosts().some((h) => h.info.id === id), 10_000, "the Node host to see the tab");
    await page.close();
  });

  it("answers malformed control requests with the same structured errors as a Node host", async () => {
    const { page, console: lines } = await chromium.open(`${ui.url}/host?name=sturdy-tab`);
    const id = await runningHost(page, lines);
    const ask = async (subject: string, payload: string | Uint8Array) => JSON.parse(text.decode((await nc.request(subject, payload, { timeout: 5_000 })).data)) as Reply;
    const ping = subjects.controlHost(id, ControlOp.Ping);
    assert.equal((await ask(ping, "{not json")).error?.code, "bad_request");
    assert.equal((await ask(ping, "[1,2,3]")).error?.code, "bad_request");
    assert.equal((await ask(ping, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).error?.code, "bad_request");
    assert.equal((await ask(`lattice.default.ctl.v1.host.${id}.self_destruct`, "{}")).error?.code, "unknown_operation");
    // And it still answers a good one.
    const good = await ask(ping, "{}");
    assert.equal(good.ok, true, JSON.stringify(good));
    assert.equal((good.data as HostInfo).id, id);
    await page.close();
  });

  it("keeps heartbeating while hidden: its beats come from a Worker, the page's own timers are throttled", async () => {
    // 300 ms beats: a view drops the host after 4 missed ones (1.2 s), well inside the page's
    // throttled 1 s timer period, so only beats timed outside the page's own timers keep it.
    const { page, console: lines } = await chromium.open(`${ui.url}/host?name=hidden-tab&heartbeat=300`);
    const id = await runningHost(page, lines);
    const show = await chromium.hide(page);
    const beats = eventsOf(nc, EventType.HostHeartbeat, id);
    await page.evaluate(() => {
      const w = window as unknown as { ticks: number };
      w.ticks = 0;
      setInterval(() => w.ticks++, 100);
    });
    const hiddenMs = 4_000;
    await new Promise((r) => setTimeout(r, hiddenMs));
    const pageTicks = await page.evaluate(() => (window as unknown as { ticks: number }).ticks);
    assert.equal(await page.evaluate(() => document.visibilityState), "hidden");
    // The page's 100 ms timer ran at most about once a second: the tab really is throttled.
    assert.ok(pageTicks <= hiddenMs / 1_000 + 2, `page timer ticked ${pageTicks} times in ${hiddenMs} ms while hidden`);
    assert.ok(beats.length >= 10, `${beats.length} heartbeats in ${hiddenMs} ms hidden, 300 ms apart`);
    const gaps = beats.slice(1).map((b, i) => b.at - beats[i]!.at);
    assert.ok(Math.max(...gaps) < 4 * 300, `a gap of ${Math.max(...gaps)} ms between heartbeats (expiry at 1200 ms)`);
    assert.ok(node.view.hosts().some((h) => h.info.id === id), "the Node host's view dropped the hidden tab");
    await show();
    await page.close();
  });

  it("says goodbye when the tab is closed: every view drops it at once", async () => {
    const { page, console: lines } = await chromium.open(`${ui.url}/host?name=closing-tab`);
    const id = await runningHost(page, lines);
    await until(() => node.view.hosts().some((h) => h.info.id === id), 10_000, "the Node host to see the tab");
    const stopped = eventsOf(nc, EventType.HostStopped, id);
    const closedAt = Date.now();
    await page.close({ runBeforeUnload: true });
    await until(() => stopped.length > 0, 5_000, "host_stopped from the closed tab");
    assert.equal(stopped[0]!.event.data.reason, "page closed");
    // Well before 4 heartbeats (4 s): the goodbye, not the expiry, removed it.
    await until(() => !node.view.hosts().some((h) => h.info.id === id), 5_000, "the Node host's view to drop the tab");
    assert.ok(Date.now() - closedAt < 3_000, `dropped ${Date.now() - closedAt} ms after the close`);
    const hosts = await cli("get", "hosts");
    assert.ok(!hosts.some((h) => h.id === id), "lattice get hosts still lists the closed tab");
  });

  it("a tab that dies without a goodbye expires like any dead host", async () => {
    const { page, console: lines } = await chromium.open(`${ui.url}/host?name=crashing-tab&heartbeat=500`);
    const id = await runningHost(page, lines);
    await until(() => node.view.hosts().some((h) => h.info.id === id), 10_000, "the Node host to see the tab");
    const stopped = eventsOf(nc, EventType.HostStopped, id);
    const cdp = await page.context().newCDPSession(page);
    const crashedAt = Date.now();
    void cdp.send("Page.crash").catch(() => undefined); // never answered: the page dies first
    await until(() => !node.view.hosts().some((h) => h.info.id === id), 10_000, "the Node host's view to expire the tab");
    const after = Date.now() - crashedAt;
    assert.equal(stopped.length, 0, "a crashed tab cannot have said goodbye");
    assert.ok(after >= 1_000 && after < 4 * 500 + 2_000, `expired ${after} ms after the crash (4 beats of 500 ms)`);
  });

  it("a page whose credentials the lattice refuses says so", async () => {
    const guarded = await natsServer(cleanup, { websocket: { port: 0 }, authorization: { user: "lattice", password: "right" } });
    const wrong = await startUiServer({
      port: 0,
      bind: "127.0.0.1",
      config: { servers: [guarded.websocketUrl!], lattice: "default", auth: { user: "lattice", password: "wrong" } },
    });
    cleanup.add(() => wrong.close());
    const { page } = await chromium.open(`${wrong.url}/host?name=refused-tab`);
    const state = await until(() => page.evaluate(() => (document.body.dataset.state === "connecting" ? undefined : document.body.dataset.state)), 30_000, "the page to give up");
    assert.equal(state, "refused");
    assert.match((await page.locator("#status").textContent()) ?? "", /refused this page's credentials/);
    await page.close();
  });
});
