/**
 * A `lattice host --profile small` under a hard memory limit: a memory cgroup of its own (v1,
 * under this process's cgroup, where the machine lets root make one), with Node's heap bounded
 * too. It joins, runs the JavaScript echo and serves its calls; asked for more instances than fit,
 * it refuses with `insufficient_resources` and the figures and keeps serving, instead of being
 * killed by the OOM killer; placement then puts the instances on a host with room.
 *
 * `prlimit --as` is no such limit: V8 reserves ~10 GB of address space per Wasm memory, so a
 * component cannot even instantiate under an address-space limit a device could have.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { NodeActorRuntime } from "../src/actor/node-runtime.js";
import { nodeMemoryProbe } from "../src/cli/memory-probe.js";
import { LatticeClient, spread } from "../src/ctl/index.js";
import { HostCapacity } from "../src/host/capacity.js";
import { silentLogger } from "../src/host/index.js";
import { ErrorCode, isLatticeError, type HostInfo, type HostInventory } from "../src/protocol/index.js";
import { LAUNCHER, cliJson } from "./kit/cli.js";
import { exampleComponent, exampleComponentPath } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const ECHO = "acme:demo/echo";
const MB = 1024 * 1024;
/** Room for the small host's idle ~60 MB, one JS echo (~+45 MB) and its reserve, not for fifteen more (~20 MB each). */
const LIMIT = 320 * MB;

/** A v1 memory cgroup under this process's own, limited to `bytes`; undefined where none can be made. */
function memoryCgroup(bytes: number): string | undefined {
  const line = readFileSync("/proc/self/cgroup", "utf8")
    .split("\n")
    .find((l) => l.split(":")[1]?.split(",").includes("memory"));
  const own = line?.split(":")[2];
  if (own === undefined) return undefined;
  const dir = `/sys/fs/cgroup/memory${own === "/" ? "" : own}/lattice-small-host-${process.pid}`;
  try {
    mkdirSync(dir);
    writeFileSync(`${dir}/memory.limit_in_bytes`, String(bytes));
    // No swap to escape into: the limit is on memory and swap together where the kernel counts it.
    if (existsSync(`${dir}/memory.memsw.limit_in_bytes`)) writeFileSync(`${dir}/memory.memsw.limit_in_bytes`, String(bytes));
    return dir;
  } catch {
    try {
      rmdirSync(dir);
    } catch {
      // never made
    }
    return undefined;
  }
}

/** OOM kills in the cgroup (v1 `memory.oom_control`). */
function oomKills(dir: string): number {
  return Number(/^oom_kill (\d+)$/m.exec(readFileSync(`${dir}/memory.oom_control`, "utf8"))?.[1] ?? 0);
}

class LimitedHost {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";

  /** `lattice host` (the launcher, as a user runs it) in `cgroup` (when given), with Node's old space bounded. */
  constructor(args: string[], cgroup: string | undefined, env: NodeJS.ProcessEnv) {
    const command = [LAUNCHER, ...args].map((a) => `'${a}'`).join(" ");
    const script = cgroup ? `echo $$ > '${cgroup}/cgroup.procs' && exec ${command}` : `exec ${command}`;
    this.child = spawn("sh", ["-c", script], { env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=96", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async ready(): Promise<HostInfo> {
    return until(
      () => {
        const line = this.stdout.split("\n").find((l) => l.startsWith("{"));
        if (line) return (JSON.parse(line) as { host: HostInfo }).host;
        if (!this.alive) throw new Error(`the host exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`);
        return undefined;
      },
      20_000,
      `the small host's ready line (stderr: ${this.stderr})`,
    );
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}

describe("a small host under a hard memory limit", () => {
  const cleanup = new Cleanup();
  let env: NodeJS.ProcessEnv;
  let cgroup: string | undefined;
  let small: LimitedHost;
  let smallId: string;
  let client: LatticeClient;

  before(async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl, LATTICE_NAME: "default" };
    // The machine's transpile cache holds the echo before the limited host asks for it: its first
    // transpile (jco, a few hundred MB for a JavaScript actor) is not what this test measures.
    const warm = new NodeActorRuntime(silentLogger);
    await warm.prepare(await exampleComponent("echo"), "echo");
    await warm.close();
    cgroup = memoryCgroup(LIMIT);
    // Without a cgroup the limit is the host's own accounting (--memory-limit): the refusals are the same.
    const limitArgs = cgroup ? [] : ["--memory-limit", String(LIMIT)];
    small = new LimitedHost(["host", "--profile", "small", "--name", "small", "--heartbeat", "500ms", "--no-reconcile", "-o", "json", "--log-level", "warn", ...limitArgs], cgroup, env);
    cleanup.add(async () => {
      await small.stop();
      if (cgroup) await until(() => (rmdirOk(cgroup!) ? true : undefined), 10_000, "the test cgroup removed");
    });
    smallId = (await small.ready()).id;
    client = new LatticeClient(await connection(cleanup, nats.clientUrl), "default", { timeoutMs: 3_000, stallMs: 300 });
  });
  after(cleanup.run);

  it("joins with its limit, runs the echo, refuses what does not fit with the figures and keeps serving; placement goes where there is room", async (t) => {
    t.diagnostic(cgroup ? `limit: cgroup ${cgroup}` : "limit: --memory-limit (no writable memory cgroup here)");
    const joined = await until(async () => (await client.hosts()).replies.find((h) => h.id === smallId), 10_000, "the small host in the lattice");
    assert.equal(joined.memory?.limitBytes, LIMIT, cgroup ? "the limit read from its cgroup" : "the limit from --memory-limit");
    assert.ok(joined.memory.usedBytes > 0 && joined.memory.usedBytes < LIMIT);
    // `lattice host --profile small` is node with the flags and environment that only work from its start.
    const pid = small.child.pid!;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    assert.deepEqual(argv.slice(1, 5), ["--max-semi-space-size=1", "--liftoff-only", "--no-opt", "--expose-gc"], argv.join(" "));
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    for (const v of ["MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=131072", "NODE_OPTIONS=--max-old-space-size=96"]) assert.ok(environ.includes(v), v);

    const started = await cliJson<{ results: Array<{ hostId: string; actor: { ref: string; instances: number } }> }>(["start", "actor", await exampleComponentPath("echo"), "--id", "echo", "--host", "small", "--timeout", "60s"], env);
    assert.equal(started.results[0]?.hostId, smallId);
    const ref = started.results[0].actor.ref;
    assert.equal(await client.call("echo", ECHO, "echo", ["hi"], { timeoutMs: 30_000 }), "hi");

    // Directed at the host, more than fits: refused, with what it needs and what it has.
    const refusal = await client.scaleOnHost(smallId, { actorId: "echo", ref, instances: 16 }).then(
      () => assert.fail("the host took 16 instances of a JS actor in 320 MB"),
      (e: unknown) => e,
    );
    assert.ok(isLatticeError(refusal), String(refusal));
    assert.equal(refusal.code, ErrorCode.InsufficientResources);
    t.diagnostic(refusal.message);
    assert.match(refusal.message, /^no room for 15 more instances of echo: needs ~\d+ MB \(15 × \d+ MB\), has \d+ MB free \(\d+ MB in use of 320 MB, \d+ MB kept for calls\); room for \d+$/);

    // It keeps running what it runs, and serves it.
    for (let i = 0; i < 20; i++) assert.equal(await client.call("echo", ECHO, "echo", [`after ${i}`], { timeoutMs: 10_000 }), `after ${i}`);
    const inv = await client.inventory(smallId);
    assert.equal(inv.actors.find((a) => a.id === "echo")?.instances, 1);
    assert.ok(inv.actors.find((a) => a.id === "echo")!.instanceBytes! >= 8 * MB, "it measured what an instance costs");

    // A host with room joins; scaling out puts there what the small host has no room for.
    const roomy = await host(cleanup, env.LATTICE_NATS_URL!, { name: "roomy", memory: nodeMemoryProbe() });
    await until(async () => (await client.hosts()).replies.some((h) => h.id === roomy.id), 10_000, "the roomy host in the lattice");
    const smallRoom = (inventory: HostInventory) => Math.floor(inventory.host.memory!.freeBytes / inventory.actors.find((a) => a.id === "echo")!.instanceBytes!);
    const room = smallRoom(await client.inventory(smallId));
    const placed = await client.scaleActor("echo", 8, 120_000);
    assert.equal(placed.unplaced, 0, JSON.stringify(placed));
    assert.deepEqual(placed.errors, []);
    const counts = new Map((await client.inventories()).replies.map((i) => [i.host.id, i.actors.find((a) => a.id === "echo")?.instances ?? 0]));
    t.diagnostic(`scaled to 8: small ${counts.get(smallId)} (room for ${room} more), roomy ${counts.get(roomy.id)}`);
    assert.ok(counts.get(smallId)! <= 1 + room, `the small host runs ${counts.get(smallId)} with room for ${room} more`);
    assert.equal(counts.get(smallId)! + counts.get(roomy.id)!, 8);
    for (let i = 0; i < 10; i++) assert.equal(await client.call("echo", ECHO, "echo", [`spread ${i}`], { timeoutMs: 10_000 }), `spread ${i}`);

    assert.ok(small.alive, `the small host is still running (stderr: ${small.stderr})`);
    if (cgroup) assert.equal(oomKills(cgroup), 0, "nothing in the host's cgroup was OOM-killed");
  });
});

describe("memory in placement and admission", () => {
  it("spread gives a host no more instances than its room, and leaves what fits nowhere", () => {
    const plan = spread(
      [
        { hostId: "a", labels: {}, load: 0, current: 0, room: 1 },
        { hostId: "b", labels: {}, load: 5, current: 1, room: 2 },
        { hostId: "c", labels: {}, load: 9, current: 0 },
      ],
      6,
    );
    assert.deepEqual(Object.fromEntries(plan), { a: 1, b: 3, c: 2 });
    const full = spread([{ hostId: "a", labels: {}, load: 0, current: 1, room: 0 }], 4);
    assert.equal(full.get("a"), 1);
  });

  it("a host admits what fits, learns an instance's cost, and refuses beyond with the figures", () => {
    let rss = 100 * MB;
    const capacity = new HostCapacity({ limitBytes: 300 * MB, sample: () => ({ rssBytes: rss }) });
    // 300 - 100 - 30 (reserve) = 170 MB free; unmeasured: 24 MB + its size.
    assert.equal(capacity.freeBytes(), 170 * MB);
    capacity.admit({ actorId: "x", add: 4, digest: "d", size: 1 * MB, compiled: false });
    const before = capacity.rss();
    rss += 2 * 40 * MB;
    capacity.grew("d", before, 2);
    assert.equal(capacity.instanceBytes("d"), 40 * MB);
    assert.throws(
      () => capacity.admit({ actorId: "x", add: 3, digest: "d", compiled: true }),
      (e: unknown) => isLatticeError(e) && e.code === ErrorCode.InsufficientResources && e.message === "no room for 3 more instances of x: needs ~120 MB (3 × 40 MB), has 90 MB free (180 MB in use of 300 MB, 30 MB kept for calls); room for 2",
    );
    capacity.admit({ actorId: "x", add: 2, digest: "d", compiled: true });
    assert.equal(capacity.info().freeBytes, 90 * MB);
  });
});

function rmdirOk(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}
