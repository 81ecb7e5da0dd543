/**
 * The invocation path against raw NATS request-reply, in one run, same client library, same
 * server, same 100-byte payload: a caller invoking a provider's function through the lattice
 * (headers, deadline, MessagePack, dispatch, link lookup) versus a bare request to a bare
 * responder. Both responders run in another process, as providers do. Throughput with 100 calls
 * in flight; latency one call at a time.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { invoke } from "../src/nats/invocations.js";
import { RESILIENT } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node.js";
import { Subjects } from "../src/protocol/index.js";
import { summarize, type Summary } from "./stats.js";

export interface PathFigures {
  callsPerSecond: number;
  latencyUs: Summary & { p99: number };
}

export interface InvocationResult {
  raw: PathFigures;
  lattice: PathFigures;
  throughputRatio: number;
  medianLatencyRatio: number;
  p99LatencyRatio: number;
}

const PAYLOAD = new Uint8Array(100).fill(7);

async function measure(call: () => Promise<unknown>, sequential: number, total: number, inFlight: number): Promise<PathFigures> {
  for (let i = 0; i < 200; i++) await call(); // warm-up
  const lat: number[] = [];
  for (let i = 0; i < sequential; i++) {
    const t0 = performance.now();
    await call();
    lat.push((performance.now() - t0) * 1000);
  }
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (sent++ < total) await call();
    }),
  );
  const callsPerSecond = Math.round(total / ((performance.now() - t0) / 1000));
  const sorted = [...lat].sort((a, b) => a - b);
  const p99 = Math.round((sorted[Math.ceil(0.99 * sorted.length) - 1] ?? NaN) * 1000) / 1000;
  return { callsPerSecond, latencyUs: { ...summarize(lat), p99 } };
}

export async function invocationPath(servers: string, opts = { sequential: 3_000, total: 30_000, inFlight: 100 }): Promise<InvocationResult> {
  const conns: NatsConnection[] = [];
  const conn = async () => {
    // Both paths on the same settings: the ones lattice members use.
    const nc = await connectNode({ ...RESILIENT, servers });
    conns.push(nc);
    return nc;
  };
  const caller = await conn();
  const responders = spawn(process.execPath, [fileURLToPath(new URL("./echo-responders.js", import.meta.url)), servers], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      responders.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      responders.once("exit", (code) => reject(new Error(`echo responders exited (${code})`)));
    });
    const raw = await measure(() => caller.request("bench.raw.echo", PAYLOAD, { timeout: 5_000 }), opts.sequential, opts.total, opts.inFlight);
    const subjects = new Subjects("bench");
    const lattice = await measure(
      () => invoke(caller, subjects, { target: "bench", iface: "bench:echo/echo", fn: "echo", args: [PAYLOAD], source: "counter", deadline: Date.now() + 5_000 }),
      opts.sequential,
      opts.total,
      opts.inFlight,
    );

    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      raw,
      lattice,
      throughputRatio: r2(lattice.callsPerSecond / raw.callsPerSecond),
      medianLatencyRatio: r2(lattice.latencyUs.median / raw.latencyUs.median),
      p99LatencyRatio: r2(lattice.latencyUs.p99 / raw.latencyUs.p99),
    };
  } finally {
    responders.kill("SIGTERM");
    await Promise.all(conns.map((c) => c.close()));
  }
}

