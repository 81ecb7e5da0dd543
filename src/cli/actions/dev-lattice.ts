/**
 * The lattice `lattice dev` works in: the one at --nats-url when it answers and has a host;
 * otherwise one it starts with `lattice up` in a child process (nats-server and a host, or only a
 * host when NATS answers but no host does), and stops when it is done. With --nats-port given it
 * starts its own nats-server on that port, whatever answers at --nats-url.
 *
 * The child is `lattice up` itself, so the lattice is the one `up` makes (and `lattice down` can
 * stop it too). It runs in a process group of its own: a Ctrl-C at the terminal reaches
 * `lattice dev` only, which stops its actor first and the lattice after.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../../ctl/index.js";
import { NATS_AUTH_ENV } from "../../protocol/provider-process.js";
import { openConnection } from "../connect.js";
import { CliError, describeError } from "../errors.js";
import type { LatticeOpts } from "../lattice-options.js";
import type { UpRecord } from "../up-state.js";

const CLI_MAIN = fileURLToPath(new URL("../main.js", import.meta.url));
const UP_READY_TIMEOUT_MS = 60_000;
const UP_STOP_TIMEOUT_MS = 20_000;

export interface DevLatticeOpts extends LatticeOpts {
  stateDir: string;
  natsPort: number;
}

/** A lattice `lattice dev` started: its record, and how to stop it. */
export interface StartedLattice {
  record: UpRecord;
  /** Whether it started a nats-server too (else only a host on the NATS found). */
  withNats: boolean;
  stop(): Promise<void>;
}

export interface DevLattice {
  /** The URL(s) to connect to. */
  natsUrl: string;
  started?: StartedLattice;
}

/** Find the lattice, or start one. */
export async function ensureLattice(opts: DevLatticeOpts, command: Command): Promise<DevLattice> {
  const given = command.getOptionValueSource("natsUrl");
  const explicit = given === "cli" || given === "env";
  // As for `up`: a port on the command line asks for a nats-server of its own.
  const ownNats = command.getOptionValueSource("natsPort") === "cli";
  if (ownNats && given === "cli") throw new CliError("--nats-url joins a running NATS, but --nats-port is the port of a nats-server to start: give one or the other");
  const startOwn = async (): Promise<DevLattice> => {
    const started = await startUp(opts, ["--nats-port", String(opts.natsPort), ...(opts.natsPort === 0 ? ["--ws-port", "0", "--leaf-port", "0"] : [])], true);
    return { natsUrl: started.record.natsUrl, started };
  };
  if (ownNats) return startOwn();
  let nc: NatsConnection;
  try {
    nc = await openConnection(opts);
  } catch (e) {
    if (explicit) throw new CliError(describeError(e));
    return startOwn();
  }
  let hosts: number;
  try {
    hosts = (await new LatticeClient(nc, opts.lattice, { timeoutMs: 1_000 }).hosts()).replies.length;
  } finally {
    await nc.close();
  }
  if (hosts > 0) return { natsUrl: opts.natsUrl };
  return { natsUrl: opts.natsUrl, started: await startUp(opts, ["--nats-url", opts.natsUrl], false) };
}

/** Run `lattice up -o json` in the background; resolves once it printed its ready record. */
async function startUp(opts: DevLatticeOpts, args: string[], withNats: boolean): Promise<StartedLattice> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The credentials given as flags go by the environment: flags are visible in `ps`.
  for (const [key, name] of Object.entries(NATS_AUTH_ENV)) {
    const v = opts[key as keyof typeof NATS_AUTH_ENV];
    if (v !== undefined) env[name] = v;
  }
  delete env.LATTICE_NATS_URL;
  const child = spawn(process.execPath, [CLI_MAIN, "up", "-o", "json", "--lattice", opts.lattice, "--state-dir", opts.stateDir, "--log-level", "warn", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env,
  });
  const kill = () => signal(child, "SIGTERM");
  process.once("exit", kill);
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  const record = await new Promise<UpRecord>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CliError(`the lattice did not come up in ${UP_READY_TIMEOUT_MS / 1000} s: ${stderr.trim()}`)), UP_READY_TIMEOUT_MS);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      // `up -o json` prints its record, pretty-printed, once ready.
      try {
        const rec = JSON.parse(stdout) as UpRecord;
        clearTimeout(timer);
        resolve(rec);
      } catch {
        // Not all of it yet.
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      const why = stderr.trim().split("\n").pop()?.replace(/^lattice: /, "") ?? "";
      reject(new CliError(`could not start a lattice (\`lattice up\` exited ${code ?? "on a signal"})${why ? `: ${why}` : ""}`));
    });
  }).catch((e: unknown) => {
    kill();
    process.off("exit", kill);
    throw e;
  });
  return {
    record,
    withNats,
    stop: async () => {
      process.off("exit", kill);
      await stopChild(child);
    },
  };
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(sig);
}

/** SIGTERM (`up` stops its host, then nats-server), and SIGKILL if that takes too long. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signal(child, "SIGTERM");
  const timer = setTimeout(() => signal(child, "SIGKILL"), UP_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
