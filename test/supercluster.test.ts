/**
 * One lattice across regions: two NATS clusters joined by gateways (east: two servers holding the
 * JetStream, west: one without) and a leaf under east. Every host sees every other; a call stays
 * in its caller's region while that has an instance and crosses the gateway only when it has
 * none; a cut gateway leaves each region serving itself (west on its cached state), the other
 * region's hosts expire from views, and the lattice forms again when the gateway is back.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "../src/host/index.js";
import { invoke } from "../src/nats/invocations.js";
import { renderNatsConfig } from "../src/nats/server-config.js";
import { Subjects, type HostInfo } from "../src/protocol/index.js";
import { cliJson, runCli } from "./kit/cli.js";
import { exampleComponentPath, watEcho } from "./kit/fixtures.js";
import { Cleanup, connection, host } from "./kit/lattice.js";
import { until } from "./kit/poll.js";
import { supercluster, type Supercluster } from "./kit/topology.js";

describe("supercluster: two regions joined by gateways, a leaf under one", () => {
  const cleanup = new Cleanup();
  const subjects = new Subjects("default");
  let sc: Supercluster;
  let east: Host;
  let west: Host;
  let edge: Host;
  let wasm: string;

  /** Calls west's counter from a connection to west: it reaches the keyvalue provider by its link. */
  async function increment(): Promise<number> {
    const nc = await connection(cleanup, sc.url("west"));
    try {
      const r = await invoke(nc, subjects, { target: "counter", iface: "acme:demo/counter", fn: "increment", args: ["visits"], source: "test", deadline: Date.now() + 10_000 });
      return Number(r.value); // a u64: a bigint
    } finally {
      await nc.close();
    }
  }

  /** Who answers `n` echo calls made from a connection to `url`, by host id. */
  async function responders(url: string, n = 40): Promise<Map<string, number>> {
    const nc = await connection(cleanup, url);
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = await invoke(nc, subjects, { target: "echo", iface: "acme:demo/echo", fn: "echo", args: ["x"], source: "test", deadline: Date.now() + 5_000 });
      seen.set(r.responder ?? "?", (seen.get(r.responder ?? "?") ?? 0) + 1);
    }
    await nc.close();
    return seen;
  }

  const viewOf = (h: Host): string[] => h.view.hosts().map((v) => v.info.name).sort();

  async function startEcho(h: Host): Promise<void> {
    const r = await runCli(["start", "actor", wasm, "--id", "echo", "--host", h.id], { LATTICE_NATS_URL: sc.url("east") });
    assert.equal(r.code, 0, r.stderr);
  }

  before(async () => {
    sc = await supercluster(cleanup, { regions: { east: { servers: 2, jetstream: true }, west: { servers: 1 } }, leaves: { edge: { region: "east" } } });
    // east's host on its second server: a caller on the first is then near it only by cluster.
    east = await host(cleanup, sc.regions.east![1]!.clientUrl, { name: "east" });
    west = await host(cleanup, sc.url("west"), { name: "west" });
    edge = await host(cleanup, sc.url("edge"), { name: "edge", jsDomain: sc.jsDomain("edge") });
    wasm = join(tmpdir(), `lattice-supercluster-${process.pid}.wasm`);
    writeFileSync(wasm, await watEcho());
    await startEcho(east);
    await startEcho(west);
    // An actor in west that calls a provider in west through a link (state written in east).
    const env = { LATTICE_NATS_URL: sc.url("east") };
    for (const args of [
      ["push", await exampleComponentPath("counter"), "--name", "counter:1.0"],
      ["start", "actor", "counter:1.0", "--id", "counter", "--host", west.id],
      ["start", "provider", "keyvalue", "--id", "kv", "--host", west.id, "--config", "backend=memory"],
    ]) {
      const r = await runCli(args, env);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(cleanup.run);

  it("renders a gateway block: a cluster's name, its listener, the clusters it joins", () => {
    const text = renderNatsConfig({ port: 4222, gateway: { name: "west", port: -1, gateways: [{ name: "east", urls: ["nats://10.0.0.1:7222"] }] } });
    assert.match(text, /\ngateway \{\n {2}name: "west"\n {2}host: "127\.0\.0\.1"\n {2}port: -1\n {2}gateways: \[\n {4}\{ name: "east", urls: \["nats:\/\/10\.0\.0\.1:7222"\] \}\n {2}\]\n\}\n/);
    assert.throws(() => renderNatsConfig({ port: 4222, cluster: { name: "a", port: -1 }, gateway: { name: "b", port: -1 } }), /a gateway's name is its cluster's/);
    const ports = Object.values(sc.regions).flat().map((s) => Number(new URL(s.gatewayUrl!).port));
    assert.ok(ports.every((p) => p > 0), `every gateway listens on a port read back: ${ports.join(", ")}`);
  });

  it("every host's view holds every host, across the gateway and the leaf", async () => {
    for (const h of [east, west, edge]) {
      await until(() => (viewOf(h).length === 3 ? true : undefined), 15_000, `${h.name} sees 3 hosts (sees ${viewOf(h).join(", ")})`);
      assert.deepEqual(viewOf(h), ["east", "edge", "west"]);
    }
  });

  it("a call stays in its caller's region while the region has an instance", async () => {
    // The caller is on east's other server: only the cluster says which member is near.
    assert.deepEqual([...(await responders(sc.regions.east![0]!.clientUrl)).keys()], [east.id]);
    assert.deepEqual([...(await responders(sc.url("west"))).keys()], [west.id]);
  });

  it("a cut gateway leaves each region serving itself, on its cached state, and views drop the other region", async () => {
    // A link written before the cut: west's host holds it in its cached state through the cut.
    const link = await runCli(["link", "put", "counter", "kv", "wasi:keyvalue"], { LATTICE_NATS_URL: sc.url("west") });
    assert.equal(link.code, 0, link.stderr);
    assert.equal(await until(async () => {
      try {
        return await increment();
      } catch {
        return undefined; // until the counter's host has the link and the provider answers
      }
    }, 20_000, "west's counter counting through its link"), 1);

    await sc.cut("west");
    await until(() => (viewOf(west).join() === "west" ? true : undefined), 15_000, `west's view drops east and edge (holds ${viewOf(west).join(", ")})`);
    for (const h of [east, edge]) await until(() => (viewOf(h).join() === "east,edge" ? true : undefined), 15_000, `${h.name}'s view drops west (holds ${viewOf(h).join(", ")})`);

    assert.deepEqual([...(await responders(sc.url("west"))).keys()], [west.id]);
    assert.deepEqual([...(await responders(sc.regions.east![0]!.clientUrl)).keys()], [east.id]);
    // State lives in east: west cannot write it now, and its host still serves from its copy.
    const write = await runCli(["link", "put", "echo", "other", "wasi:http"], { LATTICE_NATS_URL: sc.url("west") });
    assert.notEqual(write.code, 0, "a state write from the cut-off region fails");
    assert.match(write.stderr, /lattice state \(JetStream KV lattice_default_state\) is unreachable/);
    const read = await runCli(["get", "links"], { LATTICE_NATS_URL: sc.url("west") });
    assert.notEqual(read.code, 0, "and so does a read through the CLI");
    assert.equal(west.state.findLink("counter", "wasi:keyvalue")?.target, "kv");
    // east, holding the JetStream, writes as before; west learns of it after healing.
    const eastWrite = await runCli(["link", "put", "echo", "other", "wasi:http"], { LATTICE_NATS_URL: sc.url("east") });
    assert.equal(eastWrite.code, 0, eastWrite.stderr);
    assert.equal(await increment(), 2, "west's actor still reaches its provider by the cached link");
  });

  it("the healed gateway re-forms every view, and a region with no instance calls across it", async () => {
    await sc.heal("west");
    for (const h of [east, west, edge]) {
      await until(() => (viewOf(h).length === 3 ? true : undefined), 20_000, `${h.name} sees 3 hosts again (sees ${viewOf(h).join(", ")})`);
    }
    await until(() => west.state.findLink("echo", "wasi:http"), 15_000, "west's cached state catches up with what east wrote during the cut");
    await east.actors.stop("echo");
    const fromEast = await until(async () => {
      const seen = await responders(sc.regions.east![0]!.clientUrl, 20);
      return seen.has(west.id) ? seen : undefined;
    }, 15_000, "east's calls answered across the gateway");
    assert.deepEqual([...fromEast.keys()], [west.id]);
    assert.deepEqual([...(await responders(sc.url("edge"), 20)).keys()], [west.id], "the leaf under east calls across the gateway too");
  });
});

describe("lattice up --region: a two-region supercluster from the CLI", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  interface UpJson {
    natsUrl: string;
    region?: string;
    gatewayUrl?: string;
    gateways?: Record<string, string[]>;
  }

  async function up(name: string, args: string[]): Promise<UpJson> {
    const dir = mkdtempSync(join(tmpdir(), "lattice-region-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const env = { LATTICE_STATE_DIR: dir };
    const r = await runCli(["up", "--detach", "--name", name, "--nats-port", "0", "--ws-port", "0", "--leaf-port", "0", "--gateway-port", "0", ...args, "-o", "json"], env);
    assert.equal(r.code, 0, r.stderr);
    cleanup.add(() => runCli(["down"], env));
    return JSON.parse(r.stdout) as UpJson;
  }

  it("refuses region flags that make no supercluster, saying what to pass", async () => {
    const env = { LATTICE_STATE_DIR: mkdtempSync(join(tmpdir(), "lattice-region-")) };
    cleanup.add(() => rmSync(env.LATTICE_STATE_DIR, { recursive: true, force: true }));
    const noRegion = await runCli(["up", "--gateway", "east=nats://127.0.0.1:7222"], env);
    assert.equal(noRegion.stderr, "lattice: --gateway joins other regions of a supercluster: name this one with --region\n");
    const lone = await runCli(["up", "--region", "east"], env);
    assert.match(lone.stderr, /^lattice: region east joins no other region, so it holds the lattice's JetStream, which needs --nats-cluster 2 or more/);
    const badUrl = await runCli(["up", "--region", "west", "--gateway", "east=127.0.0.1:7222"], env);
    assert.match(badUrl.stderr, /expected a gateway URL like nats:\/\/10\.0\.0\.1:7222 for region east, got "127\.0\.0\.1:7222"/);
    const portOnly = await runCli(["up", "--gateway-port", "7300"], env);
    assert.equal(portOnly.stderr, "lattice: --gateway-port is where a region listens for other regions: name this one with --region\n");
    for (const r of [noRegion, lone, badUrl, portOnly]) assert.notEqual(r.code, 0);
  });

  it("two `lattice up` regions joined by a gateway: each lists both hosts, and state written in either is one", async () => {
    const east = await up("east-host", ["--region", "east", "--nats-cluster", "2"]);
    assert.equal(east.region, "east");
    assert.match(east.gatewayUrl ?? "", /^nats:\/\/127\.0\.0\.1:\d+$/);
    const west = await up("west-host", ["--region", "west", "--gateway", `east=${east.gatewayUrl!}`]);
    assert.deepEqual(west.gateways, { east: [east.gatewayUrl] });
    for (const url of [east.natsUrl, west.natsUrl]) {
      const names = await until(async () => {
        const hosts = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", url]);
        return hosts.length === 2 ? hosts.map((h) => h.name).sort() : undefined;
      }, 15_000, `both hosts listed from ${url}`);
      assert.deepEqual(names, ["east-host", "west-host"]);
    }
    // West keeps no JetStream: its link lands in east's, and east reads it.
    const put = await runCli(["link", "put", "a", "b", "wasi:keyvalue", "--nats-url", west.natsUrl]);
    assert.equal(put.code, 0, put.stderr);
    const links = await cliJson<Array<{ source: string; target: string }>>(["get", "links", "--nats-url", east.natsUrl]);
    assert.deepEqual(links.map((l) => [l.source, l.target]), [["a", "b"]]);
  });
});
