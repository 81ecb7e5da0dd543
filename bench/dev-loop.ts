/**
 * `lattice dev`'s save → live, as a developer sees it: the compiled CLI runs `lattice dev` on a
 * copy of the echo example (it starts its own lattice on free ports); a caller calls the actor
 * about every 5 ms (a tight loop would take one of the machine's two cores from the build); each
 * edit changes the prefix it answers with, and the time from writing the file to the first call
 * answered by the new version is one sample. The first edit is a warm-up, not timed, as in the
 * other parts of the bench. Beside it, the phases `lattice dev` reports for the same versions
 * (build, push, start on the host), and the calls that failed (there should be none).
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LatticeClient } from "../src/ctl/index.js";
import { connectNode } from "../src/nats/node/connect.js";
import { EXAMPLES_DIR } from "../test/kit/fixtures.js";
import { summarize, type Summary } from "./stats.js";

const LATTICE = fileURLToPath(new URL("../../bin/lattice", import.meta.url));
const ECHO = "acme:demo/echo";

/** Issue 16's target: a save live within 2 s (median). */
export const DEV_TARGET_MS = 2_000;

export interface DevLoopResult {
  saveToAnswerMs: Summary;
  targetMs: number;
  /** What `lattice dev` reported for the timed versions: change seen → live, and its phases. */
  reportedMs: { live: Summary; build: Summary; push: Summary; start: Summary };
  /** The first version: `lattice dev` started → live (lattice up, build with the splice, first transpile on the host). */
  firstLiveMs: number;
  firstBuildMs: number;
  calls: number;
  failedCalls: number;
  /** The machine's 1-minute load average when the timed edits began and ended (2 cores here: above 2, CPUs are shared). */
  loadAverage: { start: number; end: number };
}

interface DevEvent {
  event: string;
  version?: number;
  natsUrl?: string;
  ms?: number;
  buildMs?: number;
  pushMs?: number;
  startMs?: number;
}

function source(prefix: string): string {
  return `export const echo = {\n  echo(msg: string): string {\n    return ${JSON.stringify(prefix)} + msg;\n  },\n};\n`;
}

async function until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function devLoop(edits = 6): Promise<DevLoopResult> {
  const dir = mkdtempSync(join(tmpdir(), "lattice-bench-dev-"));
  const env: NodeJS.ProcessEnv = { ...process.env, LATTICE_CACHE_DIR: join(dir, "cache") };
  delete env.LATTICE_NATS_URL;
  delete env.LATTICE_NAME;
  cpSync(join(EXAMPLES_DIR, "echo"), join(dir, "echo"), { recursive: true });
  const file = join(dir, "echo", "echo.ts");
  writeFileSync(file, source("v0:"));
  const t0 = performance.now();
  const dev = spawn(LATTICE, ["dev", file, "--nats-port", "0", "--state-dir", join(dir, "state"), "-o", "json"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  dev.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  dev.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const events = (): DevEvent[] =>
    stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as DevEvent);
  const live = (version: number) => events().find((e) => e.event === "live" && e.version === version);
  const exited = new Promise<void>((r) => dev.once("exit", () => r()));
  let running = true;
  let caller: Promise<void> | undefined;
  try {
    const first = await until(() => live(1), 300_000, `version 1 live (stderr: ${stderr})`);
    const firstLiveMs = Math.round(performance.now() - t0);
    const firstBuildMs = first.buildMs ?? NaN;
    const natsUrl = events().find((e) => e.event === "lattice")!.natsUrl!;
    const nc = await connectNode({ servers: natsUrl });
    const client = new LatticeClient(nc, "default");
    let latest = "";
    let calls = 0;
    let failed = 0;
    caller = (async () => {
      while (running) {
        try {
          latest = String(await client.call("echo", ECHO, "echo", ["x"], { timeoutMs: 10_000 }));
          calls++;
        } catch {
          failed++;
        }
        // A call every 5 ms or so: the time resolution, without the caller taking a core of two.
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await until(() => (latest === "v0:x" ? true : undefined), 30_000, "an answer of version 1");
    const loadStart = loadavg()[0]!;
    const samples: number[] = [];
    const reported = { live: [] as number[], build: [] as number[], push: [] as number[], start: [] as number[] };
    for (let i = 1; i <= edits; i++) {
      const expected = `v${i}:x`;
      const at = performance.now();
      writeFileSync(file, source(`v${i}:`));
      await until(() => (latest === expected ? true : undefined), 120_000, `an answer of edit ${i} (stderr: ${stderr})`);
      const ms = performance.now() - at;
      const e = await until(() => live(i + 1), 60_000, `version ${i + 1} live`);
      if (i === 1) continue;
      samples.push(Math.round(ms));
      reported.live.push(e.ms!);
      reported.build.push(e.buildMs!);
      reported.push.push(e.pushMs!);
      reported.start.push(e.startMs!);
    }
    running = false;
    await caller;
    await nc.close();
    return {
      saveToAnswerMs: summarize(samples),
      targetMs: DEV_TARGET_MS,
      reportedMs: { live: summarize(reported.live), build: summarize(reported.build), push: summarize(reported.push), start: summarize(reported.start) },
      firstLiveMs,
      firstBuildMs,
      calls,
      failedCalls: failed,
      loadAverage: { start: Math.round(loadStart * 100) / 100, end: Math.round(loadavg()[0]! * 100) / 100 },
    };
  } finally {
    running = false;
    await caller?.catch(() => undefined);
    // Ctrl-C: it stops the actor and the lattice it started.
    dev.kill("SIGINT");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
