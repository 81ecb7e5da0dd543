/**
 * Self-healing for frozen and slow members, with every effect applied once (issue 12), with real
 * processes: the counter app over HTTP keeps serving and counts exactly while a host and its
 * providers are frozen; a member behind 200 ms of added latency gets few calls; a member woken
 * from a freeze runs none of the calls sent to it meanwhile; an increment sent twice, to two
 * keyvalue providers, is applied once.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Host } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { invoke } from "../src/nats/invocations.js";
import { freePort, type NatsServer } from "../src/nats/node/index.js";
import { InvocationMember, Subjects, decode, decodeReply, encodeCall, isLatticeError, parseArtifactRef, type HostInfo } from "../src/protocol/index.js";
import { CliProcess, runCli } from "./kit/cli.js";
import { FaultProxy } from "./kit/fault-proxy.js";
import { exampleComponentPath, watEcho } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";
import { signalTree } from "./kit/process-tree.js";

const subjects = new Subjects("default");

/** JSON of a reply for an assertion's message (u64 values are BigInt). */
function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x));
}

async function ok(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const r = await runCli(args, env, 60_000);
  assert.equal(r.code, 0, `lattice ${args.join(" ")}: ${r.stderr}`);
}

async function hostProcess(cleanup: Cleanup, env: NodeJS.ProcessEnv, name: string): Promise<{ proc: CliProcess; id: string }> {
  const proc = new CliProcess(["host", "--name", name, "--label", `name=${name}`, "--no-reconcile", "-o", "json", "--log-level", "error"], env);
  cleanup.add(async () => {
    signalTree(proc.pid, "SIGCONT");
    await proc.stop("SIGKILL");
  });
  const [ready] = await proc.jsonLines<{ host: HostInfo }>(1, 30_000);
  return { proc, id: ready!.host.id };
}

/** Every member serving `target`: their addresses, from the members subject. */
async function members(nc: NatsConnection, target: string): Promise<Array<{ at: string; by: string }>> {
  const out: Array<{ at: string; by: string }> = [];
  for await (const m of await nc.requestMany(subjects.invocationMembers(target), undefined, { strategy: "timer", maxWait: 500 })) out.push(decode(InvocationMember, m.data, "member"));
  return out;
}

describe("self-healing: frozen and slow members, effects once", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let env: NodeJS.ProcessEnv;
  let nc: NatsConnection;
  const hosts: Record<"a" | "b" | "c", { proc: CliProcess; id: string }> = {} as never;
  let url = "";

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    nc = await connection(cleanup, nats.clientUrl);
    for (const name of ["a", "b", "c"] as const) hosts[name] = await hostProcess(cleanup, env, name);
    await ok(["push", await exampleComponentPath("http-counter"), "--name", "http-counter:1.0"], env);
    for (const name of ["b", "c"] as const) await ok(["start", "actor", "http-counter:1.0", "--id", "counter", "--host", hosts[name].id, "--scale", "2"], env);
    for (const name of ["a", "b", "c"] as const) await ok(["start", "provider", "keyvalue", "--id", "kv", "--host", hosts[name].id], env);
    await ok(["start", "provider", "http-server", "--id", "http", "--host", hosts.a.id], env);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await ok(["config", "put", "counter-kv", "bucket=healing"], env);
    await ok(["config", "put", "web", `address=127.0.0.1:${port}`], env);
    await ok(["link", "put", "counter", "kv", "wasi:keyvalue", "--config", "counter-kv"], env);
    await ok(["link", "put", "http", "counter", "wasi:http/incoming-handler", "--config", "web"], env);
    await until(async () => (await fetch(`${url}/warmup`).catch(() => undefined))?.status === 200 || undefined, 60_000, "the counter answering HTTP");
  });
  after(cleanup.run);

  it("a host frozen with its providers for 12 s under 20 requests/s: no request fails, the count is exact", async () => {
    const key = `frozen-${Date.now()}`;
    const results: Array<{ at: number; ms: number; status: number }> = [];
    const t0 = Date.now();
    const sends: Array<Promise<void>> = [];
    const freezeAt = 3_000;
    const wakeAt = freezeAt + 12_000;
    let frozen = false;
    for (let i = 0; Date.now() - t0 < wakeAt + 3_000; i++) {
      const due = t0 + i * 50;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      if (!frozen && Date.now() - t0 >= freezeAt) {
        frozen = true;
        signalTree(hosts.b.proc.pid, "SIGSTOP");
        setTimeout(() => signalTree(hosts.b.proc.pid, "SIGCONT"), 12_000);
      }
      const at = Date.now() - t0;
      sends.push(
        fetch(`${url}/${key}`, { signal: AbortSignal.timeout(15_000) })
          .then(async (r) => ({ status: r.status, body: await r.text() }))
          .catch(() => ({ status: 0, body: "" }))
          .then((r) => void results.push({ at, ms: Date.now() - t0 - at, status: r.status })),
      );
    }
    await Promise.all(sends);
    const failed = results.filter((r) => r.status !== 200);
    assert.deepEqual(failed, [], `${failed.length} of ${results.length} requests failed`);
    const counted = Number((await (await fetch(`${url}/${key}`)).text()).trim()) - 1;
    assert.equal(counted, results.length, "every request counted once: no drift");
    // Routed around within 2 s: requests sent from then on until the host woke took normal time.
    const during = results.filter((r) => r.at > freezeAt + 2_000 && r.at < wakeAt).map((r) => r.ms).sort((x, y) => x - y);
    const p95 = during[Math.floor(during.length * 0.95)]!;
    assert.ok(p95 < 1_000, `p95 of requests sent 2 s after the freeze: ${p95} ms`);
  });

  it("a member woken from a freeze runs none of the calls sent to it while it was frozen", async () => {
    const d = await hostProcess(cleanup, env, "d");
    await ok(["push", await exampleComponentPath("http-state"), "--name", "http-state:1.0"], env);
    await ok(["start", "actor", "http-state:1.0", "--id", "state", "--host", d.id], env);
    const get = (path: string, deadline = Date.now() + 30_000) =>
      invoke(nc, subjects, { target: "state", iface: "wasi:http/incoming-handler", fn: "handle", args: [{ method: "GET", pathWithQuery: path }], source: "test", deadline, attemptTimeoutMs: 0 });
    const count = async () => Number(new TextDecoder().decode(((await get("/count")).value as { body: Uint8Array }).body).trim());
    const before = await count();
    signalTree(d.proc.pid, "SIGSTOP");
    // Long deadlines: still valid when it wakes, so only knowing it was paused keeps them from running.
    const sentWhileFrozen = Array.from({ length: 5 }, () => get("/count").then(() => "ran", (e: unknown) => (isLatticeError(e) ? e.code : String(e))));
    await new Promise((r) => setTimeout(r, 3_000));
    signalTree(d.proc.pid, "SIGCONT");
    assert.deepEqual(await Promise.all(sentWhileFrozen), ["unavailable", "unavailable", "unavailable", "unavailable", "unavailable"]);
    // Calls read before the server answers its flush are refused too: the first ones after waking may be.
    const after = await until(() => count().catch(() => undefined), 10_000, "a call served after waking");
    assert.equal(after, before + 1, "the calls sent while it was frozen never ran");
  });

  it("an increment sent twice with one call id, to two keyvalue providers, is applied once; the id reused for another delta is refused", async () => {
    const kv = await until(async () => {
      const m = await members(nc, "kv");
      return m.length === 3 && m;
    }, 10_000, "the three keyvalue providers");
    const bucket = { $resource: "bucket", handle: "healing" };
    const callId = `inc-${Date.now()}`;
    const deadline = Date.now() + 10_000;
    const increment = async (member: string, delta: number, id = callId, due = deadline, source = "test") => {
      const body = encodeCall({ args: [bucket, "once", BigInt(delta)], deadline: due, callId: id, source });
      return decodeReply((await nc.request(subjects.invocationDirect("kv", member, "wasi:keyvalue/atomics", "increment"), body, { timeout: 10_000 })).data);
    };
    const first = await increment(kv[0]!.at, 5);
    const again = await increment(kv[1]!.at, 5);
    assert.ok(first.ok && again.ok, show([first, again]));
    assert.equal(again.value, first.value, "the second provider answers what the first applied");
    // A provider that never saw the id learns from the stream that it wrote something else (as
    // long as the stream still holds that write: the bucket keeps one revision a key).
    const reused = await increment(kv[2]!.at, 7);
    assert.ok(!reused.ok && reused.error.code === "bad_request" && /used for another effect/.test(reused.error.message), show(reused));
    const now = await increment(kv[1]!.at, 0, `after-${callId}`);
    assert.ok(now.ok && now.value === first.value, `applied once: ${show([first, now])}`);
    // One that did answers a resend with a deadline counted anew (a client retrying with an
    // Idempotency-Key) with the reply it gave, and refuses the key with other arguments or from
    // another caller.
    const resent = await increment(kv[0]!.at, 5, callId, Date.now() + 10_000);
    assert.ok(resent.ok && resent.value === first.value, show([first, resent]));
    for (const [delta, source] of [[7, "test"], [5, "someone-else"]] as const) {
      const other = await increment(kv[0]!.at, delta, callId, deadline, source);
      assert.ok(!other.ok && other.error.code === "bad_request" && /used for another call/.test(other.error.message), show(other));
    }
  });
});

describe("self-healing: a slow member", () => {
  const cleanup = new Cleanup();
  let nc: NatsConnection;
  let slow: Host;

  before(async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const proxy = await FaultProxy.start({ port: nats.port });
    cleanup.add(() => proxy.close());
    proxy.delayMs = 100; // each way: 200 ms more on every round trip
    const fast = [await host(cleanup, nats.clientUrl, { name: "fast-1" }), await host(cleanup, nats.clientUrl, { name: "fast-2" })];
    slow = await host(cleanup, proxy.url(), { name: "slow" });
    nc = await connection(cleanup, nats.clientUrl);
    await new ArtifactStore(nc, "default").put(parseArtifactRef("echo:1"), await watEcho());
    for (const h of [...fast, slow]) await h.actors.scale({ actorId: "echo", ref: "echo:1", instances: 1 });
  });
  after(cleanup.run);

  it("gets at most a tenth of the calls while faster members serve", async () => {
    const responders = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next++ < 400) {
          const r = await invoke(nc, subjects, { target: "echo", iface: "acme:demo/echo", fn: "echo", args: ["x"], source: "test", deadline: Date.now() + 5_000 });
          responders.set(r.responder ?? "?", (responders.get(r.responder ?? "?") ?? 0) + 1);
        }
      }),
    );
    const total = [...responders.values()].reduce((a, b) => a + b, 0);
    const toSlow = responders.get(slow.id) ?? 0;
    assert.equal(total, 400);
    assert.ok(toSlow <= total / 10, `the slow member answered ${toSlow} of ${total}`);
  });
});
