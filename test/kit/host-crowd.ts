/**
 * A crowd of hosts in one child process: `count` real Hosts (each its own NATS connection,
 * heartbeating every second like a production host) whose actors run on EchoRuntime
 * (echo-runtime.ts). `startCrowd` spawns it and resolves once every host has started;
 * `stop()` ends it gracefully (each host says goodbye), and the cleanup kills it by pid.
 *
 * Run as a script: `node host-crowd.js SERVERS COUNT PREFIX` prints one JSON line
 * `{"hosts":[ids]}` when all are up, and stops them all on SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Host, silentLogger } from "../../src/host/index.js";
import { connectNode } from "../../src/nats/node/connect.js";
import { EchoRuntime } from "./echo-runtime.js";
import type { Cleanup } from "./lattice.js";
import { until } from "./poll.js";

export interface Crowd {
  hostIds: string[];
  pid: number;
  stop(): Promise<void>;
}

export async function startCrowd(cleanup: Cleanup, servers: string, count: number, prefix = "crowd"): Promise<Crowd> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), servers, String(count), prefix], { stdio: ["ignore", "pipe", "pipe"] });
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
  const { hosts } = JSON.parse(line) as { hosts: string[] };
  return { hostIds: hosts, pid: child.pid!, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  return exited;
}

async function main(servers: string, count: number, prefix: string): Promise<void> {
  const runtime = new EchoRuntime();
  const hosts: Host[] = [];
  const stopAll = async () => {
    await Promise.all(hosts.map((h) => h.stop("crowd stopped").catch(() => undefined)));
    process.exit(0);
  };
  process.once("SIGTERM", () => void stopAll());
  for (let i = 0; i < count; i++) {
    const h = new Host({ servers, connect: connectNode, actors: runtime, name: `${prefix}-${i}`, labels: { crowd: prefix }, logger: silentLogger });
    await h.start();
    hosts.push(h);
  }
  process.stdout.write(`${JSON.stringify({ hosts: hosts.map((h) => h.id) })}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [servers, count, prefix] = process.argv.slice(2);
  main(servers!, Number(count), prefix ?? "crowd").catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
