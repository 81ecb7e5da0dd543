/**
 * Placement over hosts that refuse, from the real CLI against real host processes: a host that
 * runs only signed actors and hosts that run nothing are passed over, and the command says which
 * it skipped and why; hosts are named by name in `--host` and in the output.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount } from "@nats-io/nkeys";
import type { HostInfo, HostInventory } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

/** The parts of a `start`/`scale -o json` answer these tests read. */
interface Placed {
  results: Array<{ hostName: string; previous: number; actor: { instances: number } }>;
  skipped: Array<{ hostName: string; reason: string }>;
  unplaced: number;
}

describe("placement over hosts that refuse", () => {
  const cleanup = new Cleanup();
  let env: NodeJS.ProcessEnv;
  let natsUrl = "";

  const startHost = async (name: string, extra: string[] = []): Promise<void> => {
    const p = new CliProcess(["host", "--name", name, "--no-reconcile", "--heartbeat", "500ms", "-o", "json", "--log-level", "warn", ...extra], env);
    cleanup.add(() => p.stop("SIGKILL"));
    await p.jsonLines<{ host: HostInfo }>(1);
  };
  /** Instances of an actor by host name. */
  const instances = async (id: string): Promise<Record<string, number>> => {
    const inv = await cliJson<HostInventory[]>(["get", "inventory"], env);
    return Object.fromEntries(inv.filter((h) => h.actors.some((a) => a.id === id)).map((h) => [h.host.name, h.actors.find((a) => a.id === id)!.instances]));
  };

  before(async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    natsUrl = nats.clientUrl;
    env = { LATTICE_NATS_URL: natsUrl };
    const file = join(tmpdir(), `lattice-${process.pid}-refusals-echo.wasm`);
    writeFileSync(file, await watEcho());
    cleanup.add(() => rmSync(file, { force: true }));
    const pushed = await runCli(["push", file, "--name", "echo:1"], env);
    assert.equal(pushed.code, 0, pushed.stderr);
    // An issuer nobody signs with: the strict host refuses every actor here.
    await startHost("strict", ["--allowed-issuers", createAccount().getPublicKey()]);
    await startHost("normal");
    await until(async () => (await cliJson<HostInfo[]>(["get", "hosts"], env)).length === 2, 15_000, "two hosts");
  });
  after(cleanup.run);

  it("start places an unsigned actor on the host that takes it and says which host it skipped", async () => {
    const r = await runCli(["start", "actor", "echo:1", "--id", "echo", "--scale", "2"], env, 90_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^started actor echo \(echo:1\) on host normal: 0 -> 2 instances$/m);
    assert.match(r.stderr, /^skipped host strict: forbidden: actor echo refused: unsigned/m);
    assert.deepEqual(await instances("echo"), { normal: 2 });
  });

  it("scale passes over the strict host by what it advertises, in JSON too", async () => {
    const r = await cliJson<Placed>(["scale", "actor", "echo", "3"], env);
    assert.deepEqual(r.results.map((x) => [x.hostName, x.previous, x.actor.instances]), [["normal", 2, 3]]);
    assert.equal(r.skipped.length, 1);
    assert.equal(r.skipped[0]!.hostName, "strict");
    assert.match(r.skipped[0]!.reason, /^it runs only actors signed by A[A-Z2-7]{7}…, and echo:1 is unsigned$/);
    assert.equal(r.unplaced, 0);
    assert.deepEqual(await instances("echo"), { normal: 3 });
  });

  it("--host takes a host's name; one instance is 'instance'", async () => {
    const r = await runCli(["start", "actor", "echo:1", "--id", "solo", "--host", "normal"], env, 90_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^started actor solo \(echo:1\) on host normal: 0 -> 1 instance$/m);
    const stop = await runCli(["stop", "actor", "solo"], env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^stopped actor solo \(1 instance\)$/m);
  });

  it("a host named by --host that refuses leaves the instances unplaced, saying why", async () => {
    const r = await runCli(["start", "actor", "echo:1", "--id", "picky", "--host", "strict"], env, 90_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^skipped host strict: forbidden: actor picky refused: unsigned/m);
    assert.match(r.stderr, /1 instance of actor picky found no host that takes it/);
    assert.deepEqual(await instances("picky"), {});
  });

  it("hosts that run no actors or providers are passed over; a name two hosts share is refused", async () => {
    for (let i = 0; i < 2; i++) await host(cleanup, natsUrl, { name: "twin", labels: { pool: "twins" }, actors: undefined, providers: undefined });
    await until(async () => (await cliJson<HostInfo[]>(["get", "hosts"], env)).length === 4, 15_000, "four hosts");

    const r = await runCli(["start", "actor", "echo:1", "--id", "wide", "--scale", "2"], env, 90_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^started actor wide \(echo:1\) on host normal: 0 -> 2 instances$/m);
    assert.equal(r.stderr.match(/^skipped host twin \(N[A-Z2-7]{7}…\): it runs no actors$/gm)?.length, 2, r.stderr);
    assert.deepEqual(await instances("wide"), { normal: 2 });

    const ambiguous = await runCli(["start", "actor", "echo:1", "--id", "e5", "--host", "twin"], env);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, /bad_request: 2 hosts are named twin \(N[A-Z2-7]{55}, N[A-Z2-7]{55}\); give the id of the one you mean/);

    const provider = await runCli(["start", "provider", "keyvalue", "--id", "kv", "--constraint", "pool=twins"], env);
    assert.equal(provider.code, 1);
    assert.match(provider.stderr, /cannot place provider kv: no host takes it \(host twin: it supervises no providers; host twin: it supervises no providers\)/);
  });
});
