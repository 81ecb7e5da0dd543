/**
 * The actor runtime in one process, no NATS: cold start (bytes → first call), warm start
 * (compiled digest → first call), call latency and throughput into live instances, and the
 * memory one more instance costs.
 */
import { NodeActorRuntime } from "../src/actor/node-runtime.js";
import { silentLogger } from "../src/host/index.js";
import { summarize, type Summary } from "./stats.js";

const ECHO = "acme:demo/echo";
const later = () => Date.now() + 30_000;

export interface ActorRuntimeResult {
  /** Bytes never seen on this machine: transpile (jco, in its thread), compile, start, call. */
  coldStartMs: Summary;
  /** A runtime new to the bytes whose transpiled form is in the machine's cache (transpiler.ts). */
  cachedStartMs: Summary;
  warmStartMs: Summary;
  callLatencyUs: Summary;
  callsPerSecond: number;
  memoryPerInstanceMB: number;
}

async function waitForSpare(): Promise<void> {
  // A spare worker boots in the background after each start; measure the steady state.
  await new Promise((r) => setTimeout(r, 150));
}

export async function actorRuntime(bytes: Uint8Array, opts: { coldRuns: number; warmRuns: number; calls: number; memInstances: number }): Promise<ActorRuntimeResult> {
  const firstStart = async (transpileCache?: false): Promise<number> => {
    const rt = new NodeActorRuntime(silentLogger, transpileCache === false ? { transpileCache } : {});
    const t0 = performance.now();
    const digest = await rt.prepare(bytes, "bench.wasm");
    const inst = await rt.start({ actorId: "bench", digest, instances: 1 });
    await inst.invoke({ iface: ECHO, fn: "echo", args: ["x"], deadline: later() });
    const ms = performance.now() - t0;
    await inst.stop();
    await rt.close();
    return ms;
  };
  const cold: number[] = [];
  for (let i = 0; i < opts.coldRuns; i++) cold.push(await firstStart(false));
  await firstStart(); // puts it in the machine's cache
  const cached: number[] = [];
  for (let i = 0; i < opts.coldRuns; i++) cached.push(await firstStart());

  const rt = new NodeActorRuntime(silentLogger);
  try {
    const digest = await rt.prepare(bytes, "bench.wasm");
    (await rt.start({ actorId: "prime", digest, instances: 1 }).then((i) => i.stop()));
    const warm: number[] = [];
    for (let i = 0; i < opts.warmRuns; i++) {
      await waitForSpare();
      const t0 = performance.now();
      const inst = await rt.start({ actorId: "bench", digest, instances: 1 });
      await inst.invoke({ iface: ECHO, fn: "echo", args: ["x"], deadline: later() });
      warm.push(performance.now() - t0);
      await inst.stop();
    }

    // 64 calls in flight: deeper than the default queue bound of one instance (actor-pool.ts).
    const one = await rt.start({ actorId: "latency", digest, instances: 1, config: { "lattice.max-queue": "64" } });
    const lat: number[] = [];
    for (let i = 0; i < opts.calls; i++) {
      const t0 = performance.now();
      await one.invoke({ iface: ECHO, fn: "echo", args: ["hello"], deadline: later() });
      lat.push((performance.now() - t0) * 1000);
    }
    const inFlight = 64;
    const t0 = performance.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (sent++ < opts.calls) await one.invoke({ iface: ECHO, fn: "echo", args: ["hello"], deadline: later() });
      }),
    );
    const callsPerSecond = Math.round(opts.calls / ((performance.now() - t0) / 1000));
    await one.stop();

    global.gc?.();
    await new Promise((r) => setTimeout(r, 300));
    const rss0 = process.memoryUsage().rss;
    const many = await rt.start({ actorId: "memory", digest, instances: opts.memInstances });
    await Promise.all(Array.from({ length: opts.memInstances * 2 }, () => many.invoke({ iface: ECHO, fn: "echo", args: ["m"], deadline: later() })));
    global.gc?.();
    await new Promise((r) => setTimeout(r, 300));
    const memoryPerInstanceMB = Math.round(((process.memoryUsage().rss - rss0) / opts.memInstances / 1024 / 1024) * 10) / 10;
    await many.stop();

    return { coldStartMs: summarize(cold), cachedStartMs: summarize(cached), warmStartMs: summarize(warm), callLatencyUs: summarize(lat), callsPerSecond, memoryPerInstanceMB };
  } finally {
    await rt.close();
  }
}
