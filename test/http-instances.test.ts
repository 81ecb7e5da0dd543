/**
 * HTTP actors over real HTTP (issue 11): a host, the http-server provider it supervises as a real
 * process, and actors built by `lattice build`. An instance serves request after request and
 * keeps its state; a failing handler costs its request only; a trap is followed by a served
 * request; a component that can serve once still serves every request; and offered more than it
 * can take, an actor answers 503 with Retry-After at once instead of letting requests time out.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { LatticeClient } from "../src/ctl/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import { freePort, type NatsServer } from "../src/nats/node/index.js";
import { parseArtifactRef } from "../src/protocol/index.js";
import { exampleComponent, type ActorName } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

interface Answer {
  status: number;
  body: string;
  instance: string | null;
  retryAfter: string | null;
}

async function get(url: string, init?: RequestInit): Promise<Answer> {
  const r = await fetch(url, { signal: AbortSignal.timeout(30_000), ...init });
  return { status: r.status, body: (await r.text()).trim(), instance: r.headers.get("x-instance"), retryAfter: r.headers.get("retry-after") };
}

describe("HTTP actors with reused instances, over real HTTP", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let client: LatticeClient;
  let state: LatticeState;
  /** Each actor's base URL, by actor id. */
  const urls = new Map<string, string>();

  /** Start `name` as actor `id` with `instances`, served by the http-server on a port of its own. */
  async function serve(id: string, name: ActorName, instances: number, link: Record<string, string> = {}, config?: Record<string, string>): Promise<string> {
    await new ArtifactStore(client.nc, "default").put(parseArtifactRef(`${id}:1`), await exampleComponent(name));
    await client.startActor({ actorId: id, ref: `${id}:1`, instances, ...(config ? { config } : {}) });
    const port = await freePort();
    await state.putConfig(`${id}-web`, { address: `127.0.0.1:${port}`, ...link });
    await state.putLink({ source: "http", target: id, interface: "wasi:http/incoming-handler", name: id, config: [`${id}-web`] });
    const url = `http://127.0.0.1:${port}`;
    await until(async () => (await get(`${url}/ready`).catch(() => undefined))?.status === 200 || undefined, 60_000, `${id} answering HTTP`);
    urls.set(id, url);
    return url;
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    const h = await host(cleanup, nats.clientUrl, { name: "web" });
    const nc = await connection(cleanup, nats.clientUrl);
    client = new LatticeClient(nc, "default");
    state = new LatticeState(nc, "default");
    await client.startProvider({ providerId: "http", ref: "http-server", hostId: h.id });
    await serve("state", "http-state", 1);
  });
  after(cleanup.run);

  it("one instance serves 1,000 sequential requests, keeping its state between them", async () => {
    const url = urls.get("state")!;
    const first = await get(`${url}/count`);
    const start = Number(first.body);
    const instances = new Set<string | null>([first.instance]);
    for (let i = 1; i <= 1_000; i++) {
      const r = await get(`${url}/count`);
      assert.equal(r.status, 200);
      assert.equal(Number(r.body), start + i, `request ${i}: the instance's own count goes on`);
      instances.add(r.instance);
    }
    assert.equal(instances.size, 1, `answered by one instance: ${[...instances].join(", ")}`);
    assert.ok(first.instance, "the instance names itself");
  });

  it("a handler that throws, rejects or answers no Response gets 500 for that request only; the instance keeps its state", async () => {
    const url = urls.get("state")!;
    const before = await get(`${url}/count`);
    for (const path of ["/throw", "/reject", "/not-a-response"]) {
      const r = await get(`${url}${path}`);
      assert.equal(r.status, 500, `${path}: ${r.body}`);
    }
    const after = await get(`${url}/count`);
    assert.equal(after.status, 200);
    assert.equal(after.instance, before.instance, "the same instance serves on");
    assert.equal(Number(after.body), Number(before.body) + 4, "and its count went on through the failures");
  });

  it("a trap in request 500 is followed by a served request 501", async () => {
    const url = await serve("own", "http-own", 1);
    const statuses: number[] = [];
    const bodies: string[] = [];
    for (let i = 1; i <= 501; i++) {
      const r = await get(`${url}/${i === 500 ? "trap" : "count"}`);
      statuses.push(r.status);
      bodies.push(r.body);
    }
    assert.deepEqual(
      statuses.map((s, i) => [i + 1, s]).filter(([, s]) => s !== 200),
      [[500, 500]],
      "only the trapping request failed",
    );
    assert.equal(bodies[498], String(Number(bodies[0]) + 498), "one instance served the first 499, counting on");
    assert.equal(bodies[500], "1", "a fresh instance served request 501");
  });

  it("a looping handler answers 504 at its deadline, and the next request is served", async () => {
    const url = await serve("loopy", "http-state", 1, { timeout: "1s", retry: "off" });
    const t0 = Date.now();
    const r = await get(`${url}/loop`);
    assert.equal(r.status, 504, r.body);
    assert.ok(Date.now() - t0 < 10_000, `answered after ${Date.now() - t0} ms`);
    const next = await until(async () => {
      const n = await get(`${url}/count`);
      return n.status === 200 && n;
    }, 20_000, "a served request after the loop");
    assert.equal(next.body, "1", "by a fresh instance");
  });

  it("a component built with the engine's fetch-event shim serves every request, each on a fresh instance", async () => {
    const url = await serve("engine", "http-hello-engine", 2);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`${url}/e${i}`)));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array.from({ length: 20 }, () => 200),
    );
    assert.equal(answers[7]!.body, "hello from lattice: GET /e7");
  });

  it("offered more than it can take, an actor answers 503 with Retry-After at once, and no request times out", async () => {
    const url = await serve("slow", "http-state", 1, { timeout: "10s", retry: "off" });
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 120 }, () => get(`${url}/slow?ms=40`)));
    const took = Date.now() - t0;
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 503);
    assert.deepEqual(
      answers.filter((a) => a.status !== 200 && a.status !== 503).map((a) => `${a.status} ${a.body}`),
      [],
      "every request is served or refused",
    );
    assert.ok(served.length >= 1, "some are served");
    assert.ok(refused.length >= 1, "some are refused");
    assert.ok(
      refused.every((a) => a.retryAfter === "1" && /overloaded/.test(a.body)),
      `refusals say why and when to come back: ${refused[0]?.body} (retry-after ${refused[0]?.retryAfter})`,
    );
    // 120 requests of 40 ms on one instance, queued, would take 4.8 s; served or refused, far less.
    assert.ok(took < 4_000, `all answered in ${took} ms`);
  });

  it("a request body over the limit is 413 and does not reach the actor", async () => {
    const url = await serve("small", "http-state", 1, { max_body: "1k" });
    const before = await get(`${url}/count`);
    const r = await get(`${url}/count`, { method: "POST", body: "x".repeat(4096) });
    assert.equal(r.status, 413);
    const after = await get(`${url}/count`);
    assert.equal(Number(after.body), Number(before.body) + 1, "the refused request was never counted");
  });
});
