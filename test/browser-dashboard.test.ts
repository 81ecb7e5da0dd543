/**
 * The dashboard of `lattice ui` in a real Chromium, against a real lattice: nats-server with
 * JetStream and WebSocket, two Node hosts running the app reconciler, a browser host in another
 * tab. Everything the page does is checked where the CLI sees it.
 *
 * LATTICE_SCREENSHOT=docs/dashboard.png saves the page once it shows hosts, actors, links and an app.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { reconcilerExtension } from "../src/apps/index.js";
import { startUiServer, type UiServer } from "../src/cli/ui-server.js";
import { LatticeClient } from "../src/ctl/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import type { NatsServer } from "../src/nats/node/index.js";
import { parseArtifactRef, type ActorEntry, type HostInfo, type HostInventory, type Link } from "../src/protocol/index.js";
import { layoutGraph } from "../src/web/dashboard/graph.js";
import { DashboardModel, formatRate } from "../src/web/dashboard/model.js";
import { launchBrowser, type TestBrowser } from "./kit/browser.js";
import { cliJson } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { sleep, until } from "./kit/poll.js";

const ECHO = "acme:demo/echo";

/** Instances of an actor over every host, as `lattice get inventory` reports them. */
function instancesOf(inv: HostInventory[], actorId: string): number {
  return inv.flatMap((h) => h.actors.filter((a) => a.id === actorId)).reduce((n, a) => n + a.instances, 0);
}

async function attr(page: Page, selector: string, name: string): Promise<string | null> {
  return page.locator(selector).first().getAttribute(name, { timeout: 1_000 });
}

describe("the dashboard", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let ui: UiServer;
  let browser: TestBrowser;
  let page: Page;
  let pageConsole: string[];
  let cli: (args: string[]) => Promise<unknown>;
  let client: LatticeClient;

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {}, websocket: { port: 0 } });
    const nc = await connection(cleanup, nats.clientUrl);
    await new ArtifactStore(nc, "default").put(parseArtifactRef("echo:1"), await watEcho());
    client = new LatticeClient(nc, "default");
    // One extension per host: each runs its own reconciler.
    const reconciling = () => ({ extensions: [reconcilerExtension({ intervalMs: 500 })] });
    await host(cleanup, nats.clientUrl, { name: "node-a", labels: { zone: "east" }, ...reconciling() });
    await host(cleanup, nats.clientUrl, { name: "node-b", labels: { zone: "west" }, ...reconciling() });
    ui = await startUiServer({ port: 0, bind: "127.0.0.1", config: { servers: [nats.websocketUrl!], lattice: "default", auth: {} } });
    cleanup.add(() => ui.close());
    browser = await launchBrowser(cleanup);
    cli = (args) => cliJson([...args, "--nats-url", nats.clientUrl]);
    await browser.open(`${ui.url}/host?name=tab-1&label=room=lab`);
    const opened = await browser.open(`${ui.url}/`);
    page = opened.page;
    pageConsole = opened.console;
    await page.waitForSelector('body[data-state="live"]', { timeout: 15_000 });
  });
  after(cleanup.run);

  /** Fails with what the page printed, which is what one needs to see why. */
  const waitFor = async (selector: string, what: string, timeout = 15_000) => {
    try {
      await page.waitForSelector(selector, { timeout });
    } catch (e) {
      throw new Error(`${what}: ${String(e)}\npage console:\n${pageConsole.join("\n")}`);
    }
  };

  it("shows the hosts with their labels, the browser host apart", async () => {
    await waitFor('#hosts li[data-kind="server"] >> nth=1', "both Node hosts");
    await waitFor('#hosts li[data-kind="browser"]', "the browser host");
    const browserHost = page.locator('#hosts li[data-kind="browser"]');
    assert.equal(await browserHost.locator(".host-name").textContent(), "tab-1");
    assert.deepEqual((await browserHost.locator("[data-label]").allTextContents()).sort(), ["kind=browser", "room=lab"]);
    const a = page.locator('#hosts li[data-kind="server"]', { hasText: "node-a" });
    assert.deepEqual(await a.locator("[data-label]").allTextContents(), ["zone=east"]);
    const hosts = (await cli(["get", "hosts"])) as Array<{ id: string; labels: Record<string, string> }>;
    assert.equal(hosts.length, 3);
    for (const h of hosts) assert.equal(await page.locator(`#hosts li[data-host-id="${h.id}"]`).count(), 1, `host ${h.id} on the page`);
  });

  it("starts an actor, scales it with a click, and shows its calls per second", async () => {
    await page.fill("#start-ref", "echo:1");
    await page.fill("#start-id", "echo");
    await page.fill("#start-instances", "1");
    await page.click('#start-form button[type="submit"]');
    await waitFor('#actors-body tr[data-actor-id="echo"][data-count="1"]', "echo with 1 instance");
    assert.match((await page.textContent("#start-msg")) ?? "", /started echo on (node-[ab]|tab-1): 0 → 1/);
    assert.equal(instancesOf((await cli(["get", "inventory"])) as HostInventory[], "echo"), 1);

    const row = page.locator('#actors-body tr[data-actor-id="echo"]');
    await row.locator("input.scale-input").fill("3");
    await row.locator('button[data-action="scale"]').click();
    await until(async () => instancesOf((await cli(["get", "inventory"])) as HostInventory[], "echo") === 3, 15_000, "3 instances of echo in `lattice get inventory`");
    await waitFor('#actors-body tr[data-actor-id="echo"][data-count="3"]', "echo with 3 instances on the page");
    // Spread one per host, least loaded first: the browser tab runs actors like the Node hosts.
    const perHost = await row.locator(".per-host [data-count]").evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset["count"])));
    assert.deepEqual(perHost, [1, 1, 1]);

    // Calls, then a rate above zero from two inventories.
    let stopCalls = false;
    const calling = (async () => {
      for (let i = 0; i < 200 && !stopCalls; i++) {
        assert.equal(await client.call("echo", ECHO, "echo", [`m${i}`]), `m${i}`);
        await sleep(10);
      }
    })();
    try {
      await until(async () => Number((await attr(page, '#actors-body tr[data-actor-id="echo"]', "data-rate")) || 0) > 1, 15_000, "a call rate above 1/s on the page");
    } finally {
      stopCalls = true;
      await calling;
    }
  });

  it("puts a link from the page and draws it", async () => {
    const put = async (source: string, target: string, iface: string) => {
      await page.fill("#link-source", source);
      await page.fill("#link-target", target);
      await page.fill("#link-interface", iface);
      await page.click('#link-form button[type="submit"]');
      await waitFor(`#links-body tr[data-link="${source} ${iface} default"]`, `the link ${source} → ${target}`);
    };
    // A provider for the links to reach: a node of its own kind in the graph.
    const kv = await client.startProvider({ providerId: "kv", ref: "keyvalue", constraints: { zone: "east" } });
    await waitFor(`#providers-body tr[data-provider-id="kv"][data-host-id="${kv.hostId}"][data-state="running"]`, "the keyvalue provider");
    await put("http", "echo", "wasi:http/incoming-handler");
    await put("echo", "kv", "wasi:keyvalue/store");
    const links = (await cli(["get", "links"])) as Link[];
    assert.deepEqual(
      links.map((l) => [l.source, l.target, l.interface, l.name]),
      [
        ["echo", "kv", "wasi:keyvalue/store", "default"],
        ["http", "echo", "wasi:http/incoming-handler", "default"],
      ],
    );
    await waitFor('svg.graph g.edge[data-edge="echo wasi:keyvalue/store default"]', "the edge echo → kv");
    assert.equal(await page.locator("svg.graph g.edge").count(), 2);
    assert.equal(await attr(page, 'svg.graph g.node[data-node="echo"]', "data-kind"), "actor");
    assert.equal(await attr(page, 'svg.graph g.node[data-node="kv"]', "data-kind"), "provider");
    assert.equal(await attr(page, 'svg.graph g.node[data-node="http"]', "data-kind"), "unknown");
    assert.equal(await page.locator("svg.graph g.node").count(), 3);

    // And one deleted from the page.
    await put("echo", "nowhere", "acme:demo/thing");
    await page.locator('#links-body tr[data-link="echo acme:demo/thing default"] button[data-action="unlink"]').click();
    await until(async () => ((await cli(["get", "links"])) as Link[]).every((l) => l.interface !== "acme:demo/thing"), 10_000, "the link deleted");
    await page.waitForSelector('#links-body tr[data-link="echo acme:demo/thing default"]', { state: "detached", timeout: 10_000 });
  });

  it("shows a manifest's problems with their lines, and deploys an app", async () => {
    const bad = ["name: greeter", "version: v1", "components:", "  - id: greet", "    actor: echo:1", "    placement:", "      spread:", "        instances: -2", ""].join("\n");
    await page.fill("#manifest", bad);
    await page.click('#deploy-form button[type="submit"]');
    await waitFor("#manifest-problems li", "the manifest's problems");
    const problem = page.locator("#manifest-problems li").first();
    assert.equal(await problem.getAttribute("data-line"), "8");
    assert.match((await problem.getAttribute("data-path")) ?? "", /instances/);
    assert.equal(await page.getAttribute("#deploy-msg", "data-state"), "error");

    const good = ["name: greeter", "version: v1", "components:", "  - id: greet", "    actor: echo:1", "    placement:", "      spread:", "        instances: 2", ""].join("\n");
    await page.fill("#manifest", good);
    await page.click('#deploy-form button[type="submit"]');
    await waitFor('#apps-body tr[data-app="greeter"]', "the app listed");
    assert.equal(await page.textContent("#deploy-msg"), "app greeter v1 deployed");
    await waitFor('#apps-body tr[data-app="greeter"][data-phase="deployed"]', "the app deployed", 30_000);
    const apps = (await cli(["app", "list"])) as Array<{ name: string; deployed: string; phase: string }>;
    assert.deepEqual(
      apps.map((a) => [a.name, a.deployed, a.phase]),
      [["greeter", "v1", "deployed"]],
    );
    await waitFor('#actors-body tr[data-actor-id="greet"][data-count="2"]', "the app's actor");
    assert.ok((await page.locator('#events li[data-type="app_status"]').count()) > 0, "app_status in the event stream");
    assert.ok((await page.locator('#events li[data-type="actor_scaled"]').count()) > 0, "actor_scaled in the event stream");

    const shot = process.env["LATTICE_SCREENSHOT"];
    if (shot) {
      await page.fill("#manifest", "");
      await page.evaluate(() => document.querySelectorAll(".msg").forEach((m) => (m.textContent = "")));
      // Some traffic, for the rates.
      const until = Date.now() + 4_500;
      for (let i = 0; Date.now() < until; i++) await client.call("echo", ECHO, "echo", [`s${i}`]);
      await page.evaluate(() => {
        (document.activeElement as HTMLElement | null)?.blur();
        scrollTo(0, 0);
      });
      await page.screenshot({ path: shot, fullPage: true });
    }
  });

  it("shows the lattice's errors readably", async () => {
    await page.fill("#start-ref", "missing:9");
    await page.fill("#start-id", "missing");
    await page.fill("#start-instances", "1");
    await page.click('#start-form button[type="submit"]');
    await until(async () => (await page.getAttribute("#start-msg", "data-state")) === "error", 30_000, "the start's error");
    const said = (await page.textContent("#start-msg")) ?? "";
    assert.match(said, /missing:9/);
    if (process.env["LATTICE_DEBUG"]) console.log(said);

    const row = page.locator('#actors-body tr[data-actor-id="echo"]');
    await row.locator("input.scale-input").fill("-1");
    await row.locator('button[data-action="scale"]').click();
    await until(async () => (await page.getAttribute("#actor-msg", "data-state")) === "error", 5_000, "the scale's error");
    assert.match((await page.textContent("#actor-msg")) ?? "", /whole number/);

    await row.locator('button[data-action="stop"]').click();
    await until(async () => instancesOf((await cli(["get", "inventory"])) as HostInventory[], "echo") === 0, 15_000, "echo stopped");
    await page.waitForSelector('#actors-body tr[data-actor-id="echo"]', { state: "detached", timeout: 10_000 });
  });
});

describe("the dashboard with credentials the lattice refuses", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("says so", async () => {
    const nats = await natsServer(cleanup, { websocket: { port: 0 }, authorization: { user: "admin", password: "right" } });
    const ui = await startUiServer({ port: 0, bind: "127.0.0.1", config: { servers: [nats.websocketUrl!], lattice: "default", auth: { user: "admin", password: "wrong" } } });
    cleanup.add(() => ui.close());
    const browser = await launchBrowser(cleanup);
    const { page } = await browser.open(`${ui.url}/`);
    await page.waitForSelector('body[data-state="refused"]', { timeout: 15_000 });
    assert.match((await page.textContent("#status")) ?? "", /refused this page's credentials/);
  });
});

describe("the dashboard's arithmetic", () => {
  const info = (id: string, name: string): HostInfo => ({
    id,
    name,
    lattice: "default",
    labels: {},
    version: "0",
    startedAt: new Date(0).toISOString(),
    heartbeatMs: 1_000,
    uptimeSeconds: 1,
  });
  const actor = (id: string, instances: number, calls?: number): ActorEntry => ({
    id,
    ref: `${id}:1`,
    digest: "sha256:00",
    instances,
    startedAt: new Date(0).toISOString(),
    constraints: {},
    load: { busy: 0, queued: 0, stuck: 0, replaced: 0, ...(calls !== undefined ? { calls } : {}) },
  });

  it("derives calls per second from successive inventories, over hosts", () => {
    let now = 10_000;
    const m = new DashboardModel(() => now);
    const inv = (host: HostInfo, actors: ActorEntry[]): HostInventory => ({ host, actors, providers: [] });
    const [a, b] = [info("A", "a"), info("B", "b")];
    m.seeInventory(inv(a, [actor("echo", 2, 100), actor("old", 1)]));
    m.seeInventory(inv(b, [actor("echo", 1, 0)]));
    assert.equal(m.actors().find((r) => r.id === "echo")?.rate, undefined, "one sample gives no rate");
    now += 2_000;
    m.seeInventory(inv(a, [actor("echo", 2, 300), actor("old", 1)]));
    m.seeInventory(inv(b, [actor("echo", 1, 50)]));
    const echo = m.actors().find((r) => r.id === "echo")!;
    assert.equal(echo.total, 3);
    assert.equal(echo.rate, 100 + 25);
    assert.equal(m.actors().find((r) => r.id === "old")?.rate, undefined, "a host that counts no calls gives no rate");
    // A counter that went back (the actor restarted there) starts over.
    now += 1_000;
    m.seeInventory(inv(b, [actor("echo", 1, 5)]));
    assert.equal(m.actors().find((r) => r.id === "echo")?.rate, 100 + 25);
    now += 1_000;
    m.seeInventory(inv(b, [actor("echo", 1, 15)]));
    assert.equal(m.actors().find((r) => r.id === "echo")?.rate, 100 + 10);
    assert.equal(formatRate(110), "110/s");
    assert.equal(formatRate(2.25), "2.3/s");
    assert.equal(formatRate(undefined), "–");
    // A host silent for 3 of its beats is dropped, its rates with it.
    now += 4_100;
    assert.deepEqual(m.expire().sort(), ["A", "B"]);
    assert.deepEqual(m.actors(), []);
  });

  it("lays links out left to right by who calls whom, cycles included", () => {
    const link = (source: string, target: string, iface: string): Link => ({ source, target, interface: iface, name: "default", config: [], updatedAt: new Date(0).toISOString() });
    const g = layoutGraph([link("http", "counter", "wasi:http/incoming-handler"), link("counter", "kv", "wasi:keyvalue/store"), link("kv", "counter", "acme:x/y")], () => "actor");
    const x = Object.fromEntries(g.nodes.map((n) => [n.id, n.x]));
    assert.ok(x["http"]! < x["counter"]! && x["counter"]! < x["kv"]!, JSON.stringify(x));
    assert.equal(g.edges.length, 3);
    for (const e of g.edges) assert.doesNotMatch(e.path, /NaN|undefined/);
  });
});
