/**
 * What `lattice dev` runs is what `lattice build` makes: the counter example (a linked
 * `wasi:keyvalue` import) built in full, and built twice by the dev build server (the second
 * reusing the world's splice and patching the steps after wizer, each patch checked against the
 * full step: LATTICE_DEV_VERIFY), all three run on a host in its own process against the keyvalue
 * provider and answer the same calls the same way. The host's transpile of a new build reuses
 * the glue of the previous one (transpile-reuse.ts): the result is byte for byte a full transpile.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildActor, type BuiltActor } from "../src/actor/build.js";
import { DevBuilder, type DevBuild } from "../src/actor/dev-builder.js";
import { Transpiler } from "../src/actor/transpiler.js";
import { LatticeClient } from "../src/ctl/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import type { HostInfo } from "../src/protocol/index.js";
import { CliProcess, runCli } from "./kit/cli.js";
import { exampleInputs } from "./kit/fixtures.js";
import { Cleanup, connection, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const counter = exampleInputs("counter");

describe("dev builds and full builds", () => {
  const cleanup = new Cleanup();
  let full: BuiltActor;
  let dev1: DevBuild;
  let dev2: DevBuild;

  before(async () => {
    process.env.LATTICE_DEV_VERIFY = "1";
    const builder = new DevBuilder();
    cleanup.add(() => builder.close());
    const inputs = { source: counter.source, witDir: counter.witDir, world: counter.world };
    dev1 = await builder.build(inputs);
    dev2 = await builder.build(inputs);
    full = await buildActor(inputs);
  });

  after(cleanup.run);

  it("the second dev build reuses the splice and patches the stub and encode steps, checked against the full steps", () => {
    assert.deepEqual(dev1.steps, { splice: true, stub: true, encode: true });
    assert.deepEqual(dev2.steps, { splice: false, stub: false, encode: false });
  });

  it("a new build's transpile reuses the glue, and is byte for byte a full transpile", async () => {
    const reusing = new Transpiler(false);
    const fresh = new Transpiler(false);
    cleanup.add(() => reusing.close());
    cleanup.add(() => fresh.close());
    const first = await reusing.transpile(full.bytes, full.digest);
    const reused = await reusing.transpile(dev2.bytes, dev2.digest);
    const whole = await fresh.transpile(dev2.bytes, dev2.digest);
    assert.deepEqual(Object.keys(reused.files).sort(), Object.keys(whole.files).sort());
    for (const [name, data] of Object.entries(whole.files)) assert.ok(Buffer.compare(reused.files[name]!, data) === 0, `${name} the same`);
    assert.deepEqual(reused.imports, whole.imports);
    assert.deepEqual(reused.exports, whole.exports);
    // The same imports and exports as the full build.
    assert.deepEqual(whole.imports, first.imports);
    assert.deepEqual(whole.exports, first.exports);
  });

  it("all three run on a host with a linked keyvalue provider and count the same", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    const hostProcess = new CliProcess(["host", "--name", "a", "-o", "json", "--log-level", "warn"], env);
    cleanup.add(() => hostProcess.stop("SIGKILL"));
    const [ready] = await hostProcess.jsonLines<{ host: HostInfo }>(1, 30_000);
    const nc = await connection(cleanup, nats.clientUrl);
    const client = new LatticeClient(nc, "default");
    const store = new ArtifactStore(nc, "default");
    const ok = async (args: string[]) => {
      const r = await runCli(args, env, 60_000);
      assert.equal(r.code, 0, `lattice ${args.join(" ")}: ${r.stderr}`);
    };
    await ok(["start", "provider", "keyvalue", "--id", "kv", "--host", ready!.host.id]);
    await ok(["config", "put", "dev-kv", "bucket=dev_builds"]);
    const builds = [["full", full], ["dev1", dev1], ["dev2", dev2]] as const;
    for (const [id] of builds) await ok(["link", "put", id, "kv", "wasi:keyvalue", "--config", "dev-kv"]);
    const answers: Record<string, number[]> = {};
    for (const [id, built] of builds) {
      const info = await store.put({ name: id, version: "1" }, built.bytes);
      const r = await client.startActor({ actorId: id, ref: `${info.name}:${info.version}`, instances: 1, timeoutMs: 120_000 });
      assert.deepEqual(r.errors, []);
      const increment = async () => Number(await client.call(id, "acme:demo/counter", "increment", [`key-${id}`]));
      // The first call may come before the host has the link: a refused call counts nothing.
      answers[id] = [await until(increment, 30_000, `${id} answering`)];
      for (let i = 0; i < 2; i++) answers[id].push(await increment());
    }
    assert.deepEqual(answers, { full: [1, 2, 3], dev1: [1, 2, 3], dev2: [1, 2, 3] });
  });
});
