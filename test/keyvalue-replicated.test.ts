/**
 * The keyvalue provider on a 3-server JetStream cluster: its bucket gets three copies, increments
 * from three providers (one on each server) racing on one key each apply exactly once and answer
 * distinct values (the compare-and-set holds on a replicated stream, where the per-key check alone
 * does not on nats-server 2.9), and killing the server that leads the bucket's stream fails none of
 * the increments sent meanwhile: they wait for the new leader within their deadline.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { InvocationMember, Subjects, decode, decodeReply, encodeCall, type HostInfo } from "../src/protocol/index.js";
import { CliProcess, runCli } from "./kit/cli.js";
import { Cleanup, connection } from "./kit/lattice.js";
import { until } from "./kit/poll.js";
import { HUB_DOMAIN, topology, type Topology } from "./kit/topology.js";

const subjects = new Subjects("default");
const BUCKET = "replicated";

describe("keyvalue on a replicated bucket (3-server JetStream cluster)", () => {
  const cleanup = new Cleanup();
  let topo: Topology;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let kv: Array<{ at: string; by: string }> = [];
  let calls = 0;

  /** One increment of `key` sent straight to a provider under `callId`; its reply. */
  const increment = async (member: string, key: string, callId = `inc-${calls++}-${Date.now()}`) => {
    const body = encodeCall({ args: [{ $resource: "bucket", handle: BUCKET }, key, 1n], deadline: Date.now() + 30_000, callId, source: "test" });
    return decodeReply((await nc.request(subjects.invocationDirect("kv", member, "wasi:keyvalue/atomics", "increment"), body, { timeout: 3_000 })).data);
  };

  /**
   * `n` increments of `key`, spread over the providers, `parallel` at a time; the values they
   * answered. One whose request goes unanswered (its provider's server died) is sent again under
   * its call id to the next provider, as a lattice caller would; an error answer fails the test.
   */
  const increments = async (key: string, n: number, parallel: number): Promise<bigint[]> => {
    const values: bigint[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < n) {
          const i = next++;
          const callId = `${key}-${i}-${Date.now()}`;
          for (let attempt = 0; ; attempt++) {
            const r = await increment(kv[(i + attempt) % kv.length]!.at, key, callId).catch((e: unknown) => {
              if (attempt >= 5) throw e;
              return undefined;
            });
            if (!r) continue;
            assert.ok(r.ok, `increment ${i}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
            values.push(r.value as bigint);
            break;
          }
        }
      }),
    );
    return values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  };

  const oneTo = (n: number, from = 1) => Array.from({ length: n }, (_, i) => BigInt(from + i));

  /** Fails unless `values` are `from`..`from + n - 1`, once each, naming what is missing and what came twice. */
  const assertOnceEach = (values: bigint[], n: number, from = 1) => {
    const seen = new Map<bigint, number>();
    for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
    const missing = oneTo(n, from).filter((v) => !seen.has(v));
    const twice = [...seen].filter(([, c]) => c > 1).map(([v]) => v);
    const outside = values.filter((v) => v < BigInt(from) || v >= BigInt(from + n));
    assert.ok(values.length === n && missing.length === 0, `${values.length} values; missing ${missing.join(" ")}; twice ${twice.join(" ")}; outside ${outside.join(" ")}`);
  };

  before(async () => {
    topo = await topology(cleanup, { hub: 3 });
    const env = { LATTICE_NATS_URL: topo.url("hub"), LATTICE_JS_DOMAIN: HUB_DOMAIN };
    for (const [i, server] of topo.hub.entries()) {
      // Each host (and the provider it starts) on its own server first, the others to fail over to.
      const servers = [server.clientUrl, ...topo.hub.filter((s) => s !== server).map((s) => s.clientUrl)].join(",");
      const p = new CliProcess(["host", "--nats-url", servers, "--name", `h${i}`, "--no-reconcile", "-o", "json", "--log-level", "error"], env);
      cleanup.add(() => p.stop("SIGKILL"));
      const [ready] = await p.jsonLines<{ host: HostInfo }>(1, 30_000);
      const started = await runCli(["start", "provider", "keyvalue", "--id", "kv", "--host", ready!.host.id], env, 60_000);
      assert.equal(started.code, 0, started.stderr);
    }
    nc = await connection(cleanup, topo.url("hub"));
    jsm = await jetstreamManager(nc, { domain: HUB_DOMAIN, timeout: 10_000 });
    kv = await until(async () => {
      const out: Array<{ at: string; by: string }> = [];
      for await (const m of await nc.requestMany(subjects.invocationMembers("kv"), undefined, { strategy: "timer", maxWait: 500 })) out.push(decode(InvocationMember, m.data, "member"));
      return out.length === 3 && out;
    }, 30_000, "the three keyvalue providers");
  });
  after(cleanup.run);

  it("makes the bucket with three copies, read from the leader", async () => {
    assert.equal(await until(async () => ((await increment(kv[0]!.at, "first")).ok ? true : undefined), 30_000, "a first increment"), true);
    const info = await jsm.streams.info(`KV_${BUCKET}`);
    assert.equal(info.config.num_replicas, 3);
    assert.equal(info.config.allow_direct, false);
  });

  it("increments racing on one key from three providers each apply once and answer distinct values", async () => {
    assertOnceEach(await increments("raced", 300, 12), 300);
  });

  it("increments sent while the stream's leader server is killed all succeed, each applied once", async () => {
    const key = "failover";
    const warm = await increments(key, 30, 6);
    assertOnceEach(warm, 30);
    const leader = (await jsm.streams.info(`KV_${BUCKET}`)).cluster?.leader;
    const victim = topo.hub.find((s) => s.options.serverName === leader);
    assert.ok(victim, `the leader ${leader} is one of the hub's servers`);
    const during = increments(key, 200, 6);
    await new Promise((r) => setTimeout(r, 300));
    await victim.kill("SIGKILL");
    assertOnceEach(await during, 200, 31);
    assert.notEqual((await jsm.streams.info(`KV_${BUCKET}`)).cluster?.leader, leader, "another server leads the stream");
  });
});
