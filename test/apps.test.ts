/**
 * Declarative apps with real processes: a manifest deployed to hosts that each run a reconciler
 * (one acting, by lease), held at its shape when the acting host is SIGKILLed, placed on hosts
 * that join, rolled to a new version under calls, rolled back and undeployed cleanly.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { AppStore, parseManifest, reconcilerExtension } from "../src/apps/index.js";
import { LatticeClient } from "../src/ctl/index.js";
import type { Host } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { invoke } from "../src/nats/invocations.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import type { NatsServer } from "../src/nats/node/index.js";
import { EventType, LEASE_KEY, Subjects, parseArtifactRef, type AppStatus, type AppStatusChanged, type HostInfo, type HostInventory } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const ECHO = "acme:demo/echo";

const DEMO_V1 = `
name: demo
version: v1
components:
  - id: echo
    actor: echo:1
    placement: { spread: { instances: 3 } }
  - id: kv
    provider: keyvalue
    config: { backend: memory }
    placement: { labels: { zone: x }, daemon: {} }
links:
  - { source: echo, target: kv, interface: "wasi:keyvalue", config: { bucket: demo } }
`;
const DEMO_V2 = DEMO_V1.replace("version: v1", "version: v2").replace("actor: echo:1", "actor: echo:2\n    config: { release: two }");

const EDGE = `
name: edge
version: "1"
components:
  - id: edge-echo
    actor: echo:1
    placement: { labels: { zone: z }, spread: { instances: 2 } }
`;

describe("declarative apps", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let nc: NatsConnection;
  let client: LatticeClient;
  let store: AppStore;
  let state: LatticeState;
  let env: NodeJS.ProcessEnv;
  let first: CliProcess;
  let firstId: string;
  const hosts: Host[] = [];
  /** Every app_status event, in order. */
  const appEvents: AppStatusChanged[] = [];

  const reconciling = () => ({ extensions: [reconcilerExtension({ intervalMs: 500 })] });
  const inventories = async (): Promise<HostInventory[]> => (await client.inventories()).replies;
  const instances = (inv: HostInventory[], id: string) => inv.reduce((n, h) => n + (h.actors.find((a) => a.id === id)?.instances ?? 0), 0);
  const providerHosts = (inv: HostInventory[], id: string) => inv.filter((h) => h.providers.some((p) => p.id === id && p.state === "running")).map((h) => h.host.name).sort();
  const status = (name: string) => store.status(name);
  const deployed = (name: string, version: string) =>
    until(async () => {
      const s = await status(name);
      return s?.version === version && s.phase === "deployed" ? s : undefined;
    }, 60_000, `app ${name} deployed at ${version}`, 100);
  const callEcho = async (text: string) =>
    (await invoke(nc, new Subjects("default"), { target: "echo", iface: ECHO, fn: "echo", args: [text], source: "test", deadline: Date.now() + 5_000, attemptTimeoutMs: 400 })).value;

  /** Echo calls one after another until stopped, each checked; counts the failures. */
  function echoLoad() {
    let stop = false;
    const r = { done: 0, failed: 0 };
    const running = (async () => {
      while (!stop) {
        const text = `n${r.done}`;
        try {
          if ((await callEcho(text)) !== text) r.failed++;
        } catch {
          r.failed++;
        }
        r.done++;
      }
    })();
    return {
      get done() {
        return r.done;
      },
      stop: async () => {
        stop = true;
        await running;
        return r;
      },
    };
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    nc = await connection(cleanup, nats.clientUrl);
    nc.subscribe(new Subjects("default").event(EventType.AppStatus), {
      callback: (_e, m) => {
        appEvents.push(m.json<{ data: AppStatusChanged }>().data);
      },
    });
    client = new LatticeClient(nc, "default", { timeoutMs: 3_000, stallMs: 300 });
    store = new AppStore(nc, "default");
    state = new LatticeState(nc, "default");
    const artifacts = new ArtifactStore(nc, "default");
    const echo = await watEcho();
    await artifacts.put(parseArtifactRef("echo:1"), echo);
    await artifacts.put(parseArtifactRef("echo:2"), echo);
    // A host in its own process starts first, so it takes the reconciler lease: killing it later
    // loses the acting reconciler and a host running the app at once.
    first = new CliProcess(["host", "--name", "first", "--label", "zone=x", "--heartbeat", "500ms", "-o", "json", "--log-level", "warn"], env);
    cleanup.add(() => first.stop("SIGKILL"));
    firstId = (await first.jsonLines<{ host: HostInfo }>(1))[0]!.host.id;
    const kv = await store.open();
    await until(async () => (await kv.get(LEASE_KEY))?.string().includes(firstId), 15_000, "the first host holds the lease");
    hosts.push(await host(cleanup, nats.clientUrl, { name: "a", labels: { zone: "x" }, ...reconciling() }));
    hosts.push(await host(cleanup, nats.clientUrl, { name: "b", labels: { zone: "x" }, ...reconciling() }));
    await until(async () => (await client.hosts()).replies.length === 3, 15_000, "three hosts");
  });
  after(cleanup.run);

  it("deploys an app: actors spread, daemon providers, links with their config", async () => {
    await store.deploy(parseManifest(DEMO_V1));
    const s = await deployed("demo", "v1");
    assert.equal(s.reconciler, firstId);
    const inv = await inventories();
    assert.equal(instances(inv, "echo"), 3);
    assert.deepEqual(providerHosts(inv, "kv"), ["a", "b", "first"]);
    const link = (await state.links()).find((l) => l.source === "echo" && l.interface === "wasi:keyvalue");
    assert.equal(link?.target, "kv");
    assert.equal(link.config.length, 1);
    assert.deepEqual((await state.getConfig(link.config[0]!))?.values, { bucket: "demo" });
    assert.deepEqual(s.owned, { actors: ["echo"], providers: ["kv"], links: [{ source: "echo", interface: "wasi:keyvalue", name: "default" }], configs: [link.config[0]!] });
    assert.equal(await callEcho("hi"), "hi");
  });

  it("puts the app back on the living hosts when the reconciler's host is SIGKILLed, serving throughout", async () => {
    const load = echoLoad();
    await until(() => load.done > 20, 10_000, "calls flowing");
    const killedAt = Date.now();
    await first.stop("SIGKILL");
    const back = await until(async () => {
      const inv = await inventories();
      const s = await status("demo");
      return !inv.some((h) => h.host.id === firstId) && instances(inv, "echo") === 3 && s?.reconciler !== firstId && s?.phase === "deployed" ? inv : undefined;
    }, 30_000, "echo back at 3 instances under a new reconciler");
    const tookMs = Date.now() - killedAt;
    const { failed, done } = await load.stop();
    assert.equal(failed, 0, `${failed} of ${done} calls failed`);
    assert.deepEqual(providerHosts(back, "kv"), ["a", "b"]);
    console.log(`# converged ${tookMs} ms after the SIGKILL (${done} calls, 0 failed)`);
  });

  it("runs daemon components on a matching host that joins, and not on others", async () => {
    hosts.push(await host(cleanup, nats.clientUrl, { name: "c", labels: { zone: "x" }, ...reconciling() }));
    hosts.push(await host(cleanup, nats.clientUrl, { name: "y", labels: { zone: "y" }, ...reconciling() }));
    const inv = await until(async () => {
      const inv = await inventories();
      return providerHosts(inv, "kv").includes("c") ? inv : undefined;
    }, 30_000, "kv on the new host");
    assert.deepEqual(providerHosts(inv, "kv"), ["a", "b", "c"]);
    assert.equal(instances(inv, "echo"), 3, "the spread stays at 3");
  });

  it("reports an app no host can take as unsatisfied, and places it when one joins", async () => {
    await store.deploy(parseManifest(EDGE));
    const s = await until(async () => {
      const s = await status("edge");
      return s?.phase === "unsatisfied" ? s : undefined;
    }, 30_000, "edge unsatisfied");
    assert.match(s.components[0]!.reasons.join(), /2 instances unplaced: no host matches zone=z/);
    hosts.push(await host(cleanup, nats.clientUrl, { name: "z", labels: { zone: "z" }, ...reconciling() }));
    await deployed("edge", "1");
    const inv = await inventories();
    assert.deepEqual(inv.filter((h) => h.actors.some((a) => a.id === "edge-echo")).map((h) => h.host.name), ["z"]);
  });

  it("rolls a new version forward without a failed call, and back", async () => {
    const load = echoLoad();
    await store.deploy(parseManifest(DEMO_V2));
    await deployed("demo", "v2");
    const refs = (await inventories()).flatMap((h) => h.actors.filter((a) => a.id === "echo").map((a) => a.ref));
    assert.deepEqual([...new Set(refs)], ["echo:2"]);
    assert.equal(refs.length > 0, true);

    const r = await store.rollback("demo", "v1");
    assert.equal(r.previous, "v2");
    await deployed("demo", "v1");
    const { failed, done } = await load.stop();
    assert.equal(failed, 0, `${failed} of ${done} calls failed`);
    const back = (await inventories()).flatMap((h) => h.actors.filter((a) => a.id === "echo").map((a) => a.ref));
    assert.deepEqual([...new Set(back)], ["echo:1"]);
    assert.deepEqual((await store.record("demo"))?.versions, ["v1", "v2"]);
  });

  it("refuses a manifest whose component another app declares", async () => {
    const clash = EDGE.replace("name: edge", "name: other");
    await assert.rejects(store.deploy(parseManifest(clash)), /component edge-echo is part of app edge/);
  });

  it("reports a component that cannot start as failed, with the reason", async () => {
    await store.deploy(parseManifest("name: broken\nversion: v1\ncomponents:\n  - id: ghost\n    actor: missing:1\n"));
    const s = await until(async () => {
      const s = await status("broken");
      return s?.phase === "failed" ? s : undefined;
    }, 30_000, "broken failed");
    assert.match(s.components[0]!.reasons.join(), /run 1 of actor ghost on host \w+: artifact missing:1 is not in lattice default's artifact store/);
    await store.undeploy("broken");
    await until(async () => (await store.record("broken")) === undefined, 30_000, "broken gone");
  });

  it("undeploys everything the app created and nothing else", async () => {
    await state.putConfig("mine", { keep: "yes" });
    await state.putLink({ source: "mine", target: "kv", interface: "wasi:keyvalue", name: "default", config: ["mine"] });
    const owned = (await status("demo"))!.owned;
    await store.undeploy("demo");
    await until(async () => (await store.record("demo")) === undefined, 30_000, "demo gone");
    const inv = await inventories();
    assert.equal(instances(inv, "echo"), 0);
    assert.deepEqual(providerHosts(inv, "kv"), []);
    assert.equal(instances(inv, "edge-echo"), 2, "the other app keeps running");
    const links = await state.links();
    assert.deepEqual(links.map((l) => l.source), ["mine"]);
    assert.equal(await state.getConfig(owned.configs[0]!), undefined);
    assert.deepEqual((await state.getConfig("mine"))?.values, { keep: "yes" });
    assert.equal(await status("demo"), undefined);

    // Each change of phase or version was announced once, in order.
    const demo = appEvents.filter((e) => e.name === "demo").map((e) => `${e.version ?? "-"} ${e.phase}`);
    for (const step of ["v1 deployed", "v2 deployed", "- removed"]) assert.ok(demo.includes(step), `${step} in ${demo.join(", ")}`);
    assert.ok(demo.indexOf("v1 deployed") < demo.indexOf("v2 deployed") && demo.lastIndexOf("v1 deployed") < demo.indexOf("- removed"), demo.join(", "));
    assert.equal(demo.at(-1), "- removed");
    assert.ok(appEvents.some((e) => e.name === "edge" && e.phase === "unsatisfied" && e.reasons.some((r) => r.includes("no host matches zone=z"))));
  });

  it("CLI: deploy refuses an invalid manifest listing every problem; list and status answer JSON", async () => {
    const bad = join(tmpdir(), `lattice-bad-app-${process.pid}.yaml`);
    writeFileSync(bad, "name: x\nversion: v1\ncomponents:\n  - id: a\n  - id: a\n    actor: e:1\n    provider: keyvalue\n");
    cleanup.add(() => rmSync(bad, { force: true }));
    const r = await runCli(["app", "deploy", bad], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 4: components\[0\]: give exactly one of/);
    assert.match(r.stderr, /line 5: components\[1\]\.id: id a is also used/);
    const list = await cliJson<Array<{ name: string; deployed: string; phase: string }>>(["app", "list"], env);
    assert.deepEqual(list.map((a) => [a.name, a.deployed, a.phase]), [["edge", "1", "deployed"]]);
    const st = await cliJson<{ status: AppStatus }>(["app", "status", "edge"], env);
    assert.deepEqual(Object.values(st.status.components[0]!.running), [2]);
    const versions = await cliJson<{ deployed: string; versions: string[] }>(["app", "versions", "edge"], env);
    assert.deepEqual(versions, { name: "edge", deployed: "1", versions: ["1"] });
    const rollback = await runCli(["app", "rollback", "edge", "0"], env);
    assert.equal(rollback.code, 1);
    assert.match(rollback.stderr, /version 0 of app edge is not stored \(stored versions: 1\)/);
    const gone = await runCli(["app", "status", "nope"], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /there is no app nope/);
  });
});
