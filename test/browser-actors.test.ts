/**
 * Actors in a browser tab: the host page (`lattice ui`'s /host) in a real Chromium runs
 * components it transpiles itself, in Web Workers, and they call and are called across the
 * lattice like any host's: started and called through the CLI, linked to a keyvalue provider on a
 * Node host, serving HTTP behind a Node host's http-server provider, called by a Node host's actor
 * through a link; a trap or a stuck call costs the instance, not the page; a reloaded page finds
 * what it transpiled in IndexedDB.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { startUiServer } from "../src/cli/ui-server.js";
import { DEFAULT_LATTICE, type Host } from "../src/host/index.js";
import { freePort, type NatsServer } from "../src/nats/node/index.js";
import { launchBrowser, type TestPage } from "./kit/browser.js";
import { runCli, type CliResult } from "./kit/cli.js";
import { exampleComponentPath, watEcho, watNeedsImport, watThing } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

describe("actors in a browser host", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let server: Host;
  let tab: TestPage;
  let tabId: string;

  async function wasm(name: string, bytes: Promise<Uint8Array>): Promise<string> {
    const path = join(tmpdir(), `lattice-browser-actors-${process.pid}-${name}.wasm`);
    writeFileSync(path, await bytes);
    cleanup.add(() => rmSync(path, { force: true }));
    return path;
  }

  /** The real CLI, against the lattice's TCP server. */
  async function cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return runCli([...args, "--nats-url", nats.clientUrl], {}, timeoutMs);
  }

  /** A command's output; if it failed, its error and what the page printed last. */
  function ok(r: CliResult, what: string): string {
    assert.equal(r.code, 0, `${what}: ${r.stderr}\npage console:\n  ${tab.console.slice(-30).join("\n  ")}`);
    return r.stdout;
  }

  async function call(actor: string, fn: string, args: unknown[] = [], extra: string[] = []): Promise<CliResult> {
    return cli(["call", actor, fn, JSON.stringify(args), ...extra]);
  }

  /** The actors the page lists (it renders its inventory every second). */
  const listed = () => tab.page.evaluate(() => document.getElementById("actors")?.textContent ?? "");

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {}, websocket: { port: 0 } });
    server = await host(cleanup, nats.clientUrl, { name: "server" });
    const ui = await startUiServer({ port: 0, bind: "127.0.0.1", config: { servers: [nats.websocketUrl!], lattice: DEFAULT_LATTICE, auth: {} } });
    cleanup.add(() => ui.close());
    const browser = await launchBrowser(cleanup);
    tab = await browser.open(`${ui.url}/host?name=tab1`);
    await until(async () => (await tab.page.evaluate(() => document.body.dataset.state)) === "running" || undefined, 30_000, "the page's host running").catch((e: Error) => {
      throw new Error(`${e.message}\npage console:\n  ${tab.console.join("\n  ")}`);
    });
    tabId = (await tab.page.evaluate(() => document.body.dataset.hostId))!;
    assert.match(tabId, /^N[A-Z0-9]{55}$/);
  });
  after(cleanup.run);

  it("starts an actor on the page's host and answers calls from the CLI", async () => {
    ok(await cli(["start", "actor", await wasm("echo", watEcho()), "--id", "echo", "--host", tabId]), "start echo in the page");
    assert.deepEqual(JSON.parse(ok(await call("echo", "acme:demo/echo.echo", ["hi from node"]), "echo")), "hi from node");
    assert.equal(JSON.parse(ok(await call("echo", "acme:demo/echo.add", [40, 2]), "add")), 42);
    await until(async () => /echo × 1/.test(await listed()) || undefined, 5_000, "the page listing echo");
  });

  it("a trap answers a structured error, and the next call is served by a fresh instance", async () => {
    const trapped = await call("echo", "acme:demo/echo.trap");
    assert.notEqual(trapped.code, 0);
    assert.match(trapped.stderr, /trap: actor echo trapped: .*unreachable/i);
    assert.equal(JSON.parse(ok(await call("echo", "acme:demo/echo.echo", ["after the trap"]), "echo after a trap")), "after the trap");
  });

  it("a call stuck in a loop times out, its worker is replaced, and the page keeps serving", async () => {
    const stuck = await call("echo", "acme:demo/echo.spin", [], ["--timeout", "1s"]);
    assert.notEqual(stuck.code, 0);
    assert.match(stuck.stderr, /timeout/);
    // The stuck worker is terminated a second past the deadline; a fresh one takes the calls.
    await until(async () => (await call("echo", "acme:demo/echo.echo", ["again"])).code === 0 || undefined, 20_000, "echo served after a stuck call");
    assert.equal(await tab.page.evaluate(() => document.body.dataset.state), "running");
  });

  it("a JavaScript actor in the page counts in a server-side keyvalue provider through its link", async () => {
    ok(await cli(["start", "provider", "keyvalue", "--id", "kv", "--host", server.id], 30_000), "start the keyvalue provider");
    ok(await cli(["config", "put", "counter-kv", "bucket=browser-counters"]), "config put");
    ok(await cli(["link", "put", "counter", "kv", "wasi:keyvalue", "--config", "counter-kv"]), "link put");
    const started = performance.now();
    const starting = cli(["start", "actor", await exampleComponentPath("counter"), "--id", "counter", "--host", tabId], 120_000);
    // Seconds of transpiling happen in a worker: the page's own thread keeps answering meanwhile.
    let slowest = 0;
    let done = false;
    void starting.finally(() => (done = true));
    while (!done) {
      const t = performance.now();
      await tab.page.evaluate(() => document.body.dataset.state);
      slowest = Math.max(slowest, performance.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    ok(await starting, "start counter in the page");
    const took = performance.now() - started;
    console.log(`# the counter actor (JavaScript) started in the page in ${(took / 1000).toFixed(1)} s (fetch, transpile, compile, instantiate); the page's slowest answer meanwhile: ${slowest.toFixed(0)} ms`);
    assert.ok(slowest < 2_500, `the page stopped answering for ${slowest.toFixed(0)} ms while it transpiled`);
    const transpiled = tab.console.filter((l) => l.includes("transpiled a component in")).at(-1);
    if (transpiled) console.log(`# the page: ${transpiled.replace(/^\w+: /, "")}`);
    await until(async () => /counter × 1/.test(await listed()) || undefined, 5_000, "the page listing the counter");
    for (const expected of [1, 2, 3]) {
      assert.equal(JSON.parse(ok(await call("counter", "acme:demo/counter.increment", ["visits"]), "increment")), expected);
    }
    const kv = await new Kvm(await connection(cleanup, nats.clientUrl)).open("browser-counters");
    assert.equal((await kv.get("visits"))?.string(), "3", "the count lives in the bucket the link's config names");
  });

  it("serves HTTP from the page: the Node host's http-server provider in front of an HTTP actor in the tab", async () => {
    ok(await cli(["start", "provider", "http-server", "--id", "http", "--host", server.id], 30_000), "start the http-server provider");
    const port = await freePort();
    ok(await cli(["config", "put", "http-cfg", `address=127.0.0.1:${port}`]), "config put");
    ok(await cli(["link", "put", "http", "hello", "wasi:http/incoming-handler", "--config", "http-cfg"]), "link put");
    ok(await cli(["start", "actor", await exampleComponentPath("http-hello"), "--id", "hello", "--host", tabId], 120_000), "start http-hello in the page");
    const first = await until(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/x?q=1`, { signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
        return r?.status === 200 && (await r.text());
      },
      30_000,
      "the provider serving the page's actor",
    );
    assert.equal(first, "hello from lattice: GET /x\n");
    const post = await fetch(`http://127.0.0.1:${port}/form`, { method: "POST", body: "a=1", signal: AbortSignal.timeout(15_000) });
    assert.equal(await post.text(), "hello from lattice: POST /form\n");
  });

  it("a Node host's actor calls an actor in the page through a link", async () => {
    ok(await cli(["start", "actor", await wasm("thing", watThing(7)), "--id", "thing", "--host", tabId]), "start thing in the page");
    ok(await cli(["start", "actor", await wasm("relay", watNeedsImport()), "--id", "relay", "--host", server.id]), "start relay on the Node host");
    ok(await cli(["link", "put", "relay", "thing", "acme:nowhere/thing"]), "link put");
    const relayed = await until(
      async () => {
        const r = await call("relay", "acme:demo/relay.call");
        return r.code === 0 ? (JSON.parse(r.stdout) as number) : undefined;
      },
      10_000,
      "the relay reaching the page's actor",
    );
    assert.equal(relayed, 7);
  });

  it("an actor in the page calls another actor through a link, and a missing link is its error", async () => {
    ok(await cli(["start", "actor", await wasm("relay", watNeedsImport()), "--id", "page-relay", "--host", tabId]), "start a relay in the page");
    const unlinked = await call("page-relay", "acme:demo/relay.call");
    assert.notEqual(unlinked.code, 0);
    assert.match(unlinked.stderr, /has no link for acme:nowhere\/thing/);
    ok(await cli(["link", "put", "page-relay", "thing", "acme:nowhere/thing"]), "link put");
    const relayed = await until(
      async () => {
        const r = await call("page-relay", "acme:demo/relay.call");
        return r.code === 0 ? (JSON.parse(r.stdout) as number) : undefined;
      },
      10_000,
      "the page's relay reaching the page's actor",
    );
    assert.equal(relayed, 7);
  });

  it("a reloaded page finds what it transpiled in IndexedDB, and its counter goes on", async () => {
    await tab.page.reload();
    await until(async () => (await tab.page.evaluate(() => document.body.dataset.hostId)) !== tabId || undefined, 30_000, "the reloaded page's new host");
    await until(async () => (await tab.page.evaluate(() => document.body.dataset.state)) === "running" || undefined, 30_000, "the reloaded page running");
    const reloadedId = (await tab.page.evaluate(() => document.body.dataset.hostId))!;
    ok(await cli(["start", "actor", await exampleComponentPath("counter"), "--id", "counter", "--host", reloadedId], 120_000), "start counter in the reloaded page");
    assert.ok(tab.console.some((l) => l.includes("a transpiled component found in the page's store")), `no transpile-store hit in:\n  ${tab.console.join("\n  ")}`);
    assert.equal(JSON.parse(ok(await call("counter", "acme:demo/counter.increment", ["visits"]), "increment")), 4);
  });
});
