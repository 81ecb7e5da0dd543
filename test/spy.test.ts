/**
 * `lattice spy` with real processes: a spy in a child process sees the calls other processes
 * make to and from an actor (and to a provider process), with their interface, function and
 * result; a spy on an id nothing serves says so; once a spy is gone (released, or killed and its
 * lease lapsed) nothing more is published.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Host } from "../src/host/index.js";
import type { NatsServer } from "../src/nats/node/index.js";
import { invoke } from "../src/nats/invocations.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import { Subjects, type SpyRecord } from "../src/protocol/index.js";
import { CliProcess, runCli } from "./kit/cli.js";
import { watNeedsImport, watThing } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const RELAY = "acme:demo/relay";
const THING = "acme:nowhere/thing";

describe("lattice spy", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let env: NodeJS.ProcessEnv;
  let h: Host;
  let nc: NatsConnection;
  const subjects = new Subjects("default");

  async function startActor(id: string, bytes: Promise<Uint8Array>): Promise<void> {
    const file = join(tmpdir(), `lattice-spy-${process.pid}-${id}.wasm`);
    writeFileSync(file, await bytes);
    const r = await runCli(["start", "actor", file, "--id", id], env);
    assert.equal(r.code, 0, r.stderr);
  }

  function spy(args: string[]): CliProcess {
    const p = new CliProcess(["spy", ...args], env);
    cleanup.add(() => p.stop("SIGKILL"));
    return p;
  }

  /** Whether a call made now is recorded on `id`'s spy subject: a sentinel published after it tells when every record would have come. */
  async function recorded(seen: SpyRecord[], id: string, call: () => Promise<unknown>): Promise<boolean> {
    const before = seen.length;
    await call();
    const sentinel = `sentinel-${Math.random()}`;
    nc.publish(subjects.spyCalls(id), sentinel);
    await until(() => sentinelSeen.has(sentinel), 10_000, "the sentinel on the spy subject");
    return seen.length > before;
  }
  const sentinelSeen = new Set<string>();

  /** Every spy record on `id`'s subject, collected from now on (sentinels noted apart). */
  async function listen(id: string): Promise<{ sub: Subscription; seen: SpyRecord[] }> {
    const seen: SpyRecord[] = [];
    const sub = nc.subscribe(subjects.spyCalls(id), {
      callback: (_e, m) => {
        const text = m.string();
        if (text.startsWith("sentinel-")) sentinelSeen.add(text);
        else seen.push(m.json<SpyRecord>());
      },
    });
    await nc.flush();
    return { sub, seen };
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    h = await host(cleanup, nats.clientUrl, { name: "h" });
    await startActor("relay", watNeedsImport());
    await startActor("thing", watThing(7));
    nc = await connection(cleanup, nats.clientUrl);
    await new LatticeState(nc, "default").putLink({ source: "relay", target: "thing", interface: THING, name: "default", config: [] });
    await until(() => h.state.findLink("relay", THING), 10_000, "the link in the host's cache");
  });
  after(cleanup.run);

  it("streams the calls to and from an actor that another process makes, as JSON lines and as text", async () => {
    const json = spy(["relay", "-o", "json"]);
    const text = spy(["relay"]);
    await json.stderrIncludes(`spying on relay in lattice default: served by host ${h.id}`);
    await text.stderrIncludes("spying on relay");
    for (let i = 0; i < 2; i++) {
      const r = await runCli(["call", "relay", `${RELAY}.call`], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout), 7);
    }
    const bad = await runCli(["call", "relay", `${RELAY}.call`, '["extra"]'], env);
    assert.match(bad.stderr, /bad_request/);

    const records = await json.jsonLines<SpyRecord>(5);
    const ins = records.filter((r) => r.direction === "in");
    const outs = records.filter((r) => r.direction === "out");
    assert.deepEqual(
      ins.map((r) => [r.id, r.source, r.target, r.interface, r.function, r.ok, r.code]).sort(),
      [
        ["relay", "cli", "relay", RELAY, "call", false, "bad_request"],
        ["relay", "cli", "relay", RELAY, "call", true, undefined],
        ["relay", "cli", "relay", RELAY, "call", true, undefined],
      ].sort(),
    );
    assert.deepEqual(
      outs.map((r) => [r.id, r.source, r.target, r.interface, r.function, r.ok, r.attempts]),
      [
        ["relay", "relay", "thing", THING, "ping", true, 1],
        ["relay", "relay", "thing", THING, "ping", true, 1],
      ],
    );
    for (const r of records) {
      assert.equal(r.by, h.id);
      assert.ok(r.requestBytes > 0 && r.replyBytes > 0, `sizes of ${JSON.stringify(r)}`);
      assert.ok(r.ms >= 0 && r.callId.length > 0);
    }
    // The call relay made while serving a call derives its id from that call's.
    for (const o of outs) assert.ok(ins.some((i) => o.callId.startsWith(`${i.callId}.`)), `${o.callId} derives from a served call`);

    await until(() => text.stdout.split("\n").filter((l) => l.length > 0).length >= 5, 10_000, "5 text lines");
    assert.match(text.stdout, /^\d\d:\d\d:\d\d\.\d{3} {2}in {3}cli -> relay {2}acme:demo\/relay\.call\s+\d+(\.\d\d)?ms {2}\d+ B\/\d+ B {2}ok$/m);
    assert.match(text.stdout, /^\d\d:\d\d:\d\d\.\d{3} {2}out {2}relay -> thing {2}acme:nowhere\/thing\.ping\s+\d+(\.\d\d)?ms {2}\d+ B\/\d+ B {2}ok$/m);
    assert.match(text.stdout, / {2}in {3}cli -> relay {2}acme:demo\/relay\.call .* error bad_request$/m);

    // Ctrl-C: the spies release their leases on the way out; the host publishes nothing more.
    assert.equal(await json.stop("SIGINT"), 0);
    assert.equal(await text.stop("SIGINT"), 0);
    const { sub, seen } = await listen("relay");
    for (let i = 0; i < 3; i++) {
      const silent = !(await recorded(seen, "relay", () => runCli(["call", "relay", `${RELAY}.call`], env)));
      assert.ok(silent, `no record after the spies left (${JSON.stringify(seen)})`);
    }
    sub.unsubscribe();
  });

  it("stops publishing once a killed spy's lease lapses", async () => {
    const p = spy(["thing", "-o", "json"]);
    await p.stderrIncludes("spying on thing");
    const { sub, seen } = await listen("thing");
    const ping = () => invoke(nc, subjects, { target: "thing", iface: THING, fn: "ping", args: [], source: "spy-test", deadline: Date.now() + 5_000 });
    assert.ok(await recorded(seen, "thing", ping), "a call is recorded while the spy runs");
    await p.stop("SIGKILL"); // no release: the lease must lapse by itself
    await until(async () => !(await recorded(seen, "thing", ping)), 20_000, "a call no longer recorded after the lease lapsed");
    const after = seen.length;
    for (let i = 0; i < 3; i++) assert.equal(await recorded(seen, "thing", ping), false);
    assert.equal(seen.length, after);
    sub.unsubscribe();
  });

  it("spies on a provider process: the calls it serves", async () => {
    const kv = await runCli(["start", "provider", "keyvalue", "--id", "kv", "--config", "backend=memory"], env);
    assert.equal(kv.code, 0, kv.stderr);
    const p = spy(["kv", "-o", "json", "--count", "2"]);
    await p.stderrIncludes("spying on kv in lattice default: served by provider kv");
    const store = "wasi:keyvalue/store";
    await invoke(nc, subjects, { target: "kv", iface: store, fn: "open", args: ["s"], source: "spy-test", deadline: Date.now() + 5_000 });
    await invoke(nc, subjects, { target: "kv", iface: store, fn: "nope", args: [], source: "spy-test", deadline: Date.now() + 5_000 }).catch(() => undefined);
    const records = await p.jsonLines<SpyRecord>(2);
    assert.deepEqual(
      records.map((r) => [r.direction, r.source, r.target, r.interface, r.function, r.ok, r.code, r.by]),
      [
        ["in", "spy-test", "kv", store, "open", true, undefined, "kv"],
        ["in", "spy-test", "kv", store, "nope", false, "not_found", "kv"],
      ],
    );
    await until(() => p.child.exitCode !== null, 10_000, "the spy to exit after --count 2");
    assert.equal(p.child.exitCode, 0);
  });

  it("says so when nothing serves the id, or waits for it with --wait", async () => {
    const r = await runCli(["spy", "nosuch"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not_found: nothing in lattice default serves nosuch: no host runs it, no provider is it, and no link names it \(--wait to wait for it\)/);
    assert.equal(r.stdout, "");

    const waiting = spy(["later", "-o", "json", "--wait"]);
    await waiting.stderrIncludes("nothing in lattice default serves later");
    await waiting.stderrIncludes("waiting for it (--wait)");
    await startActor("later", watThing(9));
    // Every member holds every lease, so the host that runs it now publishes at once.
    await until(
      async () => {
        await invoke(nc, subjects, { target: "later", iface: THING, fn: "ping", args: [], source: "spy-test", deadline: Date.now() + 5_000 });
        return waiting.stdout.length > 0;
      },
      20_000,
      "a call to later on the waiting spy",
    );
    const [rec] = await waiting.jsonLines<SpyRecord>(1);
    assert.deepEqual([rec!.direction, rec!.target, rec!.function, rec!.ok], ["in", "later", "ping", true]);
  });
});
