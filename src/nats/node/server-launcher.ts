// Launching and supervising a local nats-server process. Node-only (child processes, files):
// the transport-agnostic core never imports this module.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, createWriteStream, openSync, readFileSync, rmSync, statSync, type WriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { requireNatsServer } from "./server-binary.js";
import { ErrorCode, LatticeError } from "../../protocol/index.js";
import { DEFAULT_NATS_HOST, renderNatsConfig, type JetStreamOptions, type NatsServerOptions } from "../server-config.js";

/** How many log lines {@link NatsServer.logs} keeps. */
const LOG_LINES = 200;
const DEFAULT_READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 25;
const READY_LINE = "Server is ready";
const WS_LINE = "Listening for websocket clients on";
const LEAF_LINE = "Listening for leafnode connections on";
const ROUTE_LINE = "Listening for route connections on";
const GATEWAY_LINE = "Listening for gateways connections on";
const READY_MARKERS = [READY_LINE, WS_LINE, LEAF_LINE, ROUTE_LINE, GATEWAY_LINE];
/**
 * The system account the launcher adds to a server with a gateway when none is given: 2.9 refuses
 * leaf nodes and gateways together without one, and every server of a supercluster must name the
 * same. Clients without credentials still land in the global account, as without `accounts`.
 */
export const LAUNCHER_SYSTEM_ACCOUNT = "SYS";
/** What nats-server asks for when it should pick a free port itself. */
const ANY_PORT = -1;

export interface LaunchOptions extends Omit<NatsServerOptions, "jetstream"> {
  /** JetStream; `storeDir` defaults to the server's `dir`. */
  jetstream?: Omit<JetStreamOptions, "storeDir"> & { storeDir?: string };
  /** Directory for the config, log file and default JetStream store. Default: a fresh temp dir. */
  dir?: string;
  /** Keep a launcher-created temp dir on stop (it is removed by default). */
  keepDir?: boolean;
  readyTimeoutMs?: number;
  /** nats-server binary; default: {@link requireNatsServer}. */
  binary?: string;
  /**
   * Spawn in its own process group with output only to the log file, and unref it once ready, so
   * the server outlives this process (`lattice up --detach`).
   */
  detached?: boolean;
}

/**
 * Options as rendered: `host`, the ports file dir and the JetStream store dir filled in; once the
 * server has started, every port is the one it listens on.
 */
export type ResolvedNatsServerOptions = NatsServerOptions & { host: string; port: number };

export interface NatsServer {
  /** Pid of the current process (changes on restart). */
  readonly pid: number;
  readonly port: number;
  /** nats://127.0.0.1:PORT */
  readonly clientUrl: string;
  /** ws://127.0.0.1:PORT when websocket is enabled. */
  readonly websocketUrl?: string;
  /** nats-leaf://127.0.0.1:PORT when listening for leaf nodes. */
  readonly leafUrl?: string;
  /** nats-route://127.0.0.1:PORT when clustered. */
  readonly clusterUrl?: string;
  /** nats://127.0.0.1:PORT when listening for gateways (other clusters of a supercluster). */
  readonly gatewayUrl?: string;
  /** Rendering these again starts an identical server. */
  readonly options: ResolvedNatsServerOptions;
  readonly dir: string;
  readonly configPath: string;
  readonly logPath: string;
  /** True once the current process has exited. */
  readonly exited: boolean;
  /** The last ~200 lines of server output (across restarts). */
  logs(): string[];
  /** SIGTERM, then SIGKILL after 5 s. Idempotent. Removes a launcher-created dir unless keepDir. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) now; resolves when the process has exited (so only use
   * signals that end it: SIGHUP, for one, makes nats-server reload its config instead). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the process and starts it again with the same config, ports and store. */
  restart(): Promise<void>;
}

// Non-detached servers die with this process even when a test or command forgets to stop them.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of liveChildren) c.kill("SIGKILL");
    });
  }
  liveChildren.add(child);
}

/** Where to dial a server listening on `host`: loopback for the wildcard addresses. */
function dialHost(host: string): string {
  return host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
}

function urlHost(host: string): string {
  const h = dialHost(host);
  return h.includes(":") ? `[${h}]` : h;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.setTimeout(1_000);
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
    sock.once("timeout", () => done(false));
  });
}

/** Bounded list of output lines; splits chunks on newlines, keeping a partial line per stream. */
class LineRing {
  readonly lines: string[] = [];
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > LOG_LINES) this.lines.splice(0, this.lines.length - LOG_LINES);
  }
}

function lastLines(text: string, n: number): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-n);
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function resolveOptions(opts: LaunchOptions, dir: string): ResolvedNatsServerOptions {
  // 0 (or a missing client port) means "pick one": nats-server does (-1), and start() reads the
  // ports it chose back, so nothing can take a port between our choosing it and the server binding it.
  const pick = (p: number | undefined) => (p === undefined || p === 0 ? ANY_PORT : p);
  const resolved: ResolvedNatsServerOptions = dropUndefined({
    host: opts.host ?? DEFAULT_NATS_HOST,
    port: pick(opts.port),
    serverName: opts.serverName,
    accounts: opts.accounts,
    systemAccount: opts.systemAccount,
    authorization: opts.authorization,
    maxPayload: opts.maxPayload,
    ping: opts.ping,
    debug: opts.debug,
    portsFileDir: dir,
  });
  if (opts.websocket) resolved.websocket = { ...opts.websocket, port: pick(opts.websocket.port) };
  if (opts.cluster) resolved.cluster = { ...opts.cluster, port: pick(opts.cluster.port) };
  if (opts.leafnodes) {
    resolved.leafnodes = { ...opts.leafnodes };
    if (opts.leafnodes.port !== undefined) resolved.leafnodes.port = pick(opts.leafnodes.port);
  }
  if (opts.gateway) resolved.gateway = { ...opts.gateway, port: pick(opts.gateway.port) };
  if (opts.gateway && opts.systemAccount === undefined) {
    resolved.accounts = { ...opts.accounts, [LAUNCHER_SYSTEM_ACCOUNT]: {} };
    resolved.systemAccount = LAUNCHER_SYSTEM_ACCOUNT;
  }
  if (opts.jetstream) resolved.jetstream = { ...opts.jetstream, storeDir: opts.jetstream.storeDir ?? dir };
  // A deep copy: later changes to the caller's objects must not change what restart() renders.
  return structuredClone(resolved);
}

/** The port of a listen address or URL as nats-server prints it: `nats://127.0.0.1:4222`, `[::]:7422`. */
function portOf(address: string | undefined): number | undefined {
  const m = /:(\d+)\/?$/.exec(address?.trim() ?? "");
  const port = m ? Number(m[1]) : NaN;
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : undefined;
}

/** The listeners' URLs in nats-server's ports file (2.9: no leafnode entry). */
interface PortsFile {
  nats?: string[];
  cluster?: string[];
  websocket?: string[];
}

function isAddrInUse(err: unknown): boolean {
  return err instanceof Error && /address already in use/i.test(err.message);
}

/**
 * Whether a start failed because a route port chosen beforehand (free-port.ts) was taken by the
 * time the server bound it: most often by another server of the same cluster, whose "any free
 * port" listener the kernel gave that very port, just released. Choosing again helps.
 */
export function isRoutePortTaken(err: unknown): boolean {
  return isAddrInUse(err) && err instanceof Error && /router port/i.test(err.message);
}

/** nats-server did not come up. `summary` is one line for people; the message adds the log tail. */
export class NatsServerStartError extends Error {
  override readonly name = "NatsServerStartError";
  readonly summary: string;

  constructor(what: string, configPath: string, logPath: string, tail: string[]) {
    // The server's own fatal line says why (a port in use, a bad config value…).
    const fatal = [...tail].reverse().find((l) => /\[(FTL|ERR)\]/.test(l));
    const reason = fatal ? `: ${fatal.replace(/^.*?\[(FTL|ERR)\]\s*/, "")}` : "";
    const summary = `nats-server ${what}${reason} (config ${configPath}, log ${logPath})`;
    super(`${summary}; last log lines:\n${tail.join("\n")}`);
    this.summary = summary;
  }
}

class ManagedNatsServer implements NatsServer {
  readonly dir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly options: ResolvedNatsServerOptions;
  private readonly ring = new LineRing();
  private child: ChildProcess | undefined;
  private closed: Promise<void> = Promise.resolve();
  private hasExited = true;
  private stopping: Promise<void> | undefined;
  /** Readiness markers seen in the current process's output. */
  private seen = new Set<string>();
  private logStream: WriteStream | undefined;
  private logOffset = 0;
  /** The leafnode and gateway listeners' ports, from the current process's log lines. */
  private leafPort: number | undefined;
  private gatewayPort: number | undefined;

  constructor(
    options: ResolvedNatsServerOptions,
    dir: string,
    private readonly ownsDir: boolean,
    private readonly settings: { binary: string; readyTimeoutMs: number; detached: boolean; keepDir: boolean },
  ) {
    this.options = options;
    this.dir = dir;
    this.configPath = join(dir, "nats-server.conf");
    this.logPath = join(dir, "nats-server.log");
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }
  get exited(): boolean {
    return this.hasExited;
  }
  get port(): number {
    return this.options.port;
  }
  get clientUrl(): string {
    return `nats://${urlHost(this.options.host)}:${this.options.port}`;
  }
  get websocketUrl(): string | undefined {
    const ws = this.options.websocket;
    return ws ? `ws://${urlHost(this.options.host)}:${ws.port}` : undefined;
  }
  get leafUrl(): string | undefined {
    const p = this.options.leafnodes?.port;
    return p !== undefined ? `nats-leaf://${urlHost(this.options.host)}:${p}` : undefined;
  }
  get clusterUrl(): string | undefined {
    const c = this.options.cluster;
    return c ? `nats-route://${urlHost(this.options.host)}:${c.port}` : undefined;
  }
  get gatewayUrl(): string | undefined {
    const g = this.options.gateway;
    return g ? `nats://${urlHost(this.options.host)}:${g.port}` : undefined;
  }

  logs(): string[] {
    if (!this.settings.detached) return [...this.ring.lines];
    try {
      return lastLines(readFileSync(this.logPath, "utf8"), LOG_LINES);
    } catch {
      return [];
    }
  }

  /** Writes the config, spawns the server and waits until it is ready (or fails). */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // 0600: the config may hold passwords.
    await writeFile(this.configPath, renderNatsConfig(this.options), { mode: 0o600 });
    this.seen = new Set();
    this.leafPort = undefined;
    this.gatewayPort = undefined;
    this.stopping = undefined;
    const args = ["-c", this.configPath];
    let child: ChildProcess;
    if (this.settings.detached) {
      const fd = openSync(this.logPath, "a");
      try {
        this.logOffset = statSync(this.logPath).size;
        child = spawn(this.settings.binary, args, { detached: true, stdio: ["ignore", fd, fd] });
      } finally {
        closeSync(fd);
      }
    } else {
      const log = createWriteStream(this.logPath, { flags: "a" });
      this.logStream = log;
      log.on("error", () => undefined); // e.g. dir removed under us: the ring still has the lines
      child = spawn(this.settings.binary, args, { stdio: ["ignore", "pipe", "pipe"] });
      for (const stream of [child.stdout, child.stderr]) {
        let partial = "";
        stream?.setEncoding("utf8");
        stream?.on("data", (chunk: string) => {
          log.write(chunk);
          const parts = (partial + chunk).split("\n");
          partial = parts.pop() ?? "";
          for (const line of parts) this.onLine(line);
        });
        stream?.on("end", () => {
          if (partial !== "") this.onLine(partial);
          partial = "";
        });
      }
      track(child);
    }
    this.child = child;
    this.hasExited = false;
    let spawnError: Error | undefined;
    let exitDesc = "";
    const logStream = this.logStream;
    const portsFile = child.pid !== undefined ? this.portsFilePath(child.pid) : undefined;
    this.closed = new Promise<void>((resolve) => {
      const finish = () => {
        this.hasExited = true;
        liveChildren.delete(child);
        // nats-server removes its ports file when it shuts down, but not when it is killed.
        try {
          if (portsFile) rmSync(portsFile, { force: true });
        } catch {
          // not ours to fix here (the dir may be unreadable or gone)
        }
        // Resolve once the log file has everything: a reader right after stop() sees the last line.
        if (logStream) logStream.end(() => resolve());
        else resolve();
      };
      // "close" (not "exit") so that all output has been read when we report failure.
      child.once("close", (code, signal) => {
        exitDesc = signal ? `killed by ${signal}` : `exited with code ${String(code)}`;
        finish();
      });
      child.once("error", (err) => {
        spawnError = err;
        finish();
      });
    });

    const deadline = Date.now() + this.settings.readyTimeoutMs;
    for (;;) {
      if (this.hasExited) {
        if (spawnError) throw this.failure(`could not be spawned (${spawnError.message})`);
        throw this.failure(exitDesc || "exited");
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await this.closed;
        throw this.failure(`was not ready within ${this.settings.readyTimeoutMs} ms`);
      }
      if (this.isReady() && child.pid !== undefined && this.readPorts(child.pid)) {
        if (await tcpAccepts(dialHost(this.options.host), this.options.port)) break;
      }
      await sleep(POLL_MS);
    }
    if (this.settings.detached) child.unref();
  }

  private onLine(line: string): void {
    this.ring.push(line);
    this.scan(line);
  }

  private scan(line: string): void {
    for (const marker of READY_MARKERS) if (line.includes(marker)) this.seen.add(marker);
    if (line.includes(LEAF_LINE)) this.leafPort = portOf(line.slice(line.indexOf(LEAF_LINE) + LEAF_LINE.length));
    if (line.includes(GATEWAY_LINE)) this.gatewayPort = portOf(line.slice(line.indexOf(GATEWAY_LINE) + GATEWAY_LINE.length));
  }

  // 2.9 prints "Server is ready" before it opens the route listener, so each configured
  // listener is also awaited by its own "Listening for ..." line.
  private isReady(): boolean {
    if (this.settings.detached) for (const line of this.detachedOutput().split("\n")) this.scan(line);
    const o = this.options;
    const needed = [READY_LINE];
    if (o.websocket) needed.push(WS_LINE);
    if (o.leafnodes?.port !== undefined) needed.push(LEAF_LINE);
    if (o.cluster) needed.push(ROUTE_LINE);
    if (o.gateway) needed.push(GATEWAY_LINE);
    return needed.every((m) => this.seen.has(m));
  }

  /** nats-server names the file after its argv[0] and pid. */
  private portsFilePath(pid: number): string {
    return join(this.dir, `${basename(this.settings.binary)}_${pid}.ports`);
  }

  /**
   * Reads the ports the process listens on into {@link options} (so a restart renders the same
   * ones): client, route and websocket from its ports file, leafnode and gateway from its log lines. False
   * while the file is not (completely) written yet.
   */
  private readPorts(pid: number): boolean {
    let file: PortsFile;
    try {
      file = JSON.parse(readFileSync(this.portsFilePath(pid), "utf8")) as PortsFile;
    } catch {
      return false;
    }
    const o = this.options;
    const client = portOf(file.nats?.[0]);
    const ws = o.websocket ? portOf(file.websocket?.[0]) : undefined;
    const route = o.cluster ? portOf(file.cluster?.[0]) : undefined;
    const leaf = o.leafnodes?.port !== undefined ? this.leafPort : undefined;
    if (client === undefined) return false;
    if ((o.websocket && ws === undefined) || (o.cluster && route === undefined)) return false;
    if (o.leafnodes?.port !== undefined && leaf === undefined) return false;
    if (o.gateway && this.gatewayPort === undefined) return false;
    o.port = client;
    if (o.websocket && ws !== undefined) o.websocket.port = ws;
    if (o.cluster && route !== undefined) o.cluster.port = route;
    if (o.leafnodes && leaf !== undefined) o.leafnodes.port = leaf;
    if (o.gateway && this.gatewayPort !== undefined) o.gateway.port = this.gatewayPort;
    return true;
  }

  private detachedOutput(): string {
    try {
      return readFileSync(this.logPath).subarray(this.logOffset).toString("utf8");
    } catch {
      return "";
    }
  }

  private failure(what: string): NatsServerStartError {
    return new NatsServerStartError(what, this.configPath, this.logPath, this.logs().slice(-40));
  }

  private stopProcess(): Promise<void> {
    const child = this.child;
    if (!child || this.hasExited) return Promise.resolve();
    this.stopping ??= (async () => {
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.closed.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS))),
      ]);
      clearTimeout(timer); // a pending timer would keep the caller's process alive for 5 s
      if (timedOut) {
        child.kill("SIGKILL");
        await this.closed;
      }
    })();
    return this.stopping;
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    if (this.ownsDir && !this.settings.keepDir) await rm(this.dir, { recursive: true, force: true });
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.child || this.hasExited) return;
    this.child.kill(signal);
    await this.closed;
  }

  async restart(): Promise<void> {
    await this.stopProcess();
    // The old listeners are normally released at exit, but retry briefly in case the kernel
    // still holds a port.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start();
        return;
      } catch (err) {
        if (attempt >= 5 || !isAddrInUse(err)) throw err;
        await sleep(200 * attempt);
      }
    }
  }
}

/**
 * Starts a nats-server with `opts` and resolves once it accepts clients. Ports left undefined
 * (client) or set to 0 (client, websocket, cluster, leafnodes, gateway) are picked by nats-server
 * (`port: -1`) and read back from its ports file and log: {@link NatsServer.options} and the URLs
 * give the real ones.
 */
export async function startNatsServer(opts: LaunchOptions = {}): Promise<NatsServer> {
  const binary = opts.binary ?? requireNatsServer();
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "lattice-nats-")));
  const settings = {
    binary,
    readyTimeoutMs: opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    detached: opts.detached ?? false,
    keepDir: opts.keepDir ?? false,
  };
  const server = new ManagedNatsServer(resolveOptions(opts, dir), dir, ownsDir, settings);
  try {
    await server.start();
    return server;
  } catch (err) {
    if (ownsDir && !settings.keepDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** True while a process with this pid exists (EPERM: it exists but is not ours). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Stops a process by pid (e.g. a server recorded by `lattice up --detach`): SIGTERM, wait up to
 * `timeoutMs`, then SIGKILL. Resolves true if it was running and is now gone, false if no such
 * process was running; throws if it cannot be stopped.
 */
export async function stopPid(pid: number, timeoutMs = STOP_TIMEOUT_MS): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) throw new LatticeError(ErrorCode.BadRequest, `invalid pid ${String(pid)}`);
  if (!isPidAlive(pid)) return false;
  const waitGone = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!isPidAlive(pid)) return true;
      await sleep(POLL_MS);
    }
    return !isPidAlive(pid);
  };
  try {
    process.kill(pid, "SIGTERM");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return true;
    throw err;
  }
  if (await waitGone(timeoutMs)) return true;
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return true;
    throw err;
  }
  if (await waitGone(2_000)) return true;
  throw new LatticeError(ErrorCode.Internal, `process ${pid} did not exit after SIGKILL`);
}
