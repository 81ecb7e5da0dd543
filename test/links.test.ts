/**
 * Links live in lattice state, not in code: an actor's import goes to its link's target, and
 * re-pointing the link changes the next call with nothing restarted. Hosts keep serving from
 * their copy of the links while the state store is gone.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "../src/host/index.js";
import type { NatsServer } from "../src/nats/node/index.js";
import type { Link, NamedConfig } from "../src/protocol/index.js";
import { cliJson, runCli } from "./kit/cli.js";
import { watNeedsImport, watThing } from "./kit/fixtures.js";
import { Cleanup, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

describe("links", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let h: Host;
  let env: NodeJS.ProcessEnv;

  async function wasm(name: string, bytes: Promise<Uint8Array>): Promise<string> {
    const path = join(tmpdir(), `lattice-links-${process.pid}-${name}.wasm`);
    writeFileSync(path, await bytes);
    return path;
  }

  async function start(file: string, id: string): Promise<void> {
    const r = await runCli(["start", "actor", file, "--id", id], env);
    assert.equal(r.code, 0, r.stderr);
  }

  const call = async () => {
    const r = await runCli(["call", "relay", "acme:demo/relay.call"], env);
    return r.code === 0 ? (JSON.parse(r.stdout) as number) : r.stderr;
  };

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    h = await host(cleanup, nats.clientUrl, { name: "h" });
    await start(await wasm("relay", watNeedsImport()), "relay");
    await start(await wasm("seven", watThing(7)), "seven");
    await start(await wasm("eight", watThing(8)), "eight");
  });
  after(cleanup.run);

  it("routes an actor's import to its link's target, and re-pointing takes effect on the next call", async () => {
    assert.match(String(await call()), /has no link for acme:nowhere\/thing/);

    const put = await runCli(["link", "put", "relay", "seven", "acme:nowhere/thing"], env);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /linked relay -> seven for acme:nowhere\/thing/);
    await until(async () => (await call()) === 7 || undefined, 10_000, "the link reaching the host");

    await runCli(["link", "put", "relay", "eight", "acme:nowhere/thing"], env);
    await until(async () => (await call()) === 8 || undefined, 10_000, "the re-pointed link");
    assert.equal(await call(), 8);

    const links = await cliJson<Link[]>(["get", "links"], env);
    assert.deepEqual(links.map((l) => [l.source, l.target, l.interface, l.name]), [["relay", "eight", "acme:nowhere/thing", "default"]]);

    // A package-wide link serves every interface of the package; the exact one wins.
    await runCli(["link", "put", "relay", "seven", "acme:nowhere"], env);
    assert.equal(await call(), 8);
    const del = await runCli(["link", "del", "relay", "acme:nowhere/thing"], env);
    assert.equal(del.code, 0, del.stderr);
    await until(async () => (await call()) === 7 || undefined, 10_000, "the package link");
    await runCli(["link", "del", "relay", "acme:nowhere"], env);
    await until(async () => String(await call()).includes("has no link") || undefined, 10_000, "no link");
  });

  it("named config: put, get, list, delete", async () => {
    const put = await cliJson<NamedConfig>(["config", "put", "kv-a", "bucket=counter1", "url=nats://x:4222?a=b"], env);
    assert.deepEqual(put.values, { bucket: "counter1", url: "nats://x:4222?a=b" });
    const got = await cliJson<NamedConfig>(["config", "get", "kv-a"], env);
    assert.deepEqual(got.values, put.values);
    await until(() => h.state.resolveConfig(["kv-a"]).bucket === "counter1" || undefined, 10_000, "config in the host's cache");
    assert.equal((await cliJson<NamedConfig[]>(["config", "get"], env)).length, 1);
    const del = await runCli(["config", "del", "kv-a"], env);
    assert.equal(del.code, 0, del.stderr);
    const missing = await runCli(["config", "get", "kv-a"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no config named kv-a/);
  });

  it("refuses malformed links with a clear error", async () => {
    const bad = [
      { args: ["link", "put", "relay", "seven", "not an interface"], re: /invalid link interface/ },
      { args: ["link", "put", "relay", "seven", "wasi:keyvalue/store@0.2.0"], re: /without a version/ },
      { args: ["link", "put", "re.lay", "seven", "acme:x/y"], re: /invalid id/ },
      { args: ["link", "del", "relay", "acme:x/y"], re: /no link from relay/ },
      { args: ["config", "put", "bad name", "a=b"], re: /invalid config name/ },
      { args: ["config", "put", "ok", "novalue"], re: /expected key=value/ },
    ];
    for (const { args, re } of bad) {
      const r = await runCli(args, env);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, re, args.join(" "));
    }
  });

  it("a host keeps routing from its copy of the links while the state store is down", async () => {
    await runCli(["link", "put", "relay", "seven", "acme:nowhere/thing"], env);
    await until(async () => (await call()) === 7 || undefined, 10_000, "link");
    // JetStream gone: restart the server without it. The host's cache still has the link.
    const storeDir = nats.options.jetstream?.storeDir;
    assert.ok(storeDir);
    await nats.kill("SIGKILL");
    const bare = await natsServer(cleanup, { port: nats.port });
    assert.equal(bare.port, nats.port);
    await until(async () => (await call()) === 7 || undefined, 15_000, "calls through the cached link without JetStream");
    const noState = await runCli(["get", "links"], env);
    assert.equal(noState.code, 1);
    assert.match(noState.stderr, /unavailable: lattice state .* is unreachable/);
    await bare.stop();
    await nats.restart();
  });
});
