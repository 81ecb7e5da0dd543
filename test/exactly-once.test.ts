/**
 * A target that declares its calls non-idempotent runs each call id once, lattice-wide: retries
 * of one call (same id), wherever NATS delivers them, get the first run's answer.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { invoke } from "../src/nats/invocations.js";
import { Subjects } from "../src/protocol/index.js";
import type { NatsServer } from "../src/nats/node/index.js";
import type { Host } from "../src/host/index.js";
import { runCli } from "./kit/cli.js";
import { exampleComponentPath } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

describe("exactly-once calls", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let a: Host;
  let b: Host;
  const subjects = new Subjects("default");

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    a = await host(cleanup, nats.clientUrl, { name: "a" });
    b = await host(cleanup, nats.clientUrl, { name: "b" });
    const env = { LATTICE_NATS_URL: nats.clientUrl };
    const run = async (args: string[]) => {
      const r = await runCli(args, env);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    };
    await run(["push", await exampleComponentPath("counter"), "--name", "counter:1.0"]);
    await run(["start", "provider", "keyvalue", "--id", "kv", "--host", a.id, "--config", "backend=memory"]);
    for (const h of [a, b]) await run(["start", "actor", "counter:1.0", "--id", "once", "--host", h.id, "--config", "lattice.idempotent=false"]);
    await run(["link", "put", "once", "kv", "wasi:keyvalue"]);
  });
  after(cleanup.run);

  it("ten deliveries of one call id over two hosts count once; a new id counts again", async () => {
    const nc = await connection(cleanup, nats.clientUrl);
    const call = (callId: string) =>
      invoke(nc, subjects, { target: "once", iface: "acme:demo/counter", fn: "increment", args: ["k"], source: "test", deadline: Date.now() + 10_000, callId });
    await until(async () => (await call("warm-up").then(() => true, () => false)) || undefined, 20_000, "the counter answering");
    const first = (await call("retry-me")).value;
    for (let i = 0; i < 9; i++) assert.equal((await call("retry-me")).value, first, `delivery ${i + 2} of the same call`);
    assert.equal((await call("another")).value, (first as bigint) + 1n);
  });
});
