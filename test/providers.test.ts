/**
 * Capability providers with real processes: started through the CLI on a host, supervised
 * (restarted after a crash, stopped for good when asked), serving wasi:keyvalue to direct calls
 * and to the counter actor through a link, out of JetStream KV or memory.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../src/ctl/index.js";
import { silentLogger, type Host } from "../src/host/index.js";
import { ProviderSupervisor, type LaunchSpec, type LaunchedProcess, type ProviderLauncher } from "../src/host/provider-supervisor.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import type { NatsServer } from "../src/nats/node/index.js";
import type { ProviderIpc } from "../src/provider/index.js";
import { isLatticeError, type AnyCloudEvent, type EventData, type EventType, type HostInfo, type HostInventory, type ProviderEntry, type ProviderStartResult } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { exampleComponentPath } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { sleep, until } from "./kit/poll.js";

const STORE = "wasi:keyvalue/store";
const ATOMICS = "wasi:keyvalue/atomics";
const COUNTER = "acme:demo/counter";
const FIXTURE = fileURLToPath(new URL("./fixtures/echo-provider.js", import.meta.url));

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: unknown) => new TextDecoder().decode(b as Uint8Array);

/** The error a call rejected with, or a failure if it resolved. */
async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; payload?: unknown }> {
  try {
    const v = await p;
    assert.fail(`expected the call to fail, it returned ${String(v)}`);
  } catch (e) {
    if (!isLatticeError(e)) throw e;
    return { code: e.code, message: e.message, payload: e.payload };
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("capability providers", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let env: NodeJS.ProcessEnv;
  let a: Host;
  let bId: string;
  let nc: NatsConnection;
  let client: LatticeClient;
  const events: AnyCloudEvent[] = [];

  const providerOn = async (hostId: string, id: string): Promise<ProviderEntry | undefined> =>
    (await client.inventory(hostId)).providers.find((p) => p.id === id);
  const eventsOf = (type: string, providerId: string) =>
    events.filter((e) => e.type === `lattice.${type}` && (e.data as { providerId?: string }).providerId === providerId);

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    a = await host(cleanup, nats.clientUrl, { name: "a" });
    const b = new CliProcess(["host", "--name", "b", "-o", "json", "--log-level", "warn"], env);
    cleanup.add(() => b.stop("SIGTERM"));
    const [ready] = await b.jsonLines<{ host: HostInfo }>(1);
    bId = ready!.host.id;
    await a.view.waitFor((v) => v.has(bId), 10_000);
    nc = await connection(cleanup, nats.clientUrl);
    client = new LatticeClient(nc, "default", { timeoutMs: 5_000 });
    const abort = new AbortController();
    cleanup.add(() => abort.abort());
    void (async () => {
      for await (const r of client.events(abort.signal)) if ("event" in r) events.push(r.event);
    })();
    await nc.flush();
  });
  after(cleanup.run);

  it("starts the keyvalue provider through the CLI; the inventory shows its process", async () => {
    const started = await cliJson<ProviderStartResult>(["start", "provider", "keyvalue", "--id", "kv", "--host", bId], env);
    assert.equal(started.hostId, bId);
    assert.equal(started.provider.state, "running");
    assert.equal(started.provider.restarts, 0);
    const pid = started.provider.pid;
    assert.ok(pid !== undefined && pidAlive(pid), "the provider process runs");

    const inventories = await cliJson<HostInventory[]>(["get", "inventory"], env);
    const onB = inventories.find((h) => h.host.id === bId);
    assert.deepEqual(onB?.providers.map((p) => [p.id, p.ref, p.state, p.pid, p.restarts]), [["kv", "keyvalue", "running", pid, 0]]);
    assert.deepEqual(inventories.find((h) => h.host.id === a.id)?.providers, []);
    const healthy = await until(async () => ((await providerOn(bId, "kv"))?.health.healthy ? await providerOn(bId, "kv") : undefined), 10_000, "kv healthy");
    assert.equal(healthy?.health.message, "JetStream reachable");
    const listed = await runCli(["get", "inventory", bId], env);
    assert.match(listed.stdout, new RegExp(`providers:\\n    kv  running  pid ${pid}  0 restarts  healthy: JetStream reachable  keyvalue`));
    await until(() => eventsOf("provider_started", "kv").some((e) => (e.data as { pid: number }).pid === pid) || undefined, 5_000, "provider_started");

    // Again with the same ref: nothing changes. With another ref: refused.
    const again = await cliJson<ProviderStartResult>(["start", "provider", "keyvalue", "--id", "kv"], env);
    assert.deepEqual([again.hostId, again.provider.pid], [bId, pid]);
    const other = await runCli(["start", "provider", FIXTURE, "--id", "kv"], env);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /bad_request: provider kv already runs keyvalue on host N[A-Z0-9]+; stop it first/);
  });

  it("serves wasi:keyvalue/store and atomics to direct calls, values stored as-is in JetStream KV", async () => {
    const bucket = await client.call("kv", STORE, "open", ["direct"]);
    assert.deepEqual(bucket, { $resource: "bucket", handle: "direct" });
    assert.equal(await client.call("kv", STORE, "bucket/set", [bucket, "greeting", text("hello")]), null);
    assert.equal(str(await client.call("kv", STORE, "bucket/get", [bucket, "greeting"])), "hello");
    assert.equal(await client.call("kv", STORE, "bucket/get", [bucket, "missing"]), null);
    assert.equal(await client.call("kv", STORE, "bucket/exists", [bucket, "greeting"]), true);
    assert.equal(await client.call("kv", STORE, "bucket/exists", [bucket, "missing"]), false);

    // Concurrent increments are exact: each sees its own new value.
    const results = await Promise.all(Array.from({ length: 20 }, () => client.call("kv", ATOMICS, "increment", [bucket, "n", 1n])));
    assert.deepEqual(results.map(Number).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(await client.call("kv", ATOMICS, "increment", [bucket, "n", 5n]), 25n);
    assert.deepEqual(await client.call("kv", STORE, "bucket/list-keys", [bucket, null]), { keys: ["greeting", "n"], cursor: null });

    // What `nats kv get direct n` would show.
    const kv = await new Kvm(nc).open("direct");
    assert.equal((await kv.get("n"))?.string(), "25");
    assert.equal((await kv.get("greeting"))?.string(), "hello");

    assert.equal(await client.call("kv", STORE, "bucket/delete", [bucket, "greeting"]), null);
    assert.equal(await client.call("kv", STORE, "bucket/exists", [bucket, "greeting"]), false);
    assert.equal(await client.call("kv", STORE, "bucket/delete", [bucket, "greeting"]), null, "deleting a missing key is fine");

    // Errors are the interface's own error variant.
    const badKey = await failure(client.call("kv", STORE, "bucket/get", [bucket, "no spaces"]));
    assert.equal(badKey.code, "guest_error");
    assert.deepEqual(Object.keys(badKey.payload as object), ["tag", "val"]);
    assert.equal((badKey.payload as { tag: string }).tag, "other");
    assert.match((badKey.payload as { val: string }).val, /invalid key "no spaces"/);
    const noStore = await failure(client.call("kv", STORE, "open", ["no.such/store"]));
    assert.deepEqual([noStore.code, noStore.payload], ["guest_error", { tag: "no-such-store" }]);
    await client.call("kv", STORE, "bucket/set", [bucket, "word", text("abc")]);
    const notNumber = await failure(client.call("kv", ATOMICS, "increment", [bucket, "word", 1n]));
    assert.match((notNumber.payload as { val: string }).val, /not a decimal number/);
    const badHandle = await failure(client.call("kv", STORE, "bucket/get", [42, "n"]));
    assert.equal(badHandle.code, "bad_request");
  });

  it("serves the counter actor through a link; the link's config picks the bucket", async () => {
    const state = new LatticeState(nc, "default");
    await state.putConfig("counter-kv", { bucket: "counters" });
    await state.putLink({ source: "counter", target: "kv", interface: "wasi:keyvalue", name: "default", config: ["counter-kv"] });
    await cliJson(["push", await exampleComponentPath("counter"), "--name", "counter:1.0"], env);
    const placed = await runCli(["start", "actor", "counter:1.0", "--id", "counter", "--host", a.id, "--scale", "2"], env);
    assert.equal(placed.code, 0, placed.stderr);

    for (const expected of [1, 2, 3]) assert.equal(Number(await client.call("counter", COUNTER, "increment", ["visits"])), expected);
    const viaCli = await runCli(["call", "counter", `${COUNTER}.increment`, '["visits"]'], env);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(JSON.parse(viaCli.stdout), 4);
    const kv = await new Kvm(nc).open("counters");
    assert.equal((await kv.get("visits"))?.string(), "4", "the counter lives in the bucket the link's config names");
  });

  it("keeps values in memory with --config backend=memory", async () => {
    const started = await cliJson<ProviderStartResult>(["start", "provider", "keyvalue", "--id", "kv-mem", "--host", a.id, "--config", "backend=memory"], env);
    assert.equal(started.hostId, a.id);
    const bucket = await client.call("kv-mem", STORE, "open", ["only-in-memory"]);
    await client.call("kv-mem", STORE, "bucket/set", [bucket, "k", text("v")]);
    assert.equal(str(await client.call("kv-mem", STORE, "bucket/get", [bucket, "k"])), "v");
    assert.equal(await client.call("kv-mem", ATOMICS, "increment", [bucket, "c", 2n]), 2n);
    assert.equal(await client.call("kv-mem", ATOMICS, "increment", [bucket, "c", 3n]), 5n);
    assert.deepEqual(await client.call("kv-mem", STORE, "bucket/list-keys", [bucket, null]), { keys: ["c", "k"], cursor: null });
    const jsm = await jetstreamManager(nc);
    await assert.rejects(jsm.streams.info("KV_only-in-memory"), /stream not found/);
    const entry = await until(async () => ((await providerOn(a.id, "kv-mem"))?.health.healthy ? await providerOn(a.id, "kv-mem") : undefined), 5_000, "kv-mem healthy");
    assert.equal(entry.health.message, "in memory");
    assert.equal(await client.stopProvider("kv-mem"), 1);
  });

  it("restarts a provider killed with SIGKILL; calls fail cleanly while it is down", async () => {
    const before = await providerOn(bId, "kv");
    const pid = before?.pid;
    assert.ok(pid !== undefined);
    const mark = events.length;
    process.kill(pid, "SIGKILL");
    const stopped = await until(() => events.slice(mark).find((e) => e.type === "lattice.provider_stopped" && (e.data as { providerId: string }).providerId === "kv"), 5_000, "provider_stopped");
    assert.deepEqual(stopped.data, { hostId: bId, providerId: "kv", ref: "keyvalue", reason: "was killed by SIGKILL", exitCode: null });

    // Down: a direct call and the actor's call both end in an error, quickly.
    const t0 = Date.now();
    const direct = await failure(client.call("kv", STORE, "open", ["direct"], { timeoutMs: 3_000 }));
    assert.ok(["not_found", "timeout"].includes(direct.code), JSON.stringify(direct));
    const viaActor = await failure(client.call("counter", COUNTER, "increment", ["visits"], { timeoutMs: 3_000 }));
    assert.ok(Date.now() - t0 < 6_500, "the calls did not hang");
    assert.ok(["not_found", "timeout"].includes(viaActor.code), JSON.stringify(viaActor));
    assert.match(viaActor.message, /\bkv\b/, JSON.stringify(viaActor));

    const restarted = await until(() => events.slice(mark).find((e) => e.type === "lattice.provider_started" && (e.data as { providerId: string }).providerId === "kv"), 10_000, "provider_started");
    const newPid = (restarted.data as { pid: number }).pid;
    assert.notEqual(newPid, pid);
    const after = await providerOn(bId, "kv");
    assert.deepEqual([after?.state, after?.pid, after?.restarts], ["running", newPid, 1]);
    assert.equal(pidAlive(pid), false);

    // Up again: the counter goes on where it was (the failed call above counted nothing).
    assert.equal(Number(await client.call("counter", COUNTER, "increment", ["visits"])), 5);
    assert.equal(await client.call("kv", ATOMICS, "increment", [await client.call("kv", STORE, "open", ["direct"]), "n", 1n]), 26n);
  });

  it("runs a provider module from a path, with its start config and a filtered environment", async () => {
    process.env.LATTICE_TEST_SECRET = "must not leak";
    cleanup.add(() => delete process.env.LATTICE_TEST_SECRET);
    const path = relative(process.cwd(), FIXTURE);
    const started = await cliJson<ProviderStartResult>(["start", "provider", path, "--id", "fx", "--host", a.id, "--config", "greeting=hi", "--config", "health=bad"], env);
    assert.equal(started.provider.ref, FIXTURE, "a relative path goes to the host as an absolute one");
    assert.equal(await client.call("fx", "acme:demo/echo", "echo", ["there"]), "hi: there");
    assert.deepEqual(await client.call("fx", "acme:demo/echo", "whoami", []), { id: "fx", hostId: a.id, source: "cli", config: {} });

    const names = (await client.call("fx", "acme:demo/echo", "env", [])) as string[];
    for (const n of ["LATTICE_NATS_URL", "LATTICE_NAME", "LATTICE_PROVIDER_ID", "LATTICE_HOST_ID", "LATTICE_PROVIDER_CONFIG", "PATH"]) assert.ok(names.includes(n), `${n} is given`);
    const unexpected = names.filter((n) => !n.startsWith("NODE_") && !["PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL"].includes(n) && !/^LATTICE_(NATS_URL|NAME|PROVIDER_ID|HOST_ID|PROVIDER_CONFIG|JS_DOMAIN|LOG_LEVEL)$/.test(n));
    assert.deepEqual(unexpected, [], "nothing else of the host's environment");

    const sick = await until(async () => {
      const p = await providerOn(a.id, "fx");
      return p?.health.message === "told to be unhealthy" ? p : undefined;
    }, 5_000, "fx reports itself unhealthy");
    assert.equal(sick.health.healthy, false);
    assert.ok(eventsOf("provider_health", "fx").some((e) => (e.data as { healthy: boolean }).healthy === false));

    // An .mjs module anywhere on the host works as well.
    const mjs = join(tmpdir(), `lattice-test-${process.pid}-provider.mjs`);
    writeFileSync(mjs, `import ${JSON.stringify(pathToFileURL(FIXTURE).href)};\n`);
    const viaMjs = await client.startProvider({ providerId: "fx-mjs", ref: mjs, hostId: bId });
    assert.equal(viaMjs.provider.state, "running");
    assert.equal(await client.call("fx-mjs", "acme:demo/echo", "echo", ["x"]), "echo: x");

    // A provider that fails before it is ready: the start fails with its last words, nothing is left behind.
    const failing = await runCli(["start", "provider", FIXTURE, "--id", "fx-bad", "--host", a.id, "--config", "fail=yes"], env);
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /internal: provider fx-bad \(.*echo-provider\.js\) exited with code 1 before it was ready; its last output:/);
    assert.match(failing.stderr, /told to fail at start/);
    assert.equal(await providerOn(a.id, "fx-bad"), undefined);
  });

  it("refuses a REF that names nothing with a clear error", async () => {
    const typo = await runCli(["start", "provider", "keyvalu", "--id", "typo"], env);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /not_found: no provider keyvalu: not a built-in \(keyvalue, http-server, messaging\) nor a file/);
    const missing = await runCli(["start", "provider", "/nowhere/provider.mjs", "--id", "typo"], env);
    assert.match(missing.stderr, /not_found: no provider \/nowhere\/provider\.mjs: not a built-in/);
    const notModule = await runCli(["start", "provider", fileURLToPath(new URL("../../package.json", import.meta.url)), "--id", "typo"], env);
    assert.match(notModule.stderr, /bad_request: provider .*package\.json is not a provider module: expected a \.js or \.mjs file/);
    const nowhere = await runCli(["start", "provider", "keyvalue", "--id", "kv-eu", "--constraint", "region=eu"], env);
    assert.match(nowhere.stderr, /not_found: cannot place provider kv-eu: no host matches region=eu/);
    assert.equal((await client.hosts()).replies.length, 2, "both hosts still up");
  });

  it("`lattice stop provider` stops it for good", async () => {
    const pid = (await providerOn(bId, "kv"))?.pid;
    assert.ok(pid !== undefined);
    const mark = events.length;
    const stop = await runCli(["stop", "provider", "kv"], env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, "stopped provider kv (on 1 host)\n");
    await until(() => !pidAlive(pid) || undefined, 5_000, "the provider process to end");
    await until(() => events.slice(mark).some((e) => e.type === "lattice.provider_stopped" && (e.data as { reason: string }).reason === "stopped") || undefined, 5_000, "provider_stopped");
    await sleep(1_000);
    assert.equal(await providerOn(bId, "kv"), undefined);
    assert.deepEqual(eventsOf("provider_started", "kv").filter((e) => events.indexOf(e) >= mark), [], "not restarted");
    const gone = await failure(client.call("kv", STORE, "open", ["direct"], { timeoutMs: 2_000 }));
    assert.equal(gone.code, "not_found");
    const again = await runCli(["stop", "provider", "kv"], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /provider kv is not running in lattice default/);
  });

  it("a host that stops stops its providers first", async () => {
    const c = await host(cleanup, nats.clientUrl, { name: "c" });
    const started = await client.startProvider({ providerId: "fx-c", ref: FIXTURE, hostId: c.id });
    const pid = started.provider.pid!;
    const mark = events.length;
    await c.stop("test");
    assert.equal(pidAlive(pid), false);
    await until(() => events.slice(mark).some((e) => e.type === "lattice.host_stopped" && e.source === c.id) || undefined, 5_000, "host_stopped");
    const order = events.slice(mark).filter((e) => e.source === c.id).map((e) => e.type);
    assert.ok(order.indexOf("lattice.provider_stopped") >= 0 && order.indexOf("lattice.provider_stopped") < order.indexOf("lattice.host_stopped"), order.join(", "));
  });
});

describe("keyvalue provider without JetStream", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("reports itself unhealthy and answers with the interface's `other` error", async () => {
    const plain = await natsServer(cleanup);
    const h = await host(cleanup, plain.clientUrl, { name: "no-js" });
    const client = new LatticeClient(await connection(cleanup, plain.clientUrl), "default");
    const started = await client.startProvider({ providerId: "kv", ref: "keyvalue" });
    assert.equal(started.hostId, h.id);
    const sick = await until(async () => {
      const p = (await client.inventory(h.id)).providers[0];
      return p?.health.healthy === false ? p : undefined;
    }, 10_000, "kv unhealthy");
    assert.match(sick.health.message, /^JetStream is unreachable/);
    const e = await failure(client.call("kv", STORE, "open", ["counters"]));
    assert.equal(e.code, "guest_error");
    assert.equal((e.payload as { tag: string }).tag, "other");
    // The provider itself is up: it answers, and is not restarted.
    assert.equal((await client.inventory(h.id)).providers[0]?.restarts, 0);
  });
});

/** A provider process that does what the test tells it to. */
class FakeProcess implements LaunchedProcess {
  static nextPid = 50_000;
  readonly pid = FakeProcess.nextPid++;
  readonly at = Date.now();
  alive = true;
  private readonly exitCbs: Array<(code: number | null, signal: string | null) => void> = [];
  private readonly messageCbs: Array<(m: ProviderIpc) => void> = [];
  private readonly outputCbs: Array<(line: string, stream: "stdout" | "stderr") => void> = [];

  onExit(cb: (code: number | null, signal: string | null) => void): void {
    this.exitCbs.push(cb);
  }
  onMessage(cb: (m: ProviderIpc) => void): void {
    this.messageCbs.push(cb);
  }
  onOutput(cb: (line: string, stream: "stdout" | "stderr") => void): void {
    this.outputCbs.push(cb);
  }
  send(m: ProviderIpc): void {
    for (const cb of this.messageCbs) cb(m);
  }
  print(line: string): void {
    for (const cb of this.outputCbs) cb(line, "stderr");
  }
  exit(code: number | null, signal: string | null = null): void {
    if (!this.alive) return;
    this.alive = false;
    for (const cb of this.exitCbs) cb(code, signal);
  }
  stop(): Promise<void> {
    this.exit(0);
    return Promise.resolve();
  }
  kill(): void {
    this.exit(null, "SIGKILL");
  }
}

/** Launches FakeProcesses; `behave` runs just after each launch (ready at once by default). */
class FakeLauncher implements ProviderLauncher {
  readonly launched: FakeProcess[] = [];
  readonly specs: LaunchSpec[] = [];
  behave: (p: FakeProcess) => void = (p) => p.send({ type: "ready" });

  launch(spec: LaunchSpec): LaunchedProcess {
    const p = new FakeProcess();
    this.launched.push(p);
    this.specs.push(spec);
    setTimeout(() => this.behave(p), 1);
    return p;
  }
}

describe("provider supervisor (fake processes)", () => {
  const HOST = "N" + "A".repeat(55);
  function supervisor(launcher: ProviderLauncher, opts: { readyTimeoutMs?: number } = {}) {
    const published: Array<{ type: EventType; data: EventData<EventType> }> = [];
    const s = new ProviderSupervisor({
      hostId: HOST,
      lattice: "test",
      servers: ["nats://a:4222", "nats://b:4222"],
      jsDomain: "hub",
      launcher,
      log: silentLogger,
      publish: (type, data) => published.push({ type, data }),
      backoff: { initialMs: 20, maxMs: 80, resetAfterMs: 60_000 },
      ...opts,
    });
    return { s, published, types: () => published.map((e) => e.type) };
  }

  it("starts once ready, with the LATTICE_* settings; the same ref again is a no-op, another is refused", async () => {
    const launcher = new FakeLauncher();
    const { s, types } = supervisor(launcher);
    const r = await s.start({ providerId: "kv", ref: "keyvalue", config: { backend: "memory" } });
    assert.deepEqual([r.hostId, r.provider.state, r.provider.pid, r.provider.restarts, r.provider.health.healthy], [HOST, "running", launcher.launched[0]!.pid, 0, true]);
    assert.deepEqual(launcher.specs[0], {
      providerId: "kv",
      ref: "keyvalue",
      env: {
        LATTICE_NATS_URL: "nats://a:4222,nats://b:4222",
        LATTICE_NAME: "test",
        LATTICE_PROVIDER_ID: "kv",
        LATTICE_HOST_ID: HOST,
        LATTICE_PROVIDER_CONFIG: '{"backend":"memory"}',
        LATTICE_JS_DOMAIN: "hub",
      },
    });
    assert.equal((await s.start({ providerId: "kv", ref: "keyvalue" })).provider.pid, r.provider.pid);
    assert.equal(launcher.launched.length, 1);
    await assert.rejects(s.start({ providerId: "kv", ref: "./other.js" }), { code: "bad_request" });
    assert.equal(s.count, 1);
    assert.deepEqual(types(), ["provider_started"]);
    await s.stopAll();
    assert.deepEqual(types(), ["provider_started", "provider_stopped"]);
    assert.equal(s.count, 0);
  });

  it("a process that exits before ready, or never says ready, fails the start and is gone", async () => {
    const launcher = new FakeLauncher();
    launcher.behave = (p) => {
      p.print("2026-11-26T10:00:00.000Z ERROR [x] provider failed to start {\"error\":\"boom\"}");
      p.exit(1);
    };
    const { s, published } = supervisor(launcher, { readyTimeoutMs: 100 });
    await assert.rejects(s.start({ providerId: "x", ref: "x.js" }), (e: Error & { code?: string }) => {
      assert.equal(e.code, "internal");
      assert.match(e.message, /^provider x \(x\.js\) exited with code 1 before it was ready; its last output:\n.*boom/);
      return true;
    });
    launcher.behave = () => undefined;
    await assert.rejects(s.start({ providerId: "y", ref: "y.js" }), { code: "timeout", message: "provider y (y.js) did not report ready within 100 ms" });
    assert.equal(launcher.launched[1]!.alive, false, "killed");
    assert.deepEqual(s.entries(), []);
    assert.deepEqual(published, []);
  });

  it("restarts a crashed process with a doubling delay, counts restarts, and stops for good", async () => {
    const launcher = new FakeLauncher();
    const { s, published, types } = supervisor(launcher);
    await s.start({ providerId: "kv", ref: "keyvalue" });
    for (let i = 0; i < 4; i++) {
      const n = launcher.launched.length;
      launcher.launched[n - 1]!.exit(i === 0 ? null : 3, i === 0 ? "SIGKILL" : null);
      assert.equal(s.entries()[0]?.state, "restarting");
      assert.equal(s.entries()[0]?.pid, undefined);
      await until(() => s.entries()[0]?.state === "running" || undefined, 2_000, `restart ${i + 1}`);
      assert.equal(launcher.launched.length, n + 1);
    }
    const gaps = launcher.launched.slice(1).map((p, i) => p.at - launcher.launched[i]!.at);
    for (const [gap, want] of gaps.map((g, i) => [g, [20, 40, 80, 80][i]!] as const)) assert.ok(gap >= want - 2 && gap < want + 150, `gaps ${gaps.join(", ")}`);
    const entry = s.entries()[0]!;
    assert.deepEqual([entry.restarts, entry.pid, entry.health.healthy], [4, launcher.launched[4]!.pid, true]);
    const stops = published.filter((e) => e.type === "provider_stopped").map((e) => e.data);
    assert.deepEqual(stops[0], { hostId: HOST, providerId: "kv", ref: "keyvalue", reason: "was killed by SIGKILL", exitCode: null });
    assert.deepEqual(stops[1], { hostId: HOST, providerId: "kv", ref: "keyvalue", reason: "exited with code 3", exitCode: 3 });
    assert.equal(types().filter((t) => t === "provider_started").length, 5);

    // Crashed again, then stopped while waiting to restart: no restart, one provider_stopped "stopped".
    launcher.launched[4]!.exit(1);
    assert.deepEqual(await s.stop("kv"), { hostId: HOST, stopped: true });
    await sleep(200);
    assert.equal(launcher.launched.length, 5);
    assert.deepEqual(published.at(-1)?.data, { hostId: HOST, providerId: "kv", ref: "keyvalue", reason: "stopped" });
    assert.deepEqual(await s.stop("kv"), { hostId: HOST, stopped: false });
  });

  it("keeps trying when a restart itself fails", async () => {
    const launcher = new FakeLauncher();
    const { s, published } = supervisor(launcher);
    await s.start({ providerId: "kv", ref: "keyvalue" });
    let failures = 1;
    launcher.behave = (p) => (failures-- > 0 ? p.exit(1) : p.send({ type: "ready" }));
    launcher.launched[0]!.exit(2);
    await until(() => s.entries()[0]?.state === "running" || undefined, 2_000, "running again");
    assert.deepEqual([launcher.launched.length, s.entries()[0]?.restarts], [3, 2]);
    const reasons = published.filter((e) => e.type === "provider_stopped").map((e) => (e.data as { reason: string }).reason);
    assert.deepEqual(reasons, ["exited with code 2", "restart failed: provider kv (keyvalue) exited with code 1 before it was ready"]);
    await s.stopAll();
  });

  it("relays health reports, announcing changes only", async () => {
    const launcher = new FakeLauncher();
    const { s, published } = supervisor(launcher);
    await s.start({ providerId: "kv", ref: "keyvalue" });
    const p = launcher.launched[0]!;
    p.send({ type: "health", healthy: false, message: "JetStream is unreachable" });
    p.send({ type: "health", healthy: false, message: "JetStream is unreachable" });
    p.send({ type: "health", healthy: true, message: "JetStream reachable" });
    const health = published.filter((e) => e.type === "provider_health").map((e) => e.data);
    assert.deepEqual(health, [
      { hostId: HOST, providerId: "kv", healthy: false, message: "JetStream is unreachable" },
      { hostId: HOST, providerId: "kv", healthy: true, message: "JetStream reachable" },
    ]);
    assert.equal(s.entries()[0]?.health.message, "JetStream reachable");
    await s.stopAll();
  });
});
