/**
 * Signed invocations reach into the browser: with verification on, a tab's host refuses unsigned
 * calls and takes signed ones like a Node host does, and the calls its actors make are signed
 * with its own key (WebCrypto in the page) and accepted by a Node host as coming from a live host.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { startUiServer } from "../src/cli/ui-server.js";
import type { Host } from "../src/host/index.js";
import type { NatsServer } from "../src/nats/node/index.js";
import { launchBrowser, type TestPage } from "./kit/browser.js";
import { runCli, type CliResult } from "./kit/cli.js";
import { watEcho, watNeedsImport, watThing } from "./kit/fixtures.js";
import { Cleanup, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

describe("signed invocations with a browser host", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let server: Host;
  let tab: TestPage;
  let tabId: string;
  const user = createUser();
  const userSeed = new TextDecoder().decode(user.getSeed());

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli([...args, "--nats-url", nats.clientUrl], env, 60_000);
  function ok(r: CliResult, what: string): string {
    assert.equal(r.code, 0, `${what}: ${r.stderr}\npage console:\n  ${tab.console.slice(-20).join("\n  ")}`);
    return r.stdout;
  }
  async function wasm(name: string, bytes: Promise<Uint8Array>): Promise<string> {
    const path = join(tmpdir(), `lattice-browser-signing-${process.pid}-${name}.wasm`);
    writeFileSync(path, await bytes);
    cleanup.add(() => rm(path, { force: true }));
    return path;
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {}, websocket: { port: 0 } });
    server = await host(cleanup, nats.clientUrl, { name: "server" });
    const ui = await startUiServer({ port: 0, bind: "127.0.0.1", config: { servers: [nats.websocketUrl!], lattice: "default", auth: {} } });
    cleanup.add(() => ui.close());
    tab = await (await launchBrowser(cleanup)).open(`${ui.url}/host?name=signing-tab`);
    tabId = await until(() => tab.page.evaluate(() => (document.body.dataset.state === "running" ? document.body.dataset.hostId : undefined)), 30_000, "the tab's host");
    ok(await cli(["start", "actor", await wasm("echo", watEcho()), "--id", "echo", "--host", tabId]), "start echo in the tab");
    ok(await cli(["start", "actor", await wasm("relay", watNeedsImport()), "--id", "relay", "--host", tabId]), "start relay in the tab");
    ok(await cli(["start", "actor", await wasm("thing", watThing(7)), "--id", "thing", "--host", server.id]), "start thing on the Node host");
    ok(await cli(["link", "put", "relay", "thing", "acme:nowhere/thing"]), "link put");
    ok(await cli(["security", "set", "--verify-invocations", "on", "--trust", user.getPublicKey()]), "security set");
  });
  after(cleanup.run);

  it("the tab refuses an unsigned call and answers a signed one", async () => {
    await until(async () => /unauthenticated/.test((await cli(["call", "echo", "acme:demo/echo.echo", '["x"]'])).stderr) || undefined, 15_000, "the tab refusing unsigned calls");
    const signed = await cli(["call", "echo", "acme:demo/echo.echo", '["signed"]'], { LATTICE_SIGNING_SEED: userSeed });
    assert.equal(JSON.parse(ok(signed, "a signed call into the tab")), "signed");
  });

  it("a call the tab's actor makes is signed with the tab's key, and the Node host accepts it", async () => {
    const before = server.invocationStats.verified;
    const relayed = await cli(["call", "relay", "acme:demo/relay.call"], { LATTICE_SIGNING_SEED: userSeed });
    assert.equal(JSON.parse(ok(relayed, "tab relay → Node thing")), 7);
    assert.ok(server.invocationStats.verified > before, "the Node host verified no call from the tab");
    assert.equal(server.invocationStats.rejected, 0, JSON.stringify(server.invocationStats));
  });
});
