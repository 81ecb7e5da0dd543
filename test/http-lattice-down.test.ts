/**
 * The http-server provider while its NATS server restarts: with nothing to reach the actor
 * through, a request is answered 503 with Retry-After at once, not 504 once its deadline passes;
 * once the server is back, requests are served again. A real nats-server, stopped and restarted.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { LatticeClient } from "../src/ctl/index.js";
import type { Host } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import { freePort, type NatsServer } from "../src/nats/node/index.js";
import { parseArtifactRef } from "../src/protocol/index.js";
import { exampleComponent } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

async function timedGet(url: string): Promise<{ status: number; body: string; retryAfter: string | null; ms: number }> {
  const t = Date.now();
  const r = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  return { status: r.status, body: await r.text(), retryAfter: r.headers.get("retry-after"), ms: Date.now() - t };
}

describe("http-server while the lattice is unreachable", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let a: Host;
  let url: string;

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    a = await host(cleanup, nats.clientUrl, { name: "a" });
    const nc = await connection(cleanup, nats.clientUrl);
    const client = new LatticeClient(nc, "default");
    await new ArtifactStore(nc, "default").put(parseArtifactRef("hello:1.0"), await exampleComponent("http-hello"));
    assert.deepEqual((await client.startActor({ actorId: "hello", ref: "hello:1.0", instances: 1, hostId: a.id })).errors, []);
    await client.startProvider({ providerId: "http", ref: "http-server", hostId: a.id });
    const port = await freePort();
    const state = new LatticeState(nc, "default");
    await state.putConfig("http-cfg", { address: `127.0.0.1:${port}` });
    await state.putLink({ source: "http", target: "hello", interface: "wasi:http/incoming-handler", name: "default", config: ["http-cfg"] });
    url = `http://127.0.0.1:${port}/x`;
    await until(async () => (await timedGet(url)).status === 200, 30_000, "the provider to serve the link");
  });
  after(cleanup.run);

  it("answers 503 with Retry-After at once while NATS is down, and serves again once it is back", async () => {
    await nats.kill("SIGKILL");
    // The provider learns of the disconnect within moments; from then on every answer is quick.
    const down = await until(async () => {
      const r = await timedGet(url);
      return r.status === 503 && r.ms < 1_000 && r;
    }, 15_000, "a quick 503 from the provider");
    assert.equal(down.retryAfter, "1");
    assert.match(down.body, /^service unavailable: .*lost its connection to the lattice/);
    for (let i = 0; i < 3; i++) {
      const again = await timedGet(url);
      assert.equal(again.status, 503);
      assert.ok(again.ms < 1_000, `answered after ${again.ms} ms`);
    }

    await nats.restart();
    const back = await until(async () => {
      const r = await timedGet(url);
      return r.status === 200 && r;
    }, 30_000, "the provider to serve again after the restart");
    assert.equal(back.body, "hello from lattice: GET /x\n");
  });
});
