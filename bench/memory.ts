/**
 * Where a host's memory goes: a real `lattice host` process (bin/lattice on the compiled CLI) against the bench's
 * nats-server, its resident set (VmRSS of /proc/PID/status: the worker threads are in the same
 * process) idle, after one instance of the JavaScript echo (examples/echo, built by `lattice
 * build`), after ten instances of it, after ten different actors (ten WAT echo components that
 * differ by a custom section: ten digests, each transpiled, compiled and cached on its own, one
 * instance each; the JS echo stopped first), and after everything is stopped. Beside each figure:
 * RssAnon/RssFile, the thread count, and the host's own account of its main thread
 * (HostInfo.memory in its inventory answer). Each profile in a lattice of its own: default and
 * small, each started as a user starts it (bin/lattice, which gives `--profile small` its Node
 * flags and malloc settings).
 *
 * Memory, not time: the shared machine's load does not change these figures much. Each figure is
 * read once the resident set has settled (it moved less than 1 MB over 1 s).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { withCustomSection } from "../src/actor/wasm-sections.js";
import { LatticeClient } from "../src/ctl/index.js";
import { connectNode } from "../src/nats/node/index.js";
import { exampleComponentPath, watEcho } from "../test/kit/fixtures.js";

const LAUNCHER = fileURLToPath(new URL("../../bin/lattice", import.meta.url));
const ECHO = "acme:demo/echo";
const MB = 1024 * 1024;

export type HostProfileName = "default" | "small";

export interface MemoryReading {
  /** VmRSS, MB. */
  rssMB: number;
  anonMB: number;
  fileMB: number;
  threads: number;
  /** The host's own account (HostInfo.memory): its main thread's heap and external memory, and what it calls free, MB. */
  heapUsedMB?: number;
  externalMB?: number;
  freeMB?: number;
}

export interface ProfileMemory {
  idle: MemoryReading;
  oneJsEcho: MemoryReading;
  tenJsEcho: MemoryReading;
  tenWatActors: MemoryReading;
  allStopped: MemoryReading;
  /** oneJsEcho - idle: the first instance of a JS actor, compile cache and spares included. */
  firstJsInstanceMB: number;
  /** (tenJsEcho - oneJsEcho) / 9: each further instance of the same JS actor. */
  nextJsInstanceMB: number;
  /** (tenWatActors - idle) / 10: each further actor of its own digest (a tiny one). */
  watActorMB: number;
}

export type MemoryResult = Record<HostProfileName, ProfileMemory>;

/** Targets (MB) of issue 18 for the small profile. */
export const SMALL_TARGETS_MB = { idle: 60, firstJsInstance: 60 } as const;

function status(pid: number): Omit<MemoryReading, "heapUsedMB" | "externalMB" | "freeMB"> {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
  const mb = (key: string) => Math.round((kb(key) / 1024) * 10) / 10;
  return { rssMB: mb("VmRSS"), anonMB: mb("RssAnon"), fileMB: mb("RssFile"), threads: kb("Threads") };
}

async function settled(pid: number): Promise<void> {
  let last = status(pid).rssMB;
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = status(pid).rssMB;
    if (Math.abs(now - last) < 1) return;
    last = now;
  }
}

async function reading(pid: number, client: LatticeClient): Promise<MemoryReading> {
  await settled(pid);
  const m = (await client.inventories()).replies[0]?.host.memory;
  const mb = (n: number | undefined) => (n === undefined ? undefined : Math.round((n / MB) * 10) / 10);
  return { ...status(pid), ...(m ? { heapUsedMB: mb(m.heapUsedBytes), externalMB: mb(m.externalBytes), freeMB: mb(m.freeBytes) } : {}) };
}

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(LAUNCHER, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`lattice ${args.join(" ")} exited ${code}: ${err}`))));
  });
}

async function profileMemory(natsUrl: string, profile: HostProfileName, files: { echo: string; wat: string[] }): Promise<ProfileMemory> {
  const lattice = `mem-${profile}-${process.pid}`;
  const nats = ["--nats-url", natsUrl, "--lattice", lattice];
  const host: ChildProcess = spawn(LAUNCHER, ["host", ...nats, "--name", `mem-${profile}`, "--log-level", "warn", "--profile", profile], { stdio: ["ignore", "ignore", "inherit"] });
  const pid = host.pid!;
  const nc = await connectNode({ servers: natsUrl });
  const client = new LatticeClient(nc, lattice, { timeoutMs: 3_000, stallMs: 300 });
  const call = async (id: string, n: number) => {
    for (let i = 0; i < n; i++) if ((await client.call(id, ECHO, "echo", [`m${i}`], { timeoutMs: 30_000 })) !== `m${i}`) throw new Error(`${id} answered wrong`);
  };
  try {
    for (let i = 0; i < 200 && (await client.hosts()).replies.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const idle = await reading(pid, client);
    await cli(["start", "actor", files.echo, "--id", "echo", "--timeout", "60s", ...nats]);
    await call("echo", 3);
    const oneJsEcho = await reading(pid, client);
    await cli(["scale", "actor", "echo", "10", "--timeout", "60s", ...nats]);
    await call("echo", 30);
    const tenJsEcho = await reading(pid, client);
    await cli(["stop", "actor", "echo", ...nats]);
    for (const [i, f] of files.wat.entries()) {
      await cli(["start", "actor", f, "--id", `wat${i}`, "--timeout", "60s", ...nats]);
      await call(`wat${i}`, 2);
    }
    const tenWatActors = await reading(pid, client);
    for (const i of files.wat.keys()) await cli(["stop", "actor", `wat${i}`, ...nats]);
    const allStopped = await reading(pid, client);
    const r1 = (n: number) => Math.round(n * 10) / 10;
    return {
      idle,
      oneJsEcho,
      tenJsEcho,
      tenWatActors,
      allStopped,
      firstJsInstanceMB: r1(oneJsEcho.rssMB - idle.rssMB),
      nextJsInstanceMB: r1((tenJsEcho.rssMB - oneJsEcho.rssMB) / 9),
      watActorMB: r1((tenWatActors.rssMB - idle.rssMB) / files.wat.length),
    };
  } finally {
    await nc.close();
    const exited = new Promise((r) => host.once("exit", r));
    host.kill("SIGTERM");
    await exited;
  }
}

export async function hostMemory(natsUrl: string, profiles: readonly HostProfileName[] = ["default", "small"]): Promise<Partial<MemoryResult>> {
  const dir = await mkdtemp(join(tmpdir(), "lattice-bench-mem-"));
  try {
    const wat = await watEcho();
    const files = { echo: await exampleComponentPath("echo"), wat: [] as string[] };
    for (let i = 0; i < 10; i++) {
      const f = join(dir, `wat${i}.wasm`);
      await writeFile(f, withCustomSection(wat, "lattice-bench-variant", new TextEncoder().encode(String(i))));
      files.wat.push(f);
    }
    const out: Partial<MemoryResult> = {};
    for (const p of profiles) out[p] = await profileMemory(natsUrl, p, files);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
