/**
 * Actors across the lattice with real processes: pushed to the object store, started on a host
 * in another process, called through the CLI, spread over hosts, failing cleanly.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LatticeClient, type PlacementResult } from "../src/ctl/index.js";
import type { Host } from "../src/host/index.js";
import type { NatsServer } from "../src/nats/node/index.js";
import { invoke } from "../src/nats/invocations.js";
import { Subjects, type HostInfo, type HostInventory } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { exampleComponentPath, watCoreModule, watEcho, watNeedsImport } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const ECHO = "acme:demo/echo";

describe("actors in the lattice", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let a: Host;
  let remoteId: string;
  let env: NodeJS.ProcessEnv;
  const files: Record<string, string> = {};

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    a = await host(cleanup, nats.clientUrl, { name: "a" });
    const b = new CliProcess(["host", "--name", "b", "-o", "json", "--log-level", "warn"], env);
    cleanup.add(() => b.stop("SIGKILL"));
    const [ready] = await b.jsonLines<{ host: HostInfo }>(1);
    remoteId = ready!.host.id;
    await a.view.waitFor((v) => v.has(remoteId), 10_000);
    for (const [name, bytes] of [["wat-echo.wasm", await watEcho()], ["core.wasm", await watCoreModule()], ["needs.wasm", await watNeedsImport()]] as const) {
      files[name] = join(tmpdir(), `lattice-test-${process.pid}-${name}`);
      writeFileSync(files[name], bytes);
    }
  });
  after(cleanup.run);

  it("starts the echo actor from the object store on both hosts and calls it", async () => {
    const pushed = await cliJson<{ name: string; version: string; digest: string }>(["push", await exampleComponentPath("echo"), "--name", "echo:1.0"], env);
    assert.equal(pushed.version, "1.0");
    const placed = await cliJson<PlacementResult>(["start", "actor", "echo:1.0", "--id", "echo", "--scale", "4"], env);
    assert.deepEqual(placed.errors, []);
    assert.deepEqual(placed.results.map((r) => r.actor.instances).sort(), [2, 2], "spread 2 and 2 over the two hosts");

    const call = await runCli(["call", "echo", `${ECHO}.echo`, '["hello lattice"]'], env);
    assert.equal(call.code, 0, call.stderr);
    assert.equal(JSON.parse(call.stdout), "hello lattice");

    const inv = await cliJson<HostInventory[]>(["get", "inventory"], env);
    for (const h of inv) {
      const echo = h.actors.find((x) => x.id === "echo");
      assert.equal(echo?.instances, 2, `echo on ${h.host.name}`);
      assert.equal(echo?.digest, pushed.digest);
      assert.equal(echo?.ref, "echo:1.0");
    }
  });

  it("spreads a scaled actor's calls over its instances on several hosts", async () => {
    const nc = await connection(cleanup, nats.clientUrl);
    const subjects = new Subjects("default");
    const responders = new Map<string, number>();
    // Under load, 16 calls in flight: callers prefer the member that answers sooner (here host a
    // runs in this very process, the other in its own), and share by calls in flight, so both
    // serve a part whatever the machine is doing meanwhile.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 240) {
          const i = next++;
          const r = await invoke(nc, subjects, { target: "echo", iface: ECHO, fn: "echo", args: [`m${i}`], source: "test", deadline: Date.now() + 5_000 });
          responders.set(r.responder ?? "?", (responders.get(r.responder ?? "?") ?? 0) + 1);
        }
      }),
    );
    assert.deepEqual([...responders.keys()].sort(), [a.id, remoteId].sort(), JSON.stringify([...responders]));
    for (const n of responders.values()) assert.ok(n >= 24, `uneven spread ${JSON.stringify([...responders])}`);
  });

  it("a trapping call and a looping call each return errors, and the next call succeeds", async () => {
    const started = await runCli(["start", "actor", files["wat-echo.wasm"]!, "--id", "wat", "--scale", "2"], env);
    assert.equal(started.code, 0, started.stderr);

    const trap = await runCli(["call", "wat", `${ECHO}.trap`], env);
    assert.equal(trap.code, 1);
    assert.match(trap.stderr, /^lattice: trap: actor wat trapped/);
    assert.equal(JSON.parse((await runCli(["call", "wat", `${ECHO}.echo`, '["after trap"]'], env)).stdout), "after trap");

    const looping = runCli(["call", "wat", `${ECHO}.spin`, "--timeout", "2s"], env);
    // Other actors keep serving while one loops.
    assert.equal(JSON.parse((await runCli(["call", "echo", `${ECHO}.echo`, '["still here"]'], env)).stdout), "still here");
    const loop = await looping;
    assert.equal(loop.code, 1);
    assert.match(loop.stderr, /timeout/);
    const next = await runCli(["call", "wat", `${ECHO}.echo`, '["after loop"]'], env);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(JSON.parse(next.stdout), "after loop");
    assert.equal(JSON.parse((await runCli(["call", "wat", `${ECHO}.add`, "[40, 2]"], env)).stdout), 42);
  });

  it("the inventory shows what each actor's instances are doing", async () => {
    const client = new LatticeClient(await connection(cleanup, nats.clientUrl), "default");
    const wat = (inv: HostInventory[]) => inv.flatMap((h) => h.actors.filter((x) => x.id === "wat").map((x) => ({ host: h.host.id, ...x })));
    const listed = async () => wat(await cliJson<HostInventory[]>(["get", "inventory"], env));
    // Idle, once the instance that looped in the test before is replaced.
    const before = await until(async () => {
      const all = await listed();
      return all.length > 0 && all.every((e) => e.load?.busy === 0 && e.load.queued === 0 && e.load.stuck === 0) && all;
    }, 15_000, "idle instances of wat in the inventory");
    const looping = runCli(["call", "wat", `${ECHO}.spin`, "--timeout", "4s"], env);
    const busy = await until(async () => wat((await client.inventories()).replies).find((e) => e.load?.busy === 1), 10_000, "a busy instance of wat in the inventory");
    assert.equal(busy.load?.queued, 0);
    assert.equal((await looping).code, 1);
    const replacedBefore = before.find((e) => e.host === busy.host)?.load?.replaced ?? 0;
    const after = await until(async () => (await listed()).find((e) => e.host === busy.host && e.load?.busy === 0 && e.load.replaced > replacedBefore), 15_000, "the looping instance replaced");
    assert.equal(after.load?.stuck, 0);
    // The human listing says it too, on the actor's line.
    const human = await runCli(["get", "inventory", busy.host], env);
    assert.match(human.stdout, new RegExp(`^    wat  \\d+ instances? \\(busy 0, queued 0, replaced ${after.load?.replaced}\\)  `, "m"), human.stdout);
  });

  it("bad input gets a clear error and the hosts stay up", async () => {
    const client = new LatticeClient(await connection(cleanup, nats.clientUrl), "default");
    const failures: string[] = [];
    const abort = new AbortController();
    cleanup.add(() => abort.abort());
    void (async () => {
      for await (const r of client.events(abort.signal)) if ("event" in r && r.event.type === "lattice.actor_start_failed") failures.push(JSON.stringify(r.event.data));
    })();
    await client.nc.flush();

    const missing = await runCli(["start", "actor", "nothing-here:1.0", "--id", "ghost"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not_found: artifact nothing-here:1.0 is not in lattice default/);
    await until(() => failures.some((f) => f.includes("nothing-here")) || undefined, 5_000, "actor_start_failed event");

    const junk = join(tmpdir(), `lattice-test-${process.pid}-junk.wasm`);
    writeFileSync(junk, "definitely not wasm");
    const notWasm = await runCli(["push", junk, "--name", "junk:1"], env);
    assert.equal(notWasm.code, 1);
    assert.match(notWasm.stderr, /is not WebAssembly/);

    const core = await runCli(["push", files["core.wasm"]!, "--name", "core:1"], env);
    assert.match(core.stderr, /is a core WebAssembly module, not a component/);

    // An import nobody serves locally goes to the actor's link; without one, the call says so.
    const needs = await runCli(["start", "actor", files["needs.wasm"]!, "--id", "needy"], env);
    assert.equal(needs.code, 0, needs.stderr);
    const unlinked = await runCli(["call", "needy", "acme:demo/relay.call"], env);
    assert.equal(unlinked.code, 1);
    assert.match(unlinked.stderr, /not_found: actor needy has no link for acme:nowhere\/thing; add one: lattice link put needy <target> acme:nowhere\/thing/);

    const hugeFile = join(tmpdir(), `lattice-test-${process.pid}-huge.json`);
    writeFileSync(hugeFile, JSON.stringify(["x".repeat(2_000_000)]));
    const huge = await runCli(["call", "echo", `${ECHO}.echo`, `@${hugeFile}`], env);
    assert.equal(huge.code, 1);
    assert.match(huge.stderr, /payload_too_large/);

    const noFn = await runCli(["call", "echo", `${ECHO}.nope`], env);
    assert.match(noFn.stderr, /not_found: actor echo exports no function/);

    // Arguments are checked against the function's signature where the call is served.
    const extra = await runCli(["call", "echo", `${ECHO}.echo`, '["a","b"]'], env);
    assert.equal(extra.code, 1);
    assert.match(extra.stderr, /^lattice: bad_request: acme:demo\/echo.echo takes 1 argument \(msg: string\), got 2/);
    const wrongType = await runCli(["call", "echo", `${ECHO}.echo`, "[42]"], env);
    assert.equal(wrongType.code, 1);
    assert.match(wrongType.stderr, /^lattice: bad_request: argument 1 \(msg\) of acme:demo\/echo.echo must be a string \(WIT string\), got a number/);

    const badArgs = await runCli(["call", "echo", `${ECHO}.echo`, "{not json"], env);
    assert.match(badArgs.stderr, /ARGS_JSON is not valid JSON/);
    const bigButFine = join(tmpdir(), `lattice-test-${process.pid}-big.json`);
    writeFileSync(bigButFine, JSON.stringify(["y".repeat(500_000)]));
    const big = await runCli(["call", "echo", `${ECHO}.echo`, `@${bigButFine}`], env);
    assert.equal(big.code, 0, big.stderr);
    assert.equal((JSON.parse(big.stdout) as string).length, 500_000);

    // Everyone is still up and serving.
    assert.equal(JSON.parse((await runCli(["call", "echo", `${ECHO}.echo`, '["fine"]'], env)).stdout), "fine");
    assert.equal((await cliJson<HostInfo[]>(["get", "hosts"], env)).length, 2);
  });

  it("places by constraint and host, and runs a wasi:http fetch-handler actor", async () => {
    const nowhere = await runCli(["start", "actor", "echo:1.0", "--id", "echo-eu", "--constraint", "region=eu"], env);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /not_found: cannot place actor echo-eu: no host matches region=eu/);

    await cliJson(["push", await exampleComponentPath("http-hello"), "--name", "hello:1.0"], env);
    const placed = await cliJson<PlacementResult>(["start", "actor", "hello:1.0", "--id", "hello", "--host", a.id, "--scale", "2"], env);
    assert.deepEqual(placed.errors, []);
    assert.deepEqual(placed.results.map((r) => [r.hostId, r.actor.instances]), [[a.id, 2]]);
    const stop = await runCli(["stop", "actor", "hello"], env);
    assert.equal(stop.code, 0, stop.stderr);
  });

  it("scale and stop", async () => {
    const scaled = await cliJson<PlacementResult>(["scale", "actor", "echo", "1"], env);
    assert.deepEqual(scaled.errors, []);
    const total = (await cliJson<HostInventory[]>(["get", "inventory"], env)).flatMap((h) => h.actors).filter((x) => x.id === "echo");
    assert.equal(total.reduce((n, x) => n + x.instances, 0), 1);
    const stop = await runCli(["stop", "actor", "echo"], env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /stopped actor echo \(1 instance\)/);
    const gone = await runCli(["call", "echo", `${ECHO}.echo`, '["x"]'], env);
    assert.match(gone.stderr, /not_found: no instance of echo is running/);
  });
});
