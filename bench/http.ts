/**
 * The HTTP path as a user runs it (issue 11): `wrk` against the README's apps behind the built-in
 * http-server provider, all started with the `lattice` command (a `lattice host` process, its
 * providers in their own processes), and against a plain Node `http` server answering the same
 * bytes, in the same run, in alternating rounds so that the machine's changing load weighs on
 * both alike.
 *
 * - hello: examples/http-hello, 4 instances, wrk at 32 connections: throughput and latency, and
 *   the ratio of its throughput to plain Node's;
 * - counter: examples/http-counter (HTTP → actor → keyvalue over the synchronous bridge →
 *   JetStream KV), 4 instances, the same load; then the count is checked: every request wrk saw
 *   answered was counted (plus at most one per connection that wrk cut off at the end), and 1,000
 *   requests sent and awaited 32 at a time count exactly 1,000;
 * - overload: hello offered twice the throughput it reached (open-loop.ts): what share is
 *   answered 503 and how fast, the latency of the requests accepted against hello's at 32
 *   connections, and how many got no answer at all.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../src/nats/node/index.js";
import type { HostInfo } from "../src/protocol/index.js";
import { CliProcess, runCli } from "../test/kit/cli.js";
import { exampleComponentPath } from "../test/kit/fixtures.js";
import { Cleanup } from "../test/kit/lattice.js";
import { until } from "../test/kit/poll.js";
import { offeredLoad, wrk, type OfferedLoadResult, type WrkResult } from "./load-tools.js";

export interface HttpBenchOptions {
  /** Seconds of measured load per path, split over the alternating rounds. */
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
  instances: number;
  overloadSeconds: number;
  exactRequests: number;
}

export const FULL: HttpBenchOptions = { seconds: 20, warmupSeconds: 8, rounds: 2, connections: 32, instances: 4, overloadSeconds: 10, exactRequests: 1_000 };
export const QUICK: HttpBenchOptions = { seconds: 4, warmupSeconds: 3, rounds: 2, connections: 32, instances: 4, overloadSeconds: 3, exactRequests: 300 };

export interface HttpBenchResult {
  plainNode: WrkResult;
  hello: WrkResult & { throughputRatio: number };
  counter: WrkResult & {
    throughputRatio: number;
    /** Increments the store holds for the run, against the 2xx answers wrk saw. */
    counted: number;
    answered: number;
    /** `exactRequests` requests, each awaited: the store must count exactly that many. */
    exact: { sent: number; ok: number; counted: number };
  };
  overload: OfferedLoadResult & { capacityPerSecond: number; acceptedP50VsLoaded: number; acceptedP99VsLoaded: number };
}

/** Sum of rounds: total requests over total seconds, latencies of the worst round, errors added. */
function merge(rs: WrkResult[]): WrkResult {
  const requests = rs.reduce((n, r) => n + r.requests, 0);
  const seconds = rs.reduce((n, r) => n + r.seconds, 0);
  const worst = (k: keyof WrkResult["latencyMs"]) => Math.max(...rs.map((r) => r.latencyMs[k]));
  return {
    requests,
    seconds: Math.round(seconds * 100) / 100,
    requestsPerSecond: Math.round(requests / seconds),
    latencyMs: { p50: worst("p50"), p75: worst("p75"), p90: worst("p90"), p99: worst("p99"), max: worst("max") },
    non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
    errors: {
      connect: rs.reduce((n, r) => n + r.errors.connect, 0),
      read: rs.reduce((n, r) => n + r.errors.read, 0),
      write: rs.reduce((n, r) => n + r.errors.write, 0),
      timeout: rs.reduce((n, r) => n + r.errors.timeout, 0),
    },
  };
}

const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

async function lattice(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCli(args, env, 120_000);
  if (r.code !== 0) throw new Error(`lattice ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function get(url: string): Promise<{ status: number; headers: Array<[string, string]>; body: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const headers: Array<[string, string]> = [];
  r.headers.forEach((value, name) => headers.push([name, value]));
  return { status: r.status, headers, body: await r.text() };
}

/** The plain Node baseline, answering what the lattice answered for `sample`. */
async function plainServer(cleanup: Cleanup, sample: Awaited<ReturnType<typeof get>>): Promise<string> {
  const port = await freePort();
  const headers = sample.headers.filter(([n]) => !["date", "connection", "keep-alive"].includes(n));
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL("./plain-http.js", import.meta.url)), String(port), JSON.stringify({ ...sample, headers })], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  cleanup.add(() => child.kill("SIGKILL"));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`the plain server exited (${code})`)));
  });
  return `http://127.0.0.1:${port}/visits`;
}

/** `n` requests, `concurrency` at a time, each awaited; how many were answered 200. */
async function sendAll(url: string, n: number, concurrency: number): Promise<number> {
  let next = 0;
  let ok = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) if ((await get(url).catch(() => ({ status: 0 }))).status === 200) ok++;
    }),
  );
  return ok;
}

/** The counter's value now: a GET adds one and answers the sum. */
async function counterValue(url: string): Promise<number> {
  const r = await get(url);
  if (r.status !== 200) throw new Error(`the counter answered ${r.status}: ${r.body}`);
  return Number(r.body.trim()) - 1;
}

export async function httpPath(natsUrl: string, o: HttpBenchOptions): Promise<HttpBenchResult> {
  const cleanup = new Cleanup();
  const env = { LATTICE_NATS_URL: natsUrl, LATTICE_NAME: "bench-http" };
  try {
    const host = new CliProcess(["host", "--name", "http-bench", "--no-reconcile", "--log-level", "warn", "-o", "json"], env);
    cleanup.add(() => host.stop());
    await host.jsonLines<{ host: HostInfo }>(1, 60_000);
    const [helloPort, counterPort] = [await freePort(), await freePort()];
    for (const [file, ref] of [
      [await exampleComponentPath("http-hello"), "http-hello:bench"],
      [await exampleComponentPath("http-counter"), "http-counter:bench"],
    ] as const) {
      await lattice(["push", file, "--name", ref], env);
    }
    await lattice(["start", "actor", "http-hello:bench", "--id", "hello", "--scale", String(o.instances)], env);
    await lattice(["start", "actor", "http-counter:bench", "--id", "counter", "--scale", String(o.instances)], env);
    await lattice(["start", "provider", "keyvalue", "--id", "kv"], env);
    await lattice(["start", "provider", "http-server", "--id", "http"], env);
    await lattice(["config", "put", "hello-web", `address=127.0.0.1:${helloPort}`], env);
    await lattice(["config", "put", "counter-web", `address=127.0.0.1:${counterPort}`], env);
    await lattice(["config", "put", "counter-kv", "bucket=bench_http"], env);
    await lattice(["link", "put", "http", "hello", "wasi:http/incoming-handler", "--name", "hello", "--config", "hello-web"], env);
    await lattice(["link", "put", "http", "counter", "wasi:http/incoming-handler", "--name", "counter", "--config", "counter-web"], env);
    await lattice(["link", "put", "counter", "kv", "wasi:keyvalue", "--config", "counter-kv"], env);
    const helloUrl = `http://127.0.0.1:${helloPort}/visits`;
    const key = `bench-${Date.now()}`;
    const counterUrl = `http://127.0.0.1:${counterPort}/${key}`;
    const sample = await until(async () => ((await get(helloUrl).catch(() => undefined))?.status === 200 ? get(helloUrl) : undefined), 60_000, "hello answering HTTP");
    await until(async () => (await get(counterUrl).catch(() => undefined))?.status === 200 || undefined, 60_000, "the counter answering HTTP");
    const plainUrl = await plainServer(cleanup, sample);

    // wrk walks away from the requests it has in flight when its time is up; they are still
    // queued in the lattice for a moment, and the next run's first requests would find them.
    const load = async (url: string, seconds: number) => {
      const r = await wrk(url, { connections: o.connections, seconds });
      await new Promise((done) => setTimeout(done, 500));
      return r;
    };
    await load(helloUrl, o.warmupSeconds);
    await load(plainUrl, Math.min(2, o.warmupSeconds));
    const plainRounds: WrkResult[] = [];
    const helloRounds: WrkResult[] = [];
    for (let r = 0; r < o.rounds; r++) {
      plainRounds.push(await load(plainUrl, o.seconds / o.rounds));
      helloRounds.push(await load(helloUrl, o.seconds / o.rounds));
    }
    const plainNode = merge(plainRounds);
    const hello = merge(helloRounds);

    await load(counterUrl, o.warmupSeconds);
    const before = await counterValue(counterUrl);
    const counter = await load(counterUrl, o.seconds);
    const counted = (await counterValue(counterUrl)) - before - 1;
    const exactKey = `${counterUrl}-exact`;
    const ok = await sendAll(exactKey, o.exactRequests, o.connections);
    const exactCounted = await counterValue(exactKey);

    const capacity = hello.requestsPerSecond;
    const overload = await offeredLoad(helloUrl, { perSecond: 2 * capacity, seconds: o.overloadSeconds });
    return {
      plainNode,
      hello: { ...hello, throughputRatio: ratio(hello.requestsPerSecond, plainNode.requestsPerSecond) },
      counter: {
        ...counter,
        throughputRatio: ratio(counter.requestsPerSecond, plainNode.requestsPerSecond),
        counted,
        answered: counter.requests - counter.non2xx,
        exact: { sent: o.exactRequests, ok, counted: exactCounted },
      },
      overload: {
        ...overload,
        capacityPerSecond: capacity,
        acceptedP50VsLoaded: ratio(overload.acceptedMs.p50, hello.latencyMs.p50),
        acceptedP99VsLoaded: ratio(overload.acceptedMs.p99, hello.latencyMs.p99),
      },
    };
  } finally {
    await cleanup.run();
  }
}

/** What makes `--quick` fail: gross regressions only, each a ratio or a count, never a time. */
export function grossRegressions(r: HttpBenchResult): string[] {
  const problems: string[] = [];
  if (r.hello.throughputRatio < 0.02) problems.push(`hello throughput is ${r.hello.throughputRatio} of plain Node (gross regression below 0.02)`);
  if (r.counter.throughputRatio < 0.01) problems.push(`counter throughput is ${r.counter.throughputRatio} of plain Node (gross regression below 0.01)`);
  for (const [name, w] of [["hello", r.hello], ["counter", r.counter]] as const) {
    if (w.non2xx > 0 || w.errors.timeout > 0) problems.push(`${name}: ${w.non2xx} non-2xx answers and ${w.errors.timeout} timeouts under 32 connections`);
  }
  const c = r.counter;
  if (c.counted < c.answered || c.counted > c.answered + 32) problems.push(`the counter counted ${c.counted} for ${c.answered} answered requests`);
  if (c.exact.counted !== c.exact.ok) problems.push(`the counter counted ${c.exact.counted} for ${c.exact.ok} requests sent one by one`);
  if (r.overload.errors > 0) problems.push(`overload: ${r.overload.errors} requests got no answer`);
  return problems;
}
