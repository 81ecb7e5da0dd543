/**
 * The capability providers of one host. Each provider is a process, started through a
 * `ProviderLauncher` (Node: a child process; a browser host would bring its own or none), that
 * connects to the lattice itself and serves its functions there. The host only keeps it alive:
 * it waits for the process to report ready, relays its health, log records and output, restarts
 * it with a growing delay when it exits by itself, and stops it when asked.
 *
 * Transport-agnostic: nothing here touches processes directly.
 */
import type { LaunchedProcess, OutputStream, ProviderLauncher } from "../provider/launcher.js";
import {
  ErrorCode,
  EventType,
  LatticeError, messageOf,
  type EventData,
  type ProviderEntry,
  type ProviderStartRequest,
  type ProviderStartResult,
  type ProviderStopResult,
  type TargetMetrics,
} from "../protocol/index.js";
import { PROVIDER_ENV, type ProviderLogRecord } from "../protocol/provider-process.js";
import type { Logger } from "../protocol/logging.js";
import type { PolicyGate } from "./policy.js";
import { KeyedQueue } from "../protocol/keyed-queue.js";
import type { LogPublisher } from "../nats/log-publisher.js";
import { forwardProviderOutput, forwardProviderRecord } from "./log-forwarding.js";

export type { LaunchSpec, LaunchedProcess, OutputStream, ProviderLauncher } from "../provider/launcher.js";

/** How restarts are spaced: `initialMs`, doubling up to `maxMs`; back to `initialMs` once a process ran `resetAfterMs`. */
export interface RestartBackoff {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Readonly<RestartBackoff> = { initialMs: 250, maxMs: 30_000, resetAfterMs: 60_000 };
/** A provider that has not said `ready` by then is killed and its start fails. */
export const PROVIDER_READY_TIMEOUT_MS = 15_000;
/** A stopping provider gets this long after SIGTERM before it is killed. */
export const PROVIDER_STOP_TIMEOUT_MS = 5_000;

export interface ProviderSupervisorDeps {
  hostId: string;
  lattice: string;
  /** NATS servers the providers connect to (LATTICE_NATS_URL). */
  servers: readonly string[];
  /** JetStream domain of the lattice (LATTICE_JS_DOMAIN). */
  jsDomain?: string;
  /** The host's nkey seed, which its providers sign invocations with (LATTICE_SIGNING_SEED). Secret. */
  signingSeed?: string;
  launcher: ProviderLauncher;
  /** Asked before a provider starts (not before a restart: that one was allowed already). */
  policy?: PolicyGate;
  log: Logger;
  /** Where the providers' log records and output lines go besides `log`: the lattice. */
  logs?: LogPublisher;
  publish: <T extends EventType>(type: T, data: EventData<T>) => void;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
  backoff?: Partial<RestartBackoff>;
}

interface Supervised {
  /** `startedAt` is when the current (or last) process was launched. */
  entry: ProviderEntry;
  config: Record<string, string>;
  proc?: LaunchedProcess;
  /** When the current process said ready. */
  readyAt: number;
  /** The delay before the next restart. */
  delayMs: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Asked to stop: no more restarts. */
  stopping: boolean;
  /** The current process' call metrics, as it last reported them. */
  metrics?: TargetMetrics;
}

/** Lines of a process' output kept to explain a failed start. */
const TAIL_LINES = 8;
const MAX_LINE = 4_096;
const MAX_HEALTH_MESSAGE = 1_024;

export class ProviderSupervisor {
  private readonly providers = new Map<string, Supervised>();
  /** One change at a time per provider: a stop waits for the start before it. */
  private readonly serial = new KeyedQueue();
  private readonly backoff: RestartBackoff;
  private readonly readyTimeoutMs: number;
  private readonly stopTimeoutMs: number;

  constructor(private readonly d: ProviderSupervisorDeps) {
    this.backoff = { ...DEFAULT_BACKOFF, ...d.backoff };
    this.readyTimeoutMs = d.readyTimeoutMs ?? PROVIDER_READY_TIMEOUT_MS;
    this.stopTimeoutMs = d.stopTimeoutMs ?? PROVIDER_STOP_TIMEOUT_MS;
  }

  entries(): ProviderEntry[] {
    return [...this.providers.values()].map((p) => (p.metrics ? { ...snapshot(p.entry), metrics: p.metrics } : snapshot(p.entry)));
  }

  get count(): number {
    return this.providers.size;
  }

  /** Start and supervise a provider. Starting one that runs with the same ref changes nothing. */
  start(req: ProviderStartRequest): Promise<ProviderStartResult> {
    return this.serial.run(req.providerId, () => this.doStart(req));
  }

  /** Stop a provider for good (no restart). */
  stop(providerId: string): Promise<ProviderStopResult> {
    return this.serial.run(providerId, () => this.doStop(providerId));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.providers.keys()].map((id) => this.stop(id)));
  }

  private async doStart(req: ProviderStartRequest): Promise<ProviderStartResult> {
    const current = this.providers.get(req.providerId);
    if (current) {
      if (current.entry.ref !== req.ref) {
        throw new LatticeError(ErrorCode.BadRequest, `provider ${req.providerId} already runs ${current.entry.ref} on this host; stop it first (lattice stop provider ${req.providerId})`);
      }
      return { hostId: this.d.hostId, provider: snapshot(current.entry) };
    }
    await this.d.policy?.enforce({ action: "start", kind: "provider", target: req.providerId, ref: req.ref }, () => `provider ${req.providerId}`);
    const now = new Date().toISOString();
    const p: Supervised = {
      entry: { id: req.providerId, ref: req.ref, state: "starting", restarts: 0, startedAt: now, health: { healthy: false, message: "starting", at: now } },
      config: { ...req.config },
      readyAt: 0,
      delayMs: this.backoff.initialMs,
      stopping: false,
    };
    this.providers.set(p.entry.id, p);
    try {
      await this.spawn(p);
    } catch (e) {
      if (this.providers.get(p.entry.id) === p) this.providers.delete(p.entry.id);
      this.d.log.warn("provider start failed", { provider: p.entry.id, ref: p.entry.ref, error: messageOf(e) });
      throw e;
    }
    return { hostId: this.d.hostId, provider: snapshot(p.entry) };
  }

  private async doStop(providerId: string): Promise<ProviderStopResult> {
    const p = this.providers.get(providerId);
    if (!p) return { hostId: this.d.hostId, stopped: false };
    p.stopping = true;
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = undefined;
    const proc = p.proc;
    if (proc) {
      try {
        await proc.stop(this.stopTimeoutMs);
      } catch (e) {
        this.d.log.warn("provider did not stop cleanly", { provider: providerId, error: messageOf(e) });
      }
    }
    p.proc = undefined;
    if (this.providers.get(providerId) === p) this.providers.delete(providerId);
    p.entry.state = "stopped";
    delete p.entry.pid;
    this.d.publish(EventType.ProviderStopped, { hostId: this.d.hostId, providerId, ref: p.entry.ref, reason: "stopped" });
    this.d.log.info("provider stopped", { provider: providerId });
    return { hostId: this.d.hostId, stopped: true };
  }

  /** Launch a process for `p` and wait for it to say ready; rejects (the process killed) otherwise. */
  private spawn(p: Supervised): Promise<void> {
    const { id, ref } = p.entry;
    const proc = this.d.launcher.launch({ providerId: id, ref, env: this.env(p) });
    p.proc = proc;
    p.metrics = undefined; // a new process counts from zero
    p.entry.pid = proc.pid;
    p.entry.startedAt = new Date().toISOString();
    let reportedHealth = false;
    const tail: string[] = [];
    const keep = (line: string): string => {
      const cut = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
      tail.push(cut);
      if (tail.length > TAIL_LINES) tail.shift();
      return cut;
    };
    proc.onOutput((line, stream) => this.output(id, keep(line), stream));
    return new Promise<void>((resolve, reject) => {
      let phase: "waiting" | "ready" | "failed" = "waiting";
      const fail = (e: LatticeError) => {
        phase = "failed";
        clearTimeout(timer);
        reject(e);
      };
      const timer = setTimeout(() => {
        if (phase !== "waiting") return;
        fail(new LatticeError(ErrorCode.Timeout, `provider ${id} (${ref}) did not report ready within ${this.readyTimeoutMs} ms${explain(tail)}`));
        proc.kill();
      }, this.readyTimeoutMs);
      proc.onMessage((m) => {
        if (m.type === "log") {
          keep(describeRecord(m));
          this.record(id, m);
          return;
        }
        if (p.proc !== proc) return;
        if (m.type === "metrics") p.metrics = m.metrics;
        else if (m.type === "health") {
          reportedHealth = true;
          this.setHealth(p, m.healthy, m.message);
        } else if (m.type === "ready" && phase === "waiting") {
          phase = "ready";
          clearTimeout(timer);
          this.ready(p, proc, reportedHealth);
          resolve();
        }
      });
      proc.onExit((code, signal) => {
        if (phase === "waiting") fail(new LatticeError(ErrorCode.Internal, `provider ${id} (${ref}) ${describeExit(code, signal)} before it was ready${explain(tail)}`));
        else if (phase === "ready") this.exited(p, proc, code, signal);
        // "failed": whoever started it deals with that.
      });
    });
  }

  private ready(p: Supervised, proc: LaunchedProcess, reportedHealth: boolean): void {
    p.entry.state = "running";
    p.readyAt = Date.now();
    if (!reportedHealth) this.setHealth(p, true, "running", p.entry.restarts > 0);
    this.d.publish(EventType.ProviderStarted, { hostId: this.d.hostId, providerId: p.entry.id, ref: p.entry.ref, pid: proc.pid });
    this.d.log.info(p.entry.restarts > 0 ? "provider restarted" : "provider started", { provider: p.entry.id, ref: p.entry.ref, pid: proc.pid, restarts: p.entry.restarts });
  }

  /** A ready process ended. Unless it was asked to, that is a crash: restart it. */
  private exited(p: Supervised, proc: LaunchedProcess, code: number | null, signal: string | null): void {
    if (p.proc !== proc) return;
    p.proc = undefined;
    delete p.entry.pid;
    if (p.stopping || this.providers.get(p.entry.id) !== p) return; // doStop publishes
    if (Date.now() - p.readyAt >= this.backoff.resetAfterMs) p.delayMs = this.backoff.initialMs;
    const reason = describeExit(code, signal);
    this.d.publish(EventType.ProviderStopped, { hostId: this.d.hostId, providerId: p.entry.id, ref: p.entry.ref, reason, exitCode: code });
    this.scheduleRestart(p, reason);
  }

  private scheduleRestart(p: Supervised, why: string): void {
    const delay = p.delayMs;
    p.delayMs = Math.min(p.delayMs * 2, this.backoff.maxMs);
    p.entry.state = "restarting";
    this.setHealth(p, false, `${why}; restarting in ${delay} ms`);
    this.d.log.warn("provider ended by itself; restarting", { provider: p.entry.id, reason: why, delayMs: delay, restarts: p.entry.restarts });
    p.timer = setTimeout(() => void this.restart(p), delay);
  }

  private async restart(p: Supervised): Promise<void> {
    p.timer = undefined;
    if (p.stopping || this.providers.get(p.entry.id) !== p) return;
    p.entry.restarts++;
    try {
      await this.spawn(p);
    } catch (e) {
      if (p.stopping || this.providers.get(p.entry.id) !== p) return;
      p.proc = undefined;
      delete p.entry.pid;
      const reason = `restart failed: ${messageOf(e)}`.slice(0, 1_000);
      this.d.publish(EventType.ProviderStopped, { hostId: this.d.hostId, providerId: p.entry.id, ref: p.entry.ref, reason });
      this.scheduleRestart(p, reason);
    }
  }

  /** Record a health change; `provider_health` tells the lattice unless `announce` is false. */
  private setHealth(p: Supervised, healthy: boolean, message: string, announce = true): void {
    const text = message.length > MAX_HEALTH_MESSAGE ? message.slice(0, MAX_HEALTH_MESSAGE) : message;
    const h = p.entry.health;
    if (h.healthy === healthy && h.message === text) return;
    p.entry.health = { healthy, message: text, at: new Date().toISOString() };
    if (announce) this.d.publish(EventType.ProviderHealth, { hostId: this.d.hostId, providerId: p.entry.id, healthy, message: text });
  }

  /** The settings a provider process reads (`PROVIDER_ENV`). */
  private env(p: Supervised): Record<string, string> {
    const env: Record<string, string> = {
      [PROVIDER_ENV.natsUrl]: this.d.servers.join(","),
      [PROVIDER_ENV.lattice]: this.d.lattice,
      [PROVIDER_ENV.providerId]: p.entry.id,
      [PROVIDER_ENV.hostId]: this.d.hostId,
      [PROVIDER_ENV.config]: JSON.stringify(p.config),
    };
    if (this.d.jsDomain) env[PROVIDER_ENV.jsDomain] = this.d.jsDomain;
    if (this.d.signingSeed) env[PROVIDER_ENV.signingSeed] = this.d.signingSeed;
    return env;
  }

  /** A provider's log record into the host log, at its level, with its fields. */
  private record(id: string, r: ProviderLogRecord): void {
    if (this.d.logs) return forwardProviderRecord(this.d.logs, this.d.log, id, r);
    this.d.log[r.level](r.msg, { ...r.fields, provider: id });
  }

  /**
   * A line a provider wrote itself into the host log (the SDK's logger sends records instead):
   * stdout lines are info, stderr lines (an uncaught exception, a runtime warning) warn.
   */
  private output(id: string, line: string, stream: OutputStream): void {
    if (line.trim() === "") return;
    if (this.d.logs) return forwardProviderOutput(this.d.logs, this.d.log, id, line, stream);
    const fields = { provider: id, stream };
    if (stream === "stdout") this.d.log.info(line, fields);
    else this.d.log.warn(line, fields);
  }

}

function snapshot(e: ProviderEntry): ProviderEntry {
  const out: ProviderEntry = { id: e.id, ref: e.ref, state: e.state, restarts: e.restarts, startedAt: e.startedAt, health: { ...e.health } };
  if (e.pid !== undefined) out.pid = e.pid;
  return out;
}

function describeExit(code: number | null, signal: string | null): string {
  if (code !== null) return `exited with code ${code}`;
  return signal ? `was killed by ${signal}` : "ended";
}

/** A log record as a line of a provider's last output: level, message, fields as JSON. */
function describeRecord(r: ProviderLogRecord): string {
  const extra = r.fields && Object.keys(r.fields).length > 0 ? ` ${JSON.stringify(r.fields)}` : "";
  return `${r.level.toUpperCase()} ${r.msg}${extra}`;
}

function explain(tail: readonly string[]): string {
  return tail.length === 0 ? "" : `; its last output:\n${tail.join("\n")}`;
}
