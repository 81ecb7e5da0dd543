/**
 * The instances of one actor on one host: a fixed number of workers (Node's worker threads or a
 * page's Web Workers: worker-handle.ts), each holding one component instance and running one call
 * at a time, with a bounded queue in front. A trap is handled inside the worker by a fresh instance.
 *
 * Nothing here waits on something that may never come. A call is answered by its deadline
 * whatever its instance does: a queued call is refused then even if no instance ever frees (a
 * timer watches the queue), a running one gets its timeout then. An instance still running its
 * call OVERRUN_GRACE_MS after that deadline is stuck (a guest in a loop): its worker is
 * terminated, the only way to stop it, and a fresh one takes the slot; one that finishes within
 * the grace (a guest whose host call ended at the deadline) keeps serving. An instance whose
 * worker does not get ready in time is replaced too, and a replacement that cannot be made is
 * tried again until it can: the pool never stays short of instances.
 *
 * The queue is bounded: a call that finds it full, or that would wait past its deadline for an
 * instance, is refused at once with `unavailable` (an HTTP edge answers 503) rather than queued
 * into a timeout. The bound is 8 calls per instance, and at least 32: as deep as the queue gets
 * under as many concurrent callers as that, so that offered more than it can serve, an actor
 * answers the calls it takes about as fast as it does at that concurrency. The wait is estimated
 * from the calls waiting and the recent time a call takes (a moving average).
 */
import { ErrorCode, LatticeError, isErrorCode, messageOf } from "../protocol/index.js";
import type { Logger } from "../protocol/logging.js";
import { HTTP_INSTANCE_MODES, type HttpInstances } from "./actor-metadata.js";
import type { CompiledComponent } from "./component-cache.js";
import { isLocalInterface } from "./local-interfaces.js";
import { unrefTimer, type WorkerHandle } from "./worker-handle.js";
import type { WorkerSupply } from "./worker-supply.js";
import type { ActorInstances, ActorLogSink, ImportForwarder, InstanceLoad, InstanceStats, Invocation } from "./runtime.js";
import type { CallFailureKind, WorkerBind, WorkerCall, WorkerReply } from "./worker-protocol.js";

export interface PoolOptions {
  actorId: string;
  component: CompiledComponent;
  instances: number;
  config?: Record<string, string>;
  /** Without one, a component importing anything not served locally cannot start. */
  forward?: ImportForwarder;
  log: Logger;
  /** Where the actor's own log records go (the host's log publisher); else to `log`. */
  logSink?: ActorLogSink;
  workers: WorkerSupply;
}

interface Pending {
  id: number;
  inv: Invocation;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Running extends Pending {
  timer: ReturnType<typeof setTimeout>;
  started: number;
  /** Past its deadline: the caller has had its timeout, and the instance the grace to finish. */
  overdue: boolean;
}

interface Slot {
  worker: WorkerHandle;
  ready: boolean;
  /** While the instance is being bound to the actor: ends its start (with why it failed). */
  starting?: (e?: Error) => void;
  current?: Running;
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
/** How long an instance may go on with a call past its deadline before it counts as stuck and is replaced. */
const OVERRUN_GRACE_MS = 1_000;
/** A worker that has not answered its bind by then never will (it died unseen, or hangs): replaced. */
const READY_TIMEOUT_MS = 30_000;
/** Waits between attempts to make a replacement instance: doubling from the first to the last. */
const RESPAWN_FIRST_MS = 500;
const RESPAWN_MAX_MS = 30_000;
/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function after(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
  return setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
}

/** `iface.fn`, or `fn` for a function the world exports. */
function callName(inv: Invocation): string {
  return inv.iface ? `${inv.iface}.${inv.fn}` : inv.fn;
}

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
  /** Refuses queued calls at their deadline: armed for the earliest one while any waits. */
  private expiry?: ReturnType<typeof setTimeout>;
  private expiryAt = Infinity;
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

  /** Start the pool; resolves once every instance is ready, rejects if one cannot start. */
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

  load(): InstanceLoad {
    let busy = 0;
    let stuck = 0;
    for (const slot of this.slots) {
      if (!slot.current) continue;
      busy++;
      if (slot.current.overdue) stuck++;
    }
    return { busy, queued: this.queue.length, stuck };
  }

  invoke(inv: Invocation): Promise<unknown> {
    if (this.stopped) return Promise.reject(new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} is stopping`));
    const wrong = this.opts.component.calls?.problem(inv.iface, inv.fn, inv.args);
    if (wrong) return Promise.reject(new LatticeError(ErrorCode.BadRequest, wrong));
    const refusal = this.overloaded(inv);
    if (refusal) {
      this.stats.refused++;
      return Promise.reject(refusal);
    }
    this.stats.calls++;
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, inv, resolve, reject });
      this.dispatch();
      // Still queued (it is the last in the queue): it must not outlive its deadline there.
      if (this.queue.length > 0) this.armExpiry(inv.deadline);
    });
  }

  /** Why a call cannot be taken now, if it cannot: it would wait too long for an instance. */
  private overloaded(inv: Invocation): LatticeError | undefined {
    if (this.queue.length === 0 && this.hasIdle()) return undefined;
    const instances = `its ${this.target} instance${this.target === 1 ? "" : "s"}`;
    if (this.queue.length >= (this.maxQueue ?? Math.max(MIN_QUEUE, QUEUE_PER_INSTANCE * this.target))) {
      return new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} is overloaded: ${this.queue.length} calls wait for ${instances}; try again shortly`);
    }
    const waitMs = ((this.queue.length + 1) * this.serviceMs) / Math.max(1, this.target);
    if (Date.now() + waitMs + this.serviceMs <= inv.deadline) return undefined;
    return new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} is overloaded: a call would wait about ${Math.ceil(waitMs)} ms for ${instances}, past its deadline`);
  }

  private hasIdle(): boolean {
    for (const slot of this.slots) if (slot.ready && !slot.current) return true;
    return false;
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
    clearTimeout(this.expiry);
    this.expiry = undefined;
    for (const p of this.queue.splice(0)) p.reject(new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} stopped`));
    await Promise.all([...this.slots].map((s) => this.retire(s)));
  }

  /** Add an instance; resolves once it is ready for calls, rejects (and drops it) if it cannot get there. */
  private async spawn(): Promise<void> {
    const bridge = this.opts.workers.bridge((call) => {
      const fwd = this.opts.forward;
      if (!fwd) return Promise.reject(new Error(`no route for ${call.iface}`));
      return fwd(this.opts.actorId, call);
    });
    let worker: WorkerHandle;
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
    const slot: Slot = { worker, ready: false, closeBridge: () => bridge.close() };
    this.slots.add(slot);
    worker.listen({
      message: (m: WorkerReply) => (m.type === "ready" ? this.onReady(slot) : this.onMessage(slot, m)),
      died: (e) => this.onCrash(slot, e),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => slot.starting?.(new Error(`its worker did not get ready within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
        slot.starting = (e) => {
          clearTimeout(timer);
          slot.starting = undefined;
          if (e) reject(e);
          else resolve();
        };
        const bind: WorkerBind = { type: "bind", actorId: this.opts.actorId, config: this.opts.config ?? {}, bridge: bridge.worker, httpInstances: this.httpInstances };
        worker.post(bind, bridge.transfer);
      });
    } catch (e) {
      void this.retire(slot);
      throw new LatticeError(ErrorCode.Internal, `actor ${this.opts.actorId}: an instance failed to start: ${messageOf(e)}`, { cause: e });
    }
  }

  private onReady(slot: Slot): void {
    if (!slot.starting) return;
    slot.ready = true;
    slot.starting();
    this.trim();
    this.dispatch();
  }

  private onMessage(slot: Slot, m: WorkerReply): void {
    if (m.type === "log") {
      // One call at a time per instance: the record belongs to the call its instance is serving.
      const traceparent = slot.current?.inv.traceparent;
      if (this.opts.logSink) return this.opts.logSink(m.level, m.context, m.message, traceparent);
      const fields = traceparent ? { actor: this.opts.actorId, context: m.context, traceparent } : { actor: this.opts.actorId, context: m.context };
      const log = this.opts.log;
      if (m.level === "error" || m.level === "critical") log.error(m.message, fields);
      else if (m.level === "warn") log.warn(m.message, fields);
      else if (m.level === "info") log.info(m.message, fields);
      else log.debug(m.message, fields);
      return;
    }
    if (m.type !== "result") return;
    const cur = slot.current;
    if (!cur || cur.id !== m.id) return;
    clearTimeout(cur.timer);
    slot.current = undefined;
    const took = performance.now() - cur.started;
    this.serviceMs = this.serviceMs === 0 ? took : this.serviceMs + SERVICE_EWMA * (took - this.serviceMs);
    // An overdue call's caller has had its timeout; the instance finished within the grace and stays.
    if (!cur.overdue) this.answer(cur, m);
    this.trim();
    this.dispatch();
  }

  private answer(cur: Running, m: WorkerReply & { type: "result" }): void {
    if (m.ok) return cur.resolve(m.value);
    this.stats.failed++;
    if (m.kind === "trap") this.stats.traps++;
    // A failed host call keeps the code the host gave it (not_found for a missing link, timeout…).
    const code = m.kind === "host_error" && isErrorCode(m.code) ? m.code : FAILURE_CODE[m.kind];
    const err = new LatticeError(code, m.kind === "trap" ? `actor ${this.opts.actorId} trapped: ${m.message}` : m.message);
    if (m.payload !== undefined) err.payload = m.payload;
    cur.reject(err);
  }

  /** Give idle instances the calls that wait; a call found past its deadline is refused, not run. */
  private dispatch(): void {
    if (this.queue.length === 0) return;
    for (const slot of this.slots) {
      if (!slot.ready || slot.current) continue;
      const next = this.nextLive();
      if (!next) return;
      this.run(slot, next);
    }
  }

  private nextLive(): Pending | undefined {
    for (let p = this.queue.shift(); p; p = this.queue.shift()) {
      if (p.inv.deadline > Date.now()) return p;
      this.stats.timeouts++;
      p.reject(this.expired());
    }
    return undefined;
  }

  private expired(): LatticeError {
    return new LatticeError(ErrorCode.Timeout, `call to actor ${this.opts.actorId} expired while waiting for an instance`);
  }

  private run(slot: Slot, p: Pending): void {
    const inv = p.inv;
    const msg: WorkerCall = { type: "call", id: p.id, deadline: inv.deadline, callId: inv.callId, ...(inv.traceparent ? { traceparent: inv.traceparent } : {}), iface: inv.iface, fn: inv.fn, args: inv.args };
    try {
      slot.worker.post(msg);
    } catch (e) {
      // Arguments that cannot be cloned to the worker (none that came off the wire): this call fails, the instance is untouched.
      this.stats.failed++;
      p.reject(new LatticeError(ErrorCode.BadRequest, `the arguments of ${callName(inv)} cannot be passed to an instance: ${messageOf(e)}`, { cause: e }));
      return;
    }
    const timer = after(inv.deadline - Date.now(), () => this.onDeadline(slot));
    slot.current = { id: p.id, inv, resolve: p.resolve, reject: p.reject, timer, started: performance.now(), overdue: false };
  }

  /** Keep a call that waits in the queue from outliving its deadline there. */
  private armExpiry(deadline: number): void {
    if (this.expiry && this.expiryAt <= deadline) return;
    clearTimeout(this.expiry);
    this.expiryAt = deadline;
    this.expiry = after(deadline - Date.now(), () => this.expire());
  }

  private expire(): void {
    this.expiry = undefined;
    this.expiryAt = Infinity;
    const now = Date.now();
    let kept = 0;
    let next = Infinity;
    for (const p of this.queue) {
      if (p.inv.deadline > now) {
        this.queue[kept++] = p;
        next = Math.min(next, p.inv.deadline);
      } else {
        this.stats.timeouts++;
        p.reject(this.expired());
      }
    }
    this.queue.length = kept;
    if (kept > 0) this.armExpiry(next);
  }

  /** The call's deadline: its caller gets a timeout, and its instance the grace to finish. */
  private onDeadline(slot: Slot): void {
    const cur = slot.current;
    if (!cur || cur.overdue) return;
    const left = cur.inv.deadline - Date.now();
    if (left > 0) {
      cur.timer = after(left, () => this.onDeadline(slot)); // a deadline further off than a timer reaches
      return;
    }
    cur.overdue = true;
    this.stats.timeouts++;
    this.stats.failed++;
    cur.reject(new LatticeError(ErrorCode.Timeout, `actor ${this.opts.actorId} did not answer ${callName(cur.inv)} before its deadline`));
    cur.timer = setTimeout(() => this.onStuck(slot), OVERRUN_GRACE_MS);
  }

  private onStuck(slot: Slot): void {
    const cur = slot.current;
    if (!cur?.overdue) return;
    slot.current = undefined;
    this.opts.log.warn(`an actor instance still ran ${callName(cur.inv)} ${OVERRUN_GRACE_MS} ms past its deadline: it is stuck, and replaced`, { actor: this.opts.actorId });
    void this.replace(slot);
  }

  private onCrash(slot: Slot, e: Error): void {
    if (!this.slots.has(slot)) return; // retired on purpose
    if (slot.starting) return slot.starting(e); // its spawn fails, and whoever spawned it decides
    const cur = slot.current;
    slot.current = undefined;
    if (cur) {
      clearTimeout(cur.timer);
      if (!cur.overdue) {
        this.stats.failed++;
        cur.reject(new LatticeError(ErrorCode.Internal, `actor ${this.opts.actorId} instance crashed: ${e.message}`));
      }
    }
    void this.replace(slot);
  }

  /** Put a fresh instance in the place of `slot`, trying again until one can be made. */
  private async replace(slot: Slot): Promise<void> {
    if (!this.stopped) this.stats.replaced++;
    // Not awaited: a worker slow to terminate must not hold back its replacement.
    void this.retire(slot);
    for (let wait = RESPAWN_FIRST_MS; !this.stopped && this.slots.size < this.target; wait = Math.min(2 * wait, RESPAWN_MAX_MS)) {
      try {
        await this.spawn();
        return;
      } catch (e) {
        if (this.stopped) return;
        this.opts.log.error(`could not replace an actor instance; trying again in ${wait / 1000} s`, { actor: this.opts.actorId, error: messageOf(e) });
        await new Promise((resolve) => unrefTimer(setTimeout(resolve, wait)));
      }
    }
  }

  /** Retire idle instances beyond the target. */
  private trim(): void {
    for (const slot of this.slots) {
      if (this.slots.size <= this.target) return;
      if (slot.ready && !slot.current) void this.retire(slot);
    }
  }

  /** Drop an instance: what it was doing fails (only stop() retires a busy one). */
  private async retire(slot: Slot): Promise<void> {
    if (!this.slots.delete(slot)) return;
    slot.starting?.(new Error(`actor ${this.opts.actorId} stopped`));
    const cur = slot.current;
    if (cur) {
      slot.current = undefined;
      clearTimeout(cur.timer);
      if (!cur.overdue) cur.reject(new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} stopped`));
    }
    slot.closeBridge();
    // Its log lines still count; its death is the one asked for.
    slot.worker.listen({ message: (m: WorkerReply) => m.type === "log" && this.onMessage(slot, m), died: () => undefined });
    await slot.worker.terminate();
  }
}
