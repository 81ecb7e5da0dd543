/**
 * The Node edge of provider supervision: each provider runs as a child Node process (fork, with
 * an IPC channel for `ready`, health and log records), with a small environment of its own, its
 * output read line by line. A REF is a built-in provider's name or the path of a provider module.
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { extname, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { LaunchSpec, LaunchedProcess, OutputStream, ProviderLauncher } from "./launcher.js";
import type { LogLevel } from "../protocol/logging.js";
import { ErrorCode, LatticeError } from "../protocol/errors.js";
import { PROVIDER_ENV, isProviderIpc, type ProviderIpc } from "../protocol/provider-process.js";
import { within } from "../protocol/within.js";

/** Providers that come with lattice, by the name a REF uses. */
export const BUILTIN_PROVIDERS = ["keyvalue", "http-server", "messaging"] as const;
export type BuiltinProvider = (typeof BUILTIN_PROVIDERS)[number];

export function isBuiltinProvider(ref: string): ref is BuiltinProvider {
  return (BUILTIN_PROVIDERS as readonly string[]).includes(ref);
}

/** The module file a REF names: a built-in's compiled module, or an existing .js/.mjs file. */
export function resolveProviderRef(ref: string, cwd = process.cwd()): string {
  if (isBuiltinProvider(ref)) {
    const file = fileURLToPath(new URL(`./builtin/${ref}.js`, import.meta.url));
    if (!existsSync(file)) throw new LatticeError(ErrorCode.NotFound, `built-in provider ${ref} is not in this build of lattice (${file} is missing)`);
    return file;
  }
  const file = resolve(cwd, ref);
  if (!existsSync(file)) {
    throw new LatticeError(ErrorCode.NotFound, `no provider ${ref}: not a built-in (${BUILTIN_PROVIDERS.join(", ")}) nor a file`);
  }
  const ext = extname(file);
  if (!statSync(file).isFile() || (ext !== ".js" && ext !== ".mjs")) {
    throw new LatticeError(ErrorCode.BadRequest, `provider ${ref} is not a provider module: expected a .js or .mjs file`);
  }
  return file;
}

/**
 * Variables of the host's environment a provider may see: no secrets (LATTICE_HOST_SEED…), no NATS
 * credentials. OTEL_* pass too (an OTLP collector's headers may hold its token: the provider exports too).
 */
const PASSED = new Set(["PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL"]);
/** NODE_* variables that belong to the parent process, not to a provider. */
const NOT_PASSED = new Set(["NODE_CHANNEL_FD", "NODE_CHANNEL_SERIALIZATION_MODE", "NODE_UNIQUE_ID", "NODE_TEST_CONTEXT"]);

export function providerEnvironment(parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) {
    if (v === undefined || NOT_PASSED.has(k)) continue;
    // OTEL_*: a provider's tracing is set up as its host's is (docs/observability.md).
    if (PASSED.has(k) || k.startsWith("NODE_") || k.startsWith("OTEL_")) env[k] = v;
  }
  return env;
}

export interface NodeLauncherOptions {
  /** The providers' log level (LATTICE_LOG_LEVEL); default info. */
  logLevel?: LogLevel;
  /** Where relative module paths are resolved; default the process' working directory. */
  cwd?: string;
  /** More environment for every provider (the host's NATS credentials settings). */
  env?: Record<string, string>;
}

export class NodeProviderLauncher implements ProviderLauncher {
  constructor(private readonly opts: NodeLauncherOptions = {}) {}

  launch(spec: LaunchSpec): LaunchedProcess {
    const module = resolveProviderRef(spec.ref, this.opts.cwd);
    const env = { ...providerEnvironment(), ...this.opts.env, ...spec.env };
    if (this.opts.logLevel) env[PROVIDER_ENV.logLevel] = this.opts.logLevel;
    const child = fork(module, [], { env, execArgv: [], stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "json" });
    return new NodeProviderProcess(child, spec.providerId);
  }
}

/** How long to wait, after a process exited, for the rest of its output. */
const OUTPUT_DRAIN_MS = 250;
/** How long to wait for the exit after SIGKILL. */
const KILL_WAIT_MS = 2_000;

class NodeProviderProcess implements LaunchedProcess {
  readonly pid: number;
  private readonly exitCbs: Array<(code: number | null, signal: string | null) => void> = [];
  private readonly messageCbs: Array<(m: ProviderIpc) => void> = [];
  private readonly outputCbs: Array<(line: string, stream: OutputStream) => void> = [];
  private readonly exit: Promise<void>;
  private ended?: { code: number | null; signal: string | null };

  constructor(
    private readonly child: ChildProcess,
    providerId: string,
  ) {
    if (child.pid === undefined) {
      child.on("error", () => undefined);
      throw new LatticeError(ErrorCode.Internal, `could not start a process for provider ${providerId}`);
    }
    this.pid = child.pid;
    const streams: Array<Promise<void>> = [];
    for (const [stream, input] of [["stdout", child.stdout], ["stderr", child.stderr]] as const) {
      if (input) streams.push(this.lines(input, stream));
    }
    // The channel closes after the last message it carried, the process' last log records among them.
    if (child.connected) streams.push(new Promise((r) => child.once("disconnect", () => r())));
    child.on("message", (m: unknown) => {
      if (!isProviderIpc(m)) return;
      for (const cb of this.messageCbs) cb(m);
    });
    // A failure to signal or to send is reported here; the exit event still follows.
    child.on("error", () => undefined);
    this.exit = new Promise((done) => {
      child.once("exit", (code, signal) => {
        done();
        // Let the last lines and records through first: they usually say why it ended.
        const drained = Promise.all(streams);
        void Promise.race([drained, new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS))]).then(() => {
          this.ended = { code, signal };
          for (const cb of this.exitCbs) cb(code, signal);
        });
      });
    });
  }

  onExit(cb: (code: number | null, signal: string | null) => void): void {
    if (this.ended) cb(this.ended.code, this.ended.signal);
    else this.exitCbs.push(cb);
  }

  onMessage(cb: (m: ProviderIpc) => void): void {
    this.messageCbs.push(cb);
  }

  onOutput(cb: (line: string, stream: OutputStream) => void): void {
    this.outputCbs.push(cb);
  }

  async stop(timeoutMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    if (await within(this.exit, timeoutMs)) return;
    this.child.kill("SIGKILL");
    await within(this.exit, KILL_WAIT_MS);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private lines(input: Readable, stream: OutputStream): Promise<void> {
    const rl = createInterface({ input, crlfDelay: Infinity });
    rl.on("line", (line) => {
      for (const cb of this.outputCbs) cb(line, stream);
    });
    return new Promise((r) => rl.once("close", () => r()));
  }
}

