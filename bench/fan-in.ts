/**
 * Invocation fan-in: 100 callers over 4 connections (as 4 calling hosts would be) into one actor
 * on a `lattice host` process, the actor scaled to 1, 5 and 20 instances, beside raw NATS
 * request-reply into a responder process with as many queue subscribers, in the same run and
 * alternating rounds. The actor is the WAT echo (a Wasm instance per worker thread); the raw
 * responder answers each request with its own bytes. Throughput over a fixed time with 100 calls
 * always in flight, and each call's latency meanwhile.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../src/ctl/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { invoke } from "../src/nats/invocations.js";
import { connectNode } from "../src/nats/node/index.js";
import { Subjects, parseArtifactRef } from "../src/protocol/index.js";
import { CliProcess } from "../test/kit/cli.js";
import { watEcho } from "../test/kit/fixtures.js";
import { until } from "../test/kit/poll.js";
import { summarize, type Summary } from "./stats.js";

const CALLERS = 100;
const CONNECTIONS = 4;
const ROUND_MS = 4_000;
const ECHO = "acme:demo/echo";
const RAW_SUBJECT = "bench.fanin.echo";

export interface FanInPath {
  callsPerSecond: number;
  latencyMs: Summary & { p99: number };
  failed: number;
}

export interface FanInPoint {
  instances: number;
  raw: FanInPath;
  lattice: FanInPath;
  throughputRatio: number;
}

/** `CALLERS` loops over the connections for `ms`: calls answered a second, and their latencies. */
async function round(conns: NatsConnection[], call: (nc: NatsConnection, i: number) => Promise<unknown>, ms: number): Promise<{ calls: number; failed: number; lat: number[] }> {
  const end = performance.now() + ms;
  const lat: number[] = [];
  let failed = 0;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, c) => {
      const nc = conns[c % conns.length]!;
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        try {
          await call(nc, i);
          lat.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  return { calls: lat.length, failed, lat };
}

function figures(rounds: Array<{ calls: number; failed: number; lat: number[] }>, ms: number): FanInPath {
  const lat = rounds.flatMap((r) => r.lat);
  const sorted = [...lat].sort((a, b) => a - b);
  const p99 = Math.round((sorted[Math.ceil(0.99 * sorted.length) - 1] ?? NaN) * 1000) / 1000;
  return { callsPerSecond: Math.round(lat.length / ((rounds.length * ms) / 1000)), latencyMs: { ...summarize(lat), p99 }, failed: rounds.reduce((n, r) => n + r.failed, 0) };
}

/** A process holding `n` queue subscribers that answer each request with its bytes. */
function rawResponders(servers: string, n: number): Promise<ChildProcess> {
  const script = `
    import { connectNode } from ${JSON.stringify(new URL("../src/nats/node/index.js", import.meta.url).href)};
    const nc = await connectNode({ servers: ${JSON.stringify(servers)} });
    for (let i = 0; i < ${n}; i++) nc.subscribe(${JSON.stringify(RAW_SUBJECT)}, { queue: "q", callback: (_e, m) => m.respond(m.data) });
    await nc.flush();
    process.stdout.write("ready\\n");
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`raw responders exited ${code}`)));
    child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve(child));
  });
}

export async function fanIn(servers: string, counts = [1, 5, 20], rounds = 2): Promise<FanInPoint[]> {
  const control = await connectNode({ servers });
  const host = new CliProcess(["host", "--nats-url", servers, "--name", "fan-in", "--presence", "lean", "--no-reconcile", "-o", "json", "--log-level", "warn"]);
  const conns: NatsConnection[] = [];
  try {
    await host.jsonLines(1, 30_000);
    await new ArtifactStore(control, "default").put(parseArtifactRef("fanin-echo:1"), await watEcho());
    const client = new LatticeClient(control, "default");
    const subjects = new Subjects("default");
    for (let i = 0; i < CONNECTIONS; i++) conns.push(await connectNode({ servers }));
    const payload = "x".repeat(100);
    const lattice = (nc: NatsConnection) => invoke(nc, subjects, { target: "fanin", iface: ECHO, fn: "echo", args: [payload], source: "bench", deadline: Date.now() + 10_000 });
    const raw = (nc: NatsConnection) => nc.request(RAW_SUBJECT, new TextEncoder().encode(payload), { timeout: 10_000 });
    const points: FanInPoint[] = [];
    for (const n of counts) {
      await client.startActor({ actorId: "fanin", ref: "fanin-echo:1", instances: n });
      await until(async () => ((await client.inventories()).replies.flatMap((h) => h.actors).find((a) => a.id === "fanin")?.instances ?? 0) === n, 60_000, `${n} instances of the fan-in actor`);
      const responders = await rawResponders(servers, n);
      try {
        // Warm-up of both paths (JIT, the router's members, the workers).
        await round(conns, lattice, 1_000);
        await round(conns, raw, 1_000);
        const r: Array<{ calls: number; failed: number; lat: number[] }> = [];
        const l: Array<{ calls: number; failed: number; lat: number[] }> = [];
        for (let k = 0; k < rounds; k++) {
          r.push(await round(conns, raw, ROUND_MS));
          l.push(await round(conns, lattice, ROUND_MS));
        }
        const rawFig = figures(r, ROUND_MS);
        const latticeFig = figures(l, ROUND_MS);
        points.push({ instances: n, raw: rawFig, lattice: latticeFig, throughputRatio: Math.round((100 * latticeFig.callsPerSecond) / rawFig.callsPerSecond) / 100 });
      } finally {
        responders.kill("SIGKILL");
      }
    }
    await client.stopActor("fanin");
    return points;
  } finally {
    for (const nc of conns) await nc.close();
    await host.stop("SIGTERM");
    await control.close();
  }
}
