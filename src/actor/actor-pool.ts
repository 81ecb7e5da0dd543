/**
 * The instances of one actor on one host: a fixed number of worker threads, each holding one
 * component instance and running one call at a time, with a bounded queue in front. A call past
 * its deadline terminates its worker (the only way to stop a guest stuck in a loop) and a fresh
 * worker takes the slot; a trap is handled inside the worker by a fresh instance.
 *
 * The queue is bounded: a call that finds it full, or that would wait past its deadline for an
 * instance, is refused at once with `unavailable` (an HTTP edge answers 503) rather than queued
 * into a timeout. The bound is 8 calls per instance, and at least 32: as deep as the queue gets
 * under as many concurrent callers as that, so that offered more than it can serve, an actor
 * answers the calls it takes about as fast as it does at that concurrency. The wait is estimated
 * from the calls waiting and the recent time a call takes (a moving average).
 */
import type { Worker } from "node:worker_threads";
import { ErrorCode, LatticeError, isErrorCode } from "../protocol/index.js";
import type { Logger } from "../host/logger.js";
import { HTTP_INSTANCE_MODES, type HttpInstances } from "./actor-metadata.js";
import type { CompiledComponent } from "./component-cache.js";
import { isLocalInterface } from "./local-imports.js";
import { createBridge } from "./sync-bridge.js";
import type { WorkerSupply } from "./worker-supply.js";
import type { ActorInstances, ImportForwarder, InstanceStats, Invocation } from "./runtime.js";
import type { CallFailureKind, WorkerBind, WorkerCall, WorkerReply } from "./worker-protocol.js";

export interface PoolOptions {
  actorId: string;
  component: CompiledComponent;
  instances: number;
  config?: Record<string, string>;
  /** Without one, a component importing anything not served locally cannot start. */
  forward?: ImportForwarder;
  log: Logger;
  workers: WorkerSupply;

}

interface Pending {
  id: number;
  inv: Invocation;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  current?: Pending & { timer: ReturnType<typeof setTimeout>; started: number };
  closeBridge: () => void;
}

const FAILURE_CODE: Record<CallFailureKind, ErrorCode> = {
  trap: ErrorCode.Trap,
  bad_call: ErrorCode.BadRequest,
  no_such_function: ErrorCode.NotFound,
  guest_error: ErrorCode.GuestError,
  host_error: ErrorCode.Internal,
};

/** Actor config key that overrides how HTTP calls use instances: `reuse` or `fresh` (actor-metadata.ts). */
export const HTTP_INSTANCES_KEY = "lattice.http.instances";

/** Actor config key: how many calls may wait for an instance on one host (default below). */
export const MAX_QUEUE_KEY = "lattice.max-queue";
const QUEUE_PER_INSTANCE = 8;
const MIN_QUEUE = 32;
/** Weight of the latest call in the moving average of call times. */
const SERVICE_EWMA = 0.2;

/** How this actor's instances serve HTTP calls: its config's say, else the component's. */
export function httpInstancesFor(actorId: string, component: CompiledComponent, config: Record<string, string>): HttpInstances {
  const told = config[HTTP_INSTANCES_KEY];
  if (told === undefined) return component.http.mode;
  if ((HTTP_INSTANCE_MODES as readonly string[]).includes(told)) return told as HttpInstances;
  throw new LatticeError(ErrorCode.BadRequest, `actor ${actorId}: config ${HTTP_INSTANCES_KEY} must be ${HTTP_INSTANCE_MODES.join(" or ")}, not ${JSON.stringify(told)}`);
}

/** Interfaces of `component` that must be forwarded; throws if that is needed and impossible. */
export function forwardedImports(actorId: string, component: CompiledComponent, canForward: boolean): string[] {
  const remote = component.imports.filter((i) => !isLocalInterface(i));
  if (remote.length > 0 && !canForward) {
    throw new LatticeError(
      ErrorCode.BadRequest,
      `actor ${actorId} imports ${remote.join(", ")}, which this host cannot serve (served here: WASI, wasi:logging/logging, lattice:actor/config)`,
    );
  }
  return remote;
}

export class ActorPool implements ActorInstances {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private readonly forwarded: string[];
  private readonly httpInstances: HttpInstances;
  /** Set by config, else derived from the instances wanted. */
  private readonly maxQueue?: number;
  /** Moving average of the time a call takes an instance, in ms (0 until one has answered). */
  private serviceMs = 0;
  private nextId = 1;
  private target: number;
  private stopped = false;
  readonly stats: InstanceStats = { calls: 0, failed: 0, traps: 0, timeouts: 0, replaced: 0, refused: 0 };

  private constructor(private readonly opts: PoolOptions) {
    this.forwarded = forwardedImports(opts.actorId, opts.component, opts.forward !== undefined);
    this.httpInstances = httpInstancesFor(opts.actorId, opts.component, opts.config ?? {});
    const maxQueue = opts.config?.[MAX_QUEUE_KEY];
    if (maxQueue !== undefined) {
      if (!/^\d+$/.test(maxQueue.trim())) throw new LatticeError(ErrorCode.BadRequest, `actor ${opts.actorId}: config ${MAX_QUEUE_KEY} must be a whole number of calls, not ${JSON.stringify(maxQueue)}`);
      this.maxQueue = Number(maxQueue);
    }
    this.target = opts.instances;
  }

  /** Start the pool; resolves once every instance is ready, rejects if the first one cannot start. */
  static async start(opts: PoolOptions): Promise<ActorPool> {
    if (!Number.isInteger(opts.instances) || opts.instances < 1) throw new LatticeError(ErrorCode.BadRequest, "an actor needs at least one instance");
    const pool = new ActorPool(opts);
    try {
      await Promise.all(Array.from({ length: opts.instances }, () => pool.spawn()));
    } catch (e) {
      await pool.stop();
      throw e;
    }
    return pool;
  }

  get actorId(): string {
    return this.opts.actorId;
  }

  get digest(): string {
    return this.opts.component.digest;
  }

  /** Instances wanted; some may be restarting. */
  get size(): number {
    return this.target;
  }

  invoke(inv: Invocation): Promise<unknown> {
    if (this.stopped) return Promise.reject(new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} is stopping`));
    const refusal = this.overloaded(inv);
    if (refusal) {
      this.stats.refused++;
      return Promise.reject(refusal);
    }
    this.stats.calls++;
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, inv, resolve, reject });
      this.dispatch();
    });
  }

  /** Why a call cannot be taken now, if it cannot: it would wait too long for an instance. */
  private overloaded(inv: Invocation): LatticeError | undefined {
    if (this.queue.length === 0 && [...this.slots].some((s) => s.ready && !s.current)) return undefined;
    const instances = `its ${this.target} instance${this.target === 1 ? "" : "s"}`;
    if (this.queue.length >= (this.maxQueue ?? Math.max(MIN_QUEUE, QUEUE_PER_INSTANCE * this.target))) {
      return new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} is overloaded: ${this.queue.length} calls wait for ${instances}; try again shortly`);
    }
    const waitMs = ((this.queue.length + 1) * this.serviceMs) / Math.max(1, this.target);
    if (Date.now() + waitMs + this.serviceMs <= inv.deadline) return undefined;
    return new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} is overloaded: a call would wait about ${Math.ceil(waitMs)} ms for ${instances}, past its deadline`);
  }

  /** Grow or shrink to `n` instances. Busy instances finish their call before they go. */
  async scale(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 1) throw new LatticeError(ErrorCode.BadRequest, "scale to at least one instance (stop the actor to remove it)");
    this.target = n;
    const grow: Promise<void>[] = [];
    for (let i = this.slots.size; i < n; i++) grow.push(this.spawn());
    await Promise.all(grow);
    this.trim();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.queue.splice(0)) p.reject(new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} stopped`));
    await Promise.all([...this.slots].map((s) => this.retire(s)));
  }

  private async spawn(): Promise<void> {
    const bridge = createBridge((call) => {
      const fwd = this.opts.forward;
      if (!fwd) return Promise.reject(new Error(`no route for ${call.iface}`));
      return fwd(this.opts.actorId, call);
    });
    let worker: Worker;
    try {
      worker = await this.opts.workers.take(this.opts.component, this.forwarded);
    } catch (e) {
      bridge.close();
      if (e instanceof LatticeError) throw new LatticeError(e.code, `actor ${this.opts.actorId}: ${e.message}`);
      throw e;
    }
    if (this.stopped) {
      // Stopped while this instance was being made (a replacement racing stop()).
      bridge.close();
      await worker.terminate();
      return;
    }
    const slot: Slot = { worker, ready: false, closeBridge: bridge.close };
    this.slots.add(slot);
    worker.removeAllListeners("error");
    worker.on("error", (e) => this.onCrash(slot, e));
    worker.on("exit", () => this.onCrash(slot, new Error("worker exited")));
    await new Promise<void>((resolve) => {
      worker.on("message", (m: WorkerReply) => {
        if (m.type === "ready") {
          slot.ready = true;
          resolve();
          this.dispatch();
        } else {
          this.onMessage(slot, m);
        }
      });
      const bind: WorkerBind = { type: "bind", actorId: this.opts.actorId, config: this.opts.config ?? {}, bridge: bridge.worker, httpInstances: this.httpInstances };
      worker.postMessage(bind, [bridge.worker.port]);
    });
  }

  private onMessage(slot: Slot, m: WorkerReply): void {
    if (m.type === "log") {
      const fields = { actor: this.opts.actorId, context: m.context };
      const log = this.opts.log;
      if (m.level === "error" || m.level === "critical") log.error(m.message, fields);
      else if (m.level === "warn") log.warn(m.message, fields);
      else if (m.level === "info") log.info(m.message, fields);
      else log.debug(m.message, fields);
      return;
    }
    if (m.type !== "result") return;
    const cur = slot.current;
    if (!cur || cur.id !== m.id) return; // the answer to a call that already timed out
    clearTimeout(cur.timer);
    slot.current = undefined;
    const took = performance.now() - cur.started;
    this.serviceMs = this.serviceMs === 0 ? took : this.serviceMs + SERVICE_EWMA * (took - this.serviceMs);
    if (m.ok) cur.resolve(m.value);
    else {
      this.stats.failed++;
      if (m.kind === "trap") this.stats.traps++;
      // A failed host call keeps the code the host gave it (not_found for a missing link, timeout…).
      const code = m.kind === "host_error" && isErrorCode(m.code) ? m.code : FAILURE_CODE[m.kind];
      const err = new LatticeError(code, m.kind === "trap" ? `actor ${this.opts.actorId} trapped: ${m.message}` : m.message);
      if (m.payload !== undefined) err.payload = m.payload;
      cur.reject(err);
    }
    this.trim();
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.current) continue;
      const next = this.queue.shift()!;
      const left = next.inv.deadline - Date.now();
      if (left <= 0) {
        this.stats.timeouts++;
        next.reject(new LatticeError(ErrorCode.Timeout, `call to actor ${this.opts.actorId} expired while waiting for an instance`));
        continue;
      }
      const timer = setTimeout(() => this.onTimeout(slot), left);
      slot.current = { ...next, timer, started: performance.now() };
      const msg: WorkerCall = { type: "call", id: next.id, deadline: next.inv.deadline, callId: next.inv.callId, iface: next.inv.iface, fn: next.inv.fn, args: next.inv.args };
      slot.worker.postMessage(msg);
    }
  }

  private onTimeout(slot: Slot): void {
    const cur = slot.current;
    if (!cur) return;
    slot.current = undefined;
    this.stats.timeouts++;
    this.stats.failed++;
    cur.reject(new LatticeError(ErrorCode.Timeout, `actor ${this.opts.actorId} did not answer ${cur.inv.iface ? `${cur.inv.iface}.` : ""}${cur.inv.fn} before its deadline; its instance was replaced`));
    void this.replace(slot);
  }

  private onCrash(slot: Slot, e: Error): void {
    if (!this.slots.has(slot)) return; // retired on purpose
    const cur = slot.current;
    slot.current = undefined;
    if (cur) {
      clearTimeout(cur.timer);
      this.stats.failed++;
      cur.reject(new LatticeError(ErrorCode.Internal, `actor ${this.opts.actorId} instance crashed: ${e.message}`));
    }
    void this.replace(slot);
  }

  private async replace(slot: Slot): Promise<void> {
    if (!this.stopped) this.stats.replaced++;
    await this.retire(slot);
    if (this.stopped || this.slots.size >= this.target) return;
    try {
      await this.spawn();
    } catch (e) {
      this.opts.log.error("could not replace an actor instance", { actor: this.opts.actorId, error: String(e) });
    }
  }

  /** Retire idle instances beyond the target. */
  private trim(): void {
    for (const slot of this.slots) {
      if (this.slots.size <= this.target) return;
      if (!slot.current) void this.retire(slot);
    }
  }

  private async retire(slot: Slot): Promise<void> {
    if (!this.slots.delete(slot)) return;
    slot.closeBridge();
    slot.worker.removeAllListeners("exit");
    await slot.worker.terminate();
  }
}
