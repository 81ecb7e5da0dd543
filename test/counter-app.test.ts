/**
 * The whole of links and providers, with real processes: three hosts; the HTTP server provider
 * on A, the http-counter actor on B (2 instances) and C, the key-value provider on C. Real HTTP
 * requests count exactly, are answered from both B and C, follow a re-pointed link live, and
 * survive the key-value provider being killed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NatsServer } from "../src/nats/node/index.js";
import { freePort } from "../src/nats/node/index.js";
import type { HostInfo, HostInventory } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { exampleComponentPath } from "./kit/fixtures.js";
import { Cleanup, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

async function ok(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCli(args, env);
  assert.equal(r.code, 0, `lattice ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

describe("counter app: HTTP provider, actor on two hosts, key-value provider", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let env: NodeJS.ProcessEnv;
  const hosts: Record<"a" | "b" | "c", string> = { a: "", b: "", c: "" };
  let url = "";

  async function get(path = "/hits"): Promise<{ status: number; body: string; responder: string }> {
    const r = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(20_000) });
    return { status: r.status, body: (await r.text()).trim(), responder: r.headers.get("x-lattice-responder") ?? "" };
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    for (const name of ["a", "b", "c"] as const) {
      const p = new CliProcess(["host", "--name", name, "--label", `role=${name}`, "-o", "json", "--log-level", "warn"], env);
      cleanup.add(() => p.stop("SIGKILL"));
      const [ready] = await p.jsonLines<{ host: HostInfo }>(1);
      hosts[name] = ready!.host.id;
    }
    await ok(["push", await exampleComponentPath("http-counter"), "--name", "http-counter:1.0"], env);
    await ok(["start", "actor", "http-counter:1.0", "--id", "counter", "--host", hosts.b, "--scale", "2"], env);
    await ok(["start", "actor", "http-counter:1.0", "--id", "counter", "--host", hosts.c, "--scale", "1"], env);
    await ok(["start", "provider", "keyvalue", "--id", "kv", "--host", hosts.c], env);
    await ok(["start", "provider", "http-server", "--id", "http", "--host", hosts.a], env);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await ok(["config", "put", "counter-kv", "bucket=counters_a"], env);
    await ok(["config", "put", "web", `address=127.0.0.1:${port}`], env);
    await ok(["link", "put", "counter", "kv", "wasi:keyvalue", "--config", "counter-kv"], env);
    await ok(["link", "put", "http", "counter", "wasi:http/incoming-handler", "--config", "web"], env);
    await until(async () => (await get("/warmup").catch(() => ({ status: 0 }))).status === 200 || undefined, 30_000, "the HTTP server answering through the lattice");
  });
  after(cleanup.run);

  it("100 requests count to exactly 100, answered from instances on both B and C", async () => {
    const results: Array<{ status: number; body: string; responder: string }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next++ < 100) results.push(await get("/hits"));
      }),
    );
    assert.deepEqual(results.filter((r) => r.status !== 200), [], "every request answered 200");
    const counts = results.map((r) => Number(r.body)).sort((x, y) => x - y);
    assert.deepEqual(counts, Array.from({ length: 100 }, (_, i) => i + 1), "each count once: 1..100");
    const responders = new Set(results.map((r) => r.responder));
    assert.ok(responders.has(hosts.b) && responders.has(hosts.c), `responders: ${[...responders].join(", ")}`);
    assert.ok(!responders.has(hosts.a));
  });

  it("re-pointing the key-value link to a second bucket changes where it writes, live", async () => {
    await ok(["config", "put", "counter-kv", "bucket=counters_b"], env);
    await until(async () => (await get("/hits")).body === "1" || undefined, 10_000, "counting in the new bucket");
    assert.equal((await get("/hits")).body, "2");
    await ok(["config", "put", "counter-kv", "bucket=counters_a"], env);
    await until(async () => Number((await get("/hits")).body) > 100 || undefined, 10_000, "back in the first bucket");
  });

  it("a killed key-value provider is restarted by its host; calls fail cleanly meanwhile and succeed after", async () => {
    const inv = await cliJson<HostInventory>(["get", "inventory", hosts.c], env);
    const kv = inv.providers.find((p) => p.id === "kv");
    assert.ok(kv?.pid, "kv runs with a pid");
    const before = Number((await get("/hits")).body);
    process.kill(kv.pid, "SIGKILL");

    // While it is down: errors, fast, never hangs.
    const during = await Promise.all(Array.from({ length: 5 }, () => get("/hits")));
    for (const r of during) assert.ok(r.status === 200 || r.status >= 500, `status ${r.status}`);

    const restarted = await until(async () => {
      const p = (await cliJson<HostInventory>(["get", "inventory", hosts.c], env)).providers.find((x) => x.id === "kv");
      return p && p.state === "running" && p.pid !== kv.pid ? p : undefined;
    }, 30_000, "kv restarted with a new pid");
    assert.ok(restarted.restarts >= 1);
    const after = await until(async () => {
      const r = await get("/hits");
      return r.status === 200 ? Number(r.body) : undefined;
    }, 20_000, "counting again");
    assert.ok(after > before, `${after} > ${before}: the count survived in JetStream KV`);
  });
});
