/**
 * Hosts find each other with nothing but NATS: they show up in every view and in
 * `lattice get hosts`, and leave it on SIGKILL (by expiry) or graceful stop (at once).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { HostInfo } from "../src/protocol/index.js";
import { CliProcess, cliJson } from "./kit/cli.js";
import { LatticeClient } from "../src/ctl/index.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";
import type { NatsServer } from "../src/nats/node/server-launcher.js";

const HEARTBEAT_MS = 1_000;

describe("host presence", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  before(async () => {
    nats = await natsServer(cleanup);
  });
  after(cleanup.run);

  it("three hosts, one in another process, see each other within 2 heartbeats", async () => {
    const a = await host(cleanup, nats.clientUrl, { name: "alpha", labels: { region: "eu" }, heartbeatMs: HEARTBEAT_MS });
    const b = await host(cleanup, nats.clientUrl, { name: "bravo", heartbeatMs: HEARTBEAT_MS });
    const started = Date.now();
    const proc = new CliProcess(["host", "--nats-url", nats.clientUrl, "--name", "charlie", "--label", "kind=process", "--heartbeat", "1s", "-o", "json", "--log-level", "warn"]);
    cleanup.add(() => proc.stop("SIGKILL"));
    const [ready] = await proc.jsonLines<{ ready: boolean; host: HostInfo }>(1);
    assert.ok(ready?.ready === true);
    const cId = ready.host.id;

    // Every in-process view learns of the new host, and of each other, within two heartbeats.
    for (const h of [a, b]) await h.view.waitFor((v) => v.has(cId) && v.has(a.id) && v.has(b.id), 2 * HEARTBEAT_MS);
    assert.ok(Date.now() - started < 2 * HEARTBEAT_MS + 5_000, "the child process itself needs time to boot, but not much");

    const listed = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", nats.clientUrl]);
    assert.deepEqual(listed.map((h) => h.name), ["alpha", "bravo", "charlie"]);
    const alpha = listed.find((h) => h.id === a.id);
    assert.deepEqual(alpha?.labels, { region: "eu" });
    assert.equal(alpha?.version, "0.1.0");
    assert.equal(typeof alpha?.uptimeSeconds, "number");
    assert.deepEqual(listed.find((h) => h.id === cId)?.labels, { kind: "process" });

    // SIGKILL: no goodbye; every view expires the host within 4 heartbeats.
    const killedAt = Date.now();
    await proc.stop("SIGKILL");
    await Promise.all([a, b].map((h) => h.view.waitFor((v) => !v.has(cId), 4 * HEARTBEAT_MS)));
    const detectMs = Date.now() - killedAt;
    assert.ok(detectMs > 2 * HEARTBEAT_MS, `expired after ${detectMs} ms: too early, a live host would flap`);
    assert.deepEqual((await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", nats.clientUrl])).map((h) => h.name), ["alpha", "bravo"]);
  });

  it("a host stopped gracefully leaves every view at once", async () => {
    // A slow heartbeat: only the host_stopped event can explain a quick removal.
    const slow = 10_000;
    const watcher = await host(cleanup, nats.clientUrl, { name: "watcher", heartbeatMs: slow });
    const leaving = await host(cleanup, nats.clientUrl, { name: "leaving", heartbeatMs: slow });
    await watcher.view.waitFor((v) => v.has(leaving.id), 5_000);
    const removed = new Promise<string | undefined>((resolve) => {
      watcher.view.onChange((c) => {
        if (c.kind === "removed" && c.host.info.id === leaving.id) resolve(c.reason);
      });
    });
    await leaving.stop("test says goodbye");
    const reason = await Promise.race([removed, new Promise<string>((r) => setTimeout(() => r("not removed"), 1_000))]);
    assert.equal(reason, "stopped: test says goodbye");
    await watcher.stop();
  });

  it("a host's view seeds itself from a ping, without waiting for heartbeats", async () => {
    const slow = 30_000;
    const early = await host(cleanup, nats.clientUrl, { name: "early", heartbeatMs: slow });
    const late = await host(cleanup, nats.clientUrl, { name: "late", heartbeatMs: slow });
    await late.viewReady();
    assert.ok(late.view.has(early.id), "the late host knows the early one from the seed ping");
    assert.equal(late.view.get(early.id)?.info.name, "early");
  });

  it("a gather of every host ends once as many hosts as they know of have answered", { timeout: 20_000 }, async () => {
    // A lattice of its own, whose every view holds its three hosts.
    const server = await natsServer(cleanup);
    const hosts = [];
    for (const name of ["one", "two", "three"]) hosts.push(await host(cleanup, server.clientUrl, { name }));
    for (const h of hosts) await h.viewReady();
    for (const h of hosts) await h.view.waitFor((v) => v.hosts().length === 3, 10_000);
    // A stall longer than the test may take: only the counts in the answers can end the gathers.
    const nc = await connection(cleanup, server.clientUrl);
    const client = new LatticeClient(nc, "default", { stallMs: 60_000, timeoutMs: 60_000 });
    const known = (await client.hosts()).replies;
    assert.deepEqual(known.map((h) => [h.name, h.knownHosts]).sort(), [["one", 3], ["three", 3], ["two", 3]]);
    const inventories = (await client.inventories()).replies;
    assert.deepEqual(inventories.map((i) => i.host.id).sort(), known.map((h) => h.id).sort());
  });

  it("a lean host hears joins and goodbyes, not heartbeats, and its answers carry no count", async () => {
    const server = await natsServer(cleanup);
    const full = await host(cleanup, server.clientUrl, { name: "full", heartbeatMs: 100 });
    const lean = await host(cleanup, server.clientUrl, { name: "lean", presence: "lean", heartbeatMs: 100 });
    await lean.viewReady();
    assert.equal(lean.view.live, false);
    assert.ok(lean.view.has(full.id), "the seed found the host already there");
    const other = await host(cleanup, server.clientUrl, { name: "other", heartbeatMs: 100 });
    await until(() => lean.view.has(other.id), 5_000, "the lean view hears a join");
    // The full view as the clock: twenty beats heard there, none of them here.
    const heard = full.view.stats.events;
    await until(() => full.view.stats.events >= heard + 20, 10_000, "twenty events in the full view");
    assert.ok(lean.view.stats.events <= 2, `the lean view heard ${lean.view.stats.events} events: only joins and goodbyes`);
    const nc = await connection(cleanup, server.clientUrl);
    const answers = (await new LatticeClient(nc, "default").hosts()).replies;
    assert.deepEqual(answers.map((h) => [h.name, h.knownHosts]).sort(), [["full", 3], ["lean", undefined], ["other", 3]]);
    await other.stop("goodbye");
    await until(() => !lean.view.has(other.id), 5_000, "the lean view hears a goodbye");
  });
});
