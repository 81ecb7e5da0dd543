/**
 * A crowd of hosts in one child process: `count` real Hosts (each its own NATS connection,
 * heartbeating every second like a production host) whose actors run on EchoRuntime
 * (echo-runtime.ts). `startCrowd` spawns it and resolves once every host has started;
 * `usage()` asks it what its hosts have cost so far (CPU, and messages and bytes over their
 * connections); `stop()` ends it gracefully (each host says goodbye), and the cleanup kills it by pid.
 *
 * Run as a script: `node host-crowd.js SERVERS COUNT PREFIX [PRESENCE]` prints one JSON line
 * `{"hosts":[ids],"startMs":[…]}` when all are up, answers a `usage` line on stdin with one
 * JSON line of CrowdUsage, and stops them all on SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Host, silentLogger } from "../../src/host/index.js";
import { connectNode } from "../../src/nats/node/connect.js";
import { EchoRuntime } from "./echo-runtime.js";
import type { Cleanup } from "./lattice.js";
import { until } from "./poll.js";

export interface CrowdUsage {
  /** CPU the whole process has used since it started, in ms. */
  cpuMs: number;
  /** Summed over the hosts' connections, since they connected. */
  inMsgs: number;
  inBytes: number;
  outMsgs: number;
  outBytes: number;
}

export interface Crowd {
  hostIds: string[];
  /** How long each host's start() took, in the order they started (one after another). */
  startMs: number[];
  pid: number;
  usage(): Promise<CrowdUsage>;
  stop(): Promise<void>;
}

export async function startCrowd(cleanup: Cleanup, servers: string, count: number, prefix = "crowd", presence: "full" | "lean" = "full"): Promise<Crowd> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), servers, String(count), prefix, presence], { stdio: ["pipe", "pipe", "pipe"] });
  cleanup.add(() => child.kill("SIGKILL"));
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const line = await until(
    () => {
      if (child.exitCode !== null) throw new Error(`host crowd exited ${child.exitCode}: ${err}`);
      const first = out.split("\n")[0];
      return out.includes("\n") && first ? first : undefined;
    },
    120_000,
    `${count} hosts started (stderr: ${err})`,
  );
  const { hosts, startMs } = JSON.parse(line) as { hosts: string[]; startMs: number[] };
  let answered = 1;
  const usage = async (): Promise<CrowdUsage> => {
    const want = ++answered;
    child.stdin.write("usage\n");
    const got = await until(() => out.split("\n").length > want && out.split("\n")[want - 1], 30_000, "the crowd's usage");
    return JSON.parse(got) as CrowdUsage;
  };
  return { hostIds: hosts, startMs, pid: child.pid!, usage, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  return exited;
}

async function main(servers: string, count: number, prefix: string, presence: "full" | "lean"): Promise<void> {
  const runtime = new EchoRuntime();
  const hosts: Host[] = [];
  const stopAll = async () => {
    await Promise.all(hosts.map((h) => h.stop("crowd stopped").catch(() => undefined)));
    process.exit(0);
  };
  process.once("SIGTERM", () => void stopAll());
  const startMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const h = new Host({ servers, connect: connectNode, actors: runtime, name: `${prefix}-${i}`, labels: { crowd: prefix }, logger: silentLogger, presence });
    const t = performance.now();
    await h.start();
    startMs.push(performance.now() - t);
    hosts.push(h);
  }
  process.stdout.write(`${JSON.stringify({ hosts: hosts.map((h) => h.id), startMs })}\n`);
  createInterface({ input: process.stdin }).on("line", (l) => {
    if (l.trim() !== "usage") return;
    const cpu = process.cpuUsage();
    const u: CrowdUsage = { cpuMs: (cpu.user + cpu.system) / 1000, inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0 };
    for (const h of hosts) {
      const s = h.connection.stats();
      u.inMsgs += s.inMsgs;
      u.inBytes += s.inBytes;
      u.outMsgs += s.outMsgs;
      u.outBytes += s.outBytes;
    }
    process.stdout.write(`${JSON.stringify(u)}\n`);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [servers, count, prefix, presence] = process.argv.slice(2);
  main(servers!, Number(count), prefix ?? "crowd", presence === "lean" ? "lean" : "full").catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
