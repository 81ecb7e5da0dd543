/**
 * Call metrics with real processes: a host in its own process (`lattice host --metrics-port`)
 * runs an actor and a provider process; after known calls, some failing with known codes, its
 * inventory (`lattice get metrics`) and its Prometheus endpoint (a real HTTP GET) show exactly
 * those counts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsServer } from "../src/nats/node/index.js";
import { freePort } from "../src/nats/node/free-port.js";
import { invoke } from "../src/nats/invocations.js";
import { Subjects, histogramCount, isLatticeError, type HostInfo, type TargetMetrics } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, connection, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

const ECHO = "acme:demo/echo";
const STORE = "wasi:keyvalue/store";

interface MetricsJson {
  hostId: string;
  hostName: string;
  kind: string;
  target: string;
  metrics: TargetMetrics;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** One sample of the text format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition; throws on a line that is not one. */
function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    const value = Number(m[3]);
    assert.ok(!Number.isNaN(value), `not a number in ${line}`);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

describe("call metrics", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let env: NodeJS.ProcessEnv;
  let hostId: string;
  let metricsPort: number;
  let nc: NatsConnection;
  const subjects = new Subjects("default");

  /** A call that is sent once (no caller retries: every count below is exact); resolves with its error code, or "ok". */
  async function call(target: string, iface: string, fn: string, args: unknown[], callId?: string): Promise<string> {
    try {
      await invoke(nc, subjects, { target, iface, fn, args, source: "metrics-test", deadline: Date.now() + 10_000, attemptTimeoutMs: 0, ...(callId ? { callId } : {}) });
      return "ok";
    } catch (e) {
      return isLatticeError(e) ? e.code : String(e);
    }
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    metricsPort = await freePort();
    const h = new CliProcess(["host", "--name", "m", "-o", "json", "--log-level", "warn", "--metrics-port", String(metricsPort)], env);
    cleanup.add(() => h.stop("SIGKILL"));
    const [ready] = await h.jsonLines<{ host: HostInfo }>(1);
    hostId = ready!.host.id;
    const file = join(tmpdir(), `lattice-metrics-${process.pid}-echo.wasm`);
    writeFileSync(file, await watEcho());
    const started = await runCli(["start", "actor", file, "--id", "echo", "--scale", "2"], env);
    assert.equal(started.code, 0, started.stderr);
    const kv = await runCli(["start", "provider", "keyvalue", "--id", "kv", "--config", "backend=memory"], env);
    assert.equal(kv.code, 0, kv.stderr);
    nc = await connection(cleanup, nats.clientUrl);
  });
  after(cleanup.run);

  it("counts an actor's calls, errors by code, retries and latency in the inventory", async () => {
    const results: string[] = [];
    for (let i = 0; i < 7; i++) results.push(await call("echo", ECHO, "echo", [`m${i}`]));
    results.push(await call("echo", ECHO, "trap", []), await call("echo", ECHO, "trap", []));
    results.push(await call("echo", ECHO, "echo", ["a", "b"]));
    // The same call id twice: the second is a retry, answered from the reply memory.
    results.push(await call("echo", ECHO, "echo", ["again"], "metrics-retry-1"), await call("echo", ECHO, "echo", ["again"], "metrics-retry-1"));
    assert.deepEqual(results, [...Array<string>(7).fill("ok"), "trap", "trap", "bad_request", "ok", "ok"]);

    const rows = await cliJson<MetricsJson[]>(["get", "metrics", "echo"], env);
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.deepEqual([row!.hostId, row!.hostName, row!.kind, row!.target], [hostId, "m", "actor", "echo"]);
    const m = row!.metrics;
    assert.equal(m.calls, 12);
    assert.deepEqual(m.errors, { trap: 2, bad_request: 1 });
    assert.equal(m.retries, 1);
    assert.equal(m.instances, 2);
    assert.equal(m.inflight, 0);
    assert.equal(m.stale, 0);
    assert.equal(histogramCount(m.latency), 12, "the histogram holds every call");
    assert.equal(m.latency.counts.length, m.latency.le.length + 1);
    assert.ok(m.latency.sumMs > 0);
    assert.ok(row!.p50Ms !== null && row!.p99Ms !== null && row!.p50Ms <= row!.p99Ms, `p50 ${row!.p50Ms} p99 ${row!.p99Ms}`);

    const table = await runCli(["get", "metrics"], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^TARGET\s+KIND\s+HOST\s+CALLS\s+ERRORS\s+P50\s+P99\s+IN FLIGHT\s+INSTANCES\s+STALE\s+RETRIES$/m);
    assert.match(table.stdout, /^echo\s+actor\s+m\s+12\s+3 \(trap 2, bad_request 1\)\s+\S+\s+\S+\s+0\s+2\s+0\s+1$/m);
  });

  it("counts a provider's calls, reported by its process to its host", async () => {
    const results = [await call("kv", STORE, "open", ["s1"]), await call("kv", STORE, "open", ["s2"]), await call("kv", STORE, "open", [5]), await call("kv", STORE, "nope", [])];
    assert.deepEqual(results, ["ok", "ok", "bad_request", "not_found"]);
    // The process reports every second: wait for the report that holds these calls.
    const row = await until(
      async () => (await cliJson<MetricsJson[]>(["get", "metrics", "kv"], env)).find((r) => r.metrics.calls === 4),
      15_000,
      "the kv provider's metrics with 4 calls",
    );
    assert.equal(row.kind, "provider");
    assert.equal(row.hostId, hostId);
    assert.deepEqual(row.metrics.errors, { bad_request: 1, not_found: 1 });
    assert.equal(histogramCount(row.metrics.latency), 4);
    assert.equal(row.metrics.instances, 1);
  });

  it("serves the same counts at GET /metrics in Prometheus text format", async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(await res.text());
    const value = (name: string, labels: Record<string, string>) => {
      const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      assert.equal(found.length, 1, `one ${name} ${JSON.stringify(labels)}, got ${found.length}`);
      return found[0]!.value;
    };
    const echo = { target: "echo", kind: "actor", host: hostId, host_name: "m" };
    assert.equal(value("lattice_calls_total", echo), 12);
    assert.equal(value("lattice_call_errors_total", { ...echo, code: "trap" }), 2);
    assert.equal(value("lattice_call_errors_total", { ...echo, code: "bad_request" }), 1);
    assert.equal(value("lattice_call_retries_total", echo), 1);
    assert.equal(value("lattice_instances", echo), 2);
    assert.equal(value("lattice_calls_in_flight", echo), 0);
    assert.equal(value("lattice_calls_stale_total", echo), 0);
    assert.equal(value("lattice_call_duration_ms_bucket", { ...echo, le: "+Inf" }), 12);
    assert.equal(value("lattice_call_duration_ms_count", echo), 12);
    const buckets = samples.filter((s) => s.name === "lattice_call_duration_ms_bucket" && s.labels.target === "echo").map((s) => s.value);
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), "buckets are cumulative");
    assert.equal(value("lattice_calls_total", { target: "kv", kind: "provider" }), 4);
    assert.equal(value("lattice_call_errors_total", { target: "kv", code: "not_found" }), 1);

    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
  });

  it("says so when asked for the metrics of an id nothing runs", async () => {
    const r = await runCli(["get", "metrics", "nosuch"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not_found: no host of lattice default runs nosuch/);
  });
});
