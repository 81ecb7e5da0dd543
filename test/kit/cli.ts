/** Running the real `lattice` command (its launcher, bin/lattice, on the compiled CLI) as child processes, tracked by pid. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { until } from "./poll.js";

export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
/** The package's `bin`: what a user runs as `lattice` (it execs node on CLI, with the small profile's flags when asked). */
export const LAUNCHER = fileURLToPath(new URL("../../../bin/lattice", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a command to completion. `closedStdout`: its stdout is a pipe nobody reads any more, as
 * after `| head -1` has exited, closed before the command can have written anything.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000, o: { closedStdout?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(LAUNCHER, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    if (o.closedStdout) child.stdout.destroy();
    else child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`lattice ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run a command and parse its stdout as JSON; fail with its stderr if it exits non-zero. */
export async function cliJson<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const r = await runCli([...args, "-o", "json"], env);
  if (r.code !== 0) throw new Error(`lattice ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** A long-running `lattice` process (a host, an event stream…). */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(LAUNCHER, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    live.add(this.child);
    this.child.stdout?.on("data", (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.child.once("exit", () => live.delete(this.child));
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error("process did not start");
    return this.child.pid;
  }

  /** The stdout lines parsed as JSON, once `count` of them are there. */
  async jsonLines<T>(count: number, timeoutMs = 15_000): Promise<T[]> {
    return until(
      () => {
        const lines = this.stdout.split("\n").filter((l) => l.trim().length > 0);
        if (lines.length >= count) return lines.slice(0, count).map((l) => JSON.parse(l) as T);
        if (this.child.exitCode !== null) throw new Error(`process exited ${this.child.exitCode}: ${this.stderr}`);
        return undefined;
      },
      timeoutMs,
      `${count} JSON lines from lattice ${this.child.spawnargs.slice(1).join(" ")} (stderr: ${this.stderr})`,
    );
  }

  /** Resolves once stderr contains `text`. */
  async stderrIncludes(text: string, timeoutMs = 15_000): Promise<void> {
    await until(
      () => {
        if (this.stderr.includes(text)) return true;
        if (this.child.exitCode !== null) throw new Error(`process exited ${this.child.exitCode}: ${this.stderr}`);
        return undefined;
      },
      timeoutMs,
      `${JSON.stringify(text)} on stderr of lattice ${this.child.spawnargs.slice(1).join(" ")}`,
    );
  }

  /** Send a signal and wait for the exit; resolves with the exit code (null if killed by signal). */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once("exit", (code) => r(code)));
    this.child.kill(signal);
    return exited;
  }
}
