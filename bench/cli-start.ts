/**
 * How fast the `lattice` command answers, as a user runs it: wall time from spawning the compiled
 * CLI to its exit (or, for `lattice up`, to its ready line), median of 5, each beside the same
 * run's `node -e ""` (the floor: starting Node at all) as a ratio. Against a local lattice that
 * `lattice up` starts on free ports, in a state directory of its own.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exampleComponentPath } from "../test/kit/fixtures.js";
import { summarize, type Summary } from "./stats.js";

/** The package's `bin`, as a user runs `lattice`. */
const LATTICE = fileURLToPath(new URL("../../bin/lattice", import.meta.url));

export interface CliTiming {
  ms: Summary;
  /** Median over the median of `node -e ""` in the same run. */
  ratio: number;
  targetMs: number;
}

export interface CliStartResult {
  nodeBaselineMs: Summary;
  version: CliTiming;
  help: CliTiming;
  getHosts: CliTiming;
  up: CliTiming;
  startActor: CliTiming;
}

/** Targets (ms, median) of issue 16's "a CLI that answers at once". */
export const CLI_TARGETS_MS = { version: 150, help: 150, getHosts: 300, up: 3_000, startActor: 1_000 } as const;

/** Runs `file …args` to its exit; its wall time in ms. Throws on a non-zero exit. */
function timed(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${file} ${args.join(" ")} exited with ${code}: ${stderr}`));
    });
  });
}

interface RunningUp {
  /** Spawn → the ready line on stdout. */
  readyMs: number;
  natsUrl: string;
  stop(): Promise<void>;
}

/** `lattice up` in the foreground on free ports, until it prints that the lattice is up. */
function up(env: NodeJS.ProcessEnv): Promise<RunningUp> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(LATTICE, ["up", "--nats-port", "0", "--ws-port", "0", "--leaf-port", "0", "--log-level", "warn"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, signal) => r(signal)));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const url = /NATS:\s+(nats:\/\/\S+)/.exec(stdout);
      if (!stdout.includes(" is up\n") || !url) return;
      const readyMs = performance.now() - t0;
      const natsPid = Number(/nats-server pid (\d+)/.exec(stdout)?.[1]);
      resolve({
        readyMs,
        natsUrl: url[1]!,
        stop: async () => {
          child.kill("SIGTERM");
          // Killed by the signal rather than stopped by it: its nats-server would outlive the bench.
          if ((await exited) === null || !(natsPid > 0)) return;
          try {
            process.kill(natsPid, "SIGKILL");
          } catch {
            // gone already
          }
        },
      });
    });
    child.on("error", reject);
    void exited.then(() => reject(new Error(`lattice up exited before it was ready: ${stderr}`)));
  });
}

function timing(samples: number[], baseline: Summary, targetMs: number): CliTiming {
  const ms = summarize(samples);
  return { ms, ratio: Math.round((ms.median / baseline.median) * 100) / 100, targetMs };
}

export async function cliStart(runs = 5): Promise<CliStartResult> {
  const stateDir = mkdtempSync(join(tmpdir(), "lattice-bench-cli-"));
  // Nothing from the caller's environment may point the commands elsewhere.
  const env: NodeJS.ProcessEnv = { ...process.env, LATTICE_STATE_DIR: stateDir };
  delete env.LATTICE_NATS_URL;
  delete env.LATTICE_NAME;
  const component = await exampleComponentPath("echo");
  const samples = { node: [] as number[], version: [] as number[], help: [] as number[], getHosts: [] as number[], up: [] as number[], startActor: [] as number[] };
  // Each measure gets one untimed round first (file system cache, the machine's transpile cache, JetStream's store).
  const kept = (i: number, list: number[], ms: number): void => {
    if (i > 0) list.push(ms);
  };
  try {
    for (let i = 0; i <= runs; i++) {
      kept(i, samples.node, await timed(process.execPath, ["-e", ""], env));
      kept(i, samples.version, await timed(LATTICE, ["--version"], env));
      kept(i, samples.help, await timed(LATTICE, ["--help"], env));
    }
    for (let i = 0; i <= runs; i++) {
      const u = await up(env);
      kept(i, samples.up, u.readyMs);
      await u.stop();
    }
    const u = await up(env);
    try {
      const nats = ["--nats-url", u.natsUrl];
      for (let i = 0; i <= runs; i++) kept(i, samples.getHosts, await timed(LATTICE, ["get", "hosts", ...nats], env));
      // The untimed round is the host's first run of the digest; the others find it compiled.
      for (let i = 0; i <= runs; i++) {
        kept(i, samples.startActor, await timed(LATTICE, ["start", "actor", component, "--id", "bench", ...nats], env));
        await timed(LATTICE, ["stop", "actor", "bench", ...nats], env);
      }
    } finally {
      await u.stop();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  const baseline = summarize(samples.node);
  return {
    nodeBaselineMs: baseline,
    version: timing(samples.version, baseline, CLI_TARGETS_MS.version),
    help: timing(samples.help, baseline, CLI_TARGETS_MS.help),
    getHosts: timing(samples.getHosts, baseline, CLI_TARGETS_MS.getHosts),
    up: timing(samples.up, baseline, CLI_TARGETS_MS.up),
    startActor: timing(samples.startActor, baseline, CLI_TARGETS_MS.startActor),
  };
}
