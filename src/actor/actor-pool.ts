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
import { CallClaims } from "./call-claims.js";
import { isLocalInterface } from "./local-interfaces.js";
import { unrefTimer, type WorkerHandle } from "./worker-handle.js";
import type { WorkerSupply } from "./worker-supply.js";
import type { ActorInstances, ActorLogSink, ImportForwarder, InstanceLoad, InstanceStats, Invocation } from "./runtime.js";
import type { CallFailureKind, WorkerBind, WorkerCall, WorkerReply, WorkerResult } from "./worker-protocol.js";

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
  /** Its cell in its slot's claims. */
  cell: number;
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
  /** The call the instance serves (or, posted, serves first). */
  current?: Running;
  /** Calls posted to the worker behind `current`, which it runs in order once it is done. */
  behind: Running[];
  /** Which of its posted calls the worker may still run (call-claims.ts). */
  claims: CallClaims;
  closeBridge: () => void;
}

const FAILURE_CODE: Record<CallFailureKind, ErrorCode> = {
  trap: ErrorCode.Trap,
  expired: ErrorCode.Timeout,
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
/**
 * How much work (estimated, ms) may be posted to one instance's worker ahead of it. An instance
 * runs one call at a time, but when calls are short, posting several to one worker costs one
 * thread wake-up instead of one each: the worker goes from call to call without sleeping, and the
 * others stay asleep. On a machine with few cores those wake-ups (the woken worker taking the core
 * from the host thread that woke it) cost more than such calls. A call posted behind others waits
 * for them, so the depth is what fits this budget at the actor's recent time per call in its
 * worker: several for calls of a few microseconds, and 1 (no call behind another) from ~0.1 ms,
 * where a wake-up is a small part of a call (with a 1 ms budget the README's HTTP hello, hundreds
 * of microseconds a request in its guest, served 2,545 requests/s against 3,453 without).
 */
const PIPELINE_BUDGET_MS = 0.25;
const PIPELINE_MAX_DEPTH = 16;
/** Calls wait behind one that has run this long only until another instance is free. */
const TAKE_BACK_AFTER_MS = 10;
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

function workerCall(p: Pending, cell: number): WorkerCall {
  const inv = p.inv;
  return { type: "call", id: p.id, cell, deadline: inv.deadline, callId: inv.callId, ...(inv.traceparent ? { traceparent: inv.traceparent } : {}), iface: inv.iface, fn: inv.fn, args: inv.args };
}

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
  /** Moving average of the time a call takes, posted to answered, in ms (0 until one has answered). */
  private serviceMs = 0;
  /** Moving average of the time a call runs in its worker, in ms (0 until one has been timed). */
  private runMs = 0;
  private nextId = 1;
  /** A dispatch is due at the end of this task (dispatchSoon). */
  private dispatching = false;
  /** While calls wait behind others: a dispatch later, to take back those behind a slow one. */
  private revisit?: ReturnType<typeof setTimeout>;
  /** Calls posted behind others, over all slots. */
  private pipelined = 0;
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
    return { busy, queued: this.waiting(), stuck };
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
      this.armExpiry(inv.deadline);
      this.dispatchSoon();
    });
  }

  /** Calls that wait for an instance: in the queue, or posted behind another call. */
  private waiting(): number {
    return this.queue.length + this.pipelined;
  }

  /** Why a call cannot be taken now, if it cannot: it would wait too long for an instance. */
  private overloaded(inv: Invocation): LatticeError | undefined {
    if (this.queue.length === 0 && this.hasIdle()) return undefined;
    const instances = `its ${this.target} instance${this.target === 1 ? "" : "s"}`;
    const waiting = this.waiting();
    if (waiting >= (this.maxQueue ?? Math.max(MIN_QUEUE, QUEUE_PER_INSTANCE * this.target))) {
      return new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} is overloaded: ${waiting} calls wait for ${instances}; try again shortly`);
    }
    const waitMs = ((waiting + 1) * this.serviceMs) / Math.max(1, this.target);
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
    clearTimeout(this.revisit);
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
    const slot: Slot = { worker, ready: false, behind: [], claims: new CallClaims(), closeBridge: () => bridge.close() };
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
        const bind: WorkerBind = { type: "bind", actorId: this.opts.actorId, config: this.opts.config ?? {}, bridge: bridge.worker, httpInstances: this.httpInstances, claims: slot.claims.buffer };
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
    if (m.type === "result") this.settle(slot, m);
    else if (m.type === "results") for (const r of m.results) this.settle(slot, r);
    else return;
    this.trim();
    this.dispatch();
  }

  /** The outcome of `slot`'s current call: answer it, and the call behind it (if any) is current. */
  private settle(slot: Slot, m: WorkerResult): void {
    const cur = slot.current;
    if (!cur || cur.id !== m.id) return;
    clearTimeout(cur.timer);
    const now = performance.now();
    slot.current = this.nextBehind(slot, now);
    const took = now - cur.started;
    this.serviceMs = this.serviceMs === 0 ? took : this.serviceMs + SERVICE_EWMA * (took - this.serviceMs);
    if (m.ok) this.runMs = this.runMs === 0 ? m.ms : this.runMs + SERVICE_EWMA * (m.ms - this.runMs);
    // An overdue call's caller has had its timeout; the instance finished within the grace and stays.
    if (!cur.overdue) this.answer(cur, m);
  }

  private answer(cur: Running, m: WorkerResult): void {
    if (m.ok) return cur.resolve(m.value);
    this.stats.failed++;
    if (m.kind === "trap") this.stats.traps++;
    if (m.kind === "expired") this.stats.timeouts++;
    // A failed host call keeps the code the host gave it (not_found for a missing link, timeout…).
    const code = m.kind === "host_error" && isErrorCode(m.code) ? m.code : FAILURE_CODE[m.kind];
    const err = new LatticeError(code, m.kind === "trap" ? `actor ${this.opts.actorId} trapped: ${m.message}` : m.message);
    if (m.payload !== undefined) err.payload = m.payload;
    cur.reject(err);
  }

  /**
   * Post the calls that wait to instances, filling each worker up to the pipeline depth before
   * the next, in one message (so that short calls keep a few workers busy rather than waking them
   * all); a call found past its deadline is refused, not run. A call goes behind another only
   * while that one has run less than TAKE_BACK_AFTER_MS: what would go behind it then would be taken back.
   */
  private dispatch(): void {
    const now = performance.now();
    if (this.pipelined > 0) this.takeBackStale(now);
    this.fill(now);
    // Armed whenever calls wait behind others, whatever this dispatch found to post.
    if (this.pipelined > 0) this.revisit ??= unrefTimer(setTimeout(() => {
      this.revisit = undefined;
      this.dispatch();
    }, TAKE_BACK_AFTER_MS));
  }

  /** The posting part of dispatch(). */
  private fill(now: number): void {
    if (this.queue.length === 0) return;
    const depth = this.pipelineDepth();
    for (const slot of this.slots) {
      if (!slot.ready || slot.current?.overdue) continue;
      if (slot.current && now - slot.current.started >= TAKE_BACK_AFTER_MS) continue;
      const room = depth - slot.behind.length - (slot.current ? 1 : 0);
      const calls: Pending[] = [];
      for (let next = room > 0 ? this.nextLive() : undefined; next; next = calls.length < room ? this.nextLive() : undefined) calls.push(next);
      for (const running of this.post(slot, calls, now)) {
        if (!slot.current) slot.current = running;
        else {
          slot.behind.push(running);
          this.pipelined++;
        }
      }
      if (this.queue.length === 0) return;
    }
  }

  /**
   * Calls behind one that has run past TAKE_BACK_AFTER_MS go back to the front of the queue
   * (those the worker has not started), when an instance is free to take them.
   */
  private takeBackStale(now: number): void {
    if (!this.hasIdle()) return;
    const back: Pending[] = [];
    for (const slot of this.slots) {
      if (slot.behind.length === 0 || !slot.current || now - slot.current.started < TAKE_BACK_AFTER_MS) continue;
      slot.behind = slot.behind.filter((b) => {
        if (!slot.claims.takeBack(b.cell)) return true;
        clearTimeout(b.timer);
        back.push(b);
        return false;
      });
    }
    this.pipelined -= back.length;
    this.requeue(back);
  }

  /** Calls taken back from a worker: first in the queue, and refused there by their deadlines. */
  private requeue(back: Pending[]): void {
    if (back.length === 0) return;
    this.queue.unshift(...back);
    for (const p of back) this.armExpiry(p.inv.deadline);
  }

  /**
   * Dispatch the first call of a task at once and the rest once the calls that arrive together
   * (what one read of the socket brought) are all queued, so that they leave for a worker in
   * one message.
   */
  private dispatchSoon(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    this.dispatch(); // the first goes at once
    queueMicrotask(() => {
      this.dispatching = false;
      this.dispatch();
    });
  }

  /** How many calls one worker may hold (see PIPELINE_BUDGET_MS). */
  private pipelineDepth(): number {
    if (this.runMs === 0) return 1;
    return Math.max(1, Math.min(PIPELINE_MAX_DEPTH, Math.floor(PIPELINE_BUDGET_MS / this.runMs)));
  }

  /** The call posted behind `slot`'s current one, which its instance starts now. */
  private nextBehind(slot: Slot, now: number): Running | undefined {
    const next = slot.behind.shift();
    if (!next) return undefined;
    this.pipelined--;
    next.started = now;
    // Started by its worker after its deadline had it refused: it has only the grace to finish.
    if (next.overdue) next.timer = setTimeout(() => this.onStuck(slot), OVERRUN_GRACE_MS);
    return next;
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

  /** Post calls to `slot`'s worker (several in one message): what runs them from now on. */
  private post(slot: Slot, calls: Pending[], started: number): Running[] {
    if (calls.length === 0) return [];
    const cells = calls.map(() => slot.claims.issue());
    try {
      slot.worker.post(calls.length === 1 ? workerCall(calls[0]!, cells[0]!) : { type: "calls", calls: calls.map((p, i) => workerCall(p, cells[i]!)) });
    } catch (e) {
      if (calls.length > 1) return calls.flatMap((p) => this.post(slot, [p], started));
      // Arguments that cannot be cloned to the worker (none that came off the wire): this call fails, the instance is untouched.
      this.stats.failed++;
      calls[0]!.reject(new LatticeError(ErrorCode.BadRequest, `the arguments of ${callName(calls[0]!.inv)} cannot be passed to an instance: ${messageOf(e)}`, { cause: e }));
      return [];
    }
    return calls.map((p, i) => {
      const running: Running = { ...p, cell: cells[i]!, timer: after(p.inv.deadline - Date.now(), () => this.onDeadline(slot, running)), started, overdue: false };
      return running;
    });
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

  /**
   * A call's deadline: its caller gets a timeout, and an instance serving it the grace to finish;
   * a call still waiting behind another is taken back from its worker and refused as a queued one.
   */
  private onDeadline(slot: Slot, cur: Running): void {
    if (cur.overdue) return;
    const left = cur.inv.deadline - Date.now();
    if (left > 0) {
      cur.timer = after(left, () => this.onDeadline(slot, cur)); // a deadline further off than a timer reaches
      return;
    }
    if (slot.current !== cur && slot.claims.takeBack(cur.cell)) {
      // Still waiting behind another call: refused like a call waiting in the queue.
      slot.behind.splice(slot.behind.indexOf(cur), 1);
      this.pipelined--;
      this.stats.timeouts++;
      cur.reject(this.expired());
      return;
    }
    cur.overdue = true;
    this.stats.timeouts++;
    this.stats.failed++;
    cur.reject(new LatticeError(ErrorCode.Timeout, `actor ${this.opts.actorId} did not answer ${callName(cur.inv)} before its deadline`));
    if (slot.current === cur) cur.timer = setTimeout(() => this.onStuck(slot), OVERRUN_GRACE_MS);
  }

  private onStuck(slot: Slot): void {
    const cur = slot.current;
    if (!cur?.overdue) return;
    slot.current = undefined;
    this.opts.log.warn(`an actor instance still ran ${callName(cur.inv)} ${OVERRUN_GRACE_MS} ms past its deadline: it is stuck, and replaced`, { actor: this.opts.actorId });
    this.dropBehind(slot, () => new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId}: the instance this call waited for was stuck and is replaced; try again`));
    void this.replace(slot);
  }

  private onCrash(slot: Slot, e: Error): void {
    if (!this.slots.has(slot)) return; // retired on purpose
    if (slot.starting) return slot.starting(e); // its spawn fails, and whoever spawned it decides
    const cur = slot.current;
    slot.current = undefined;
    const crashed = () => new LatticeError(ErrorCode.Internal, `actor ${this.opts.actorId} instance crashed: ${e.message}`);
    if (cur) {
      clearTimeout(cur.timer);
      if (!cur.overdue) {
        this.stats.failed++;
        cur.reject(crashed());
      }
    }
    this.dropBehind(slot, crashed);
    void this.replace(slot);
  }

  /**
   * The calls posted behind `slot`'s current one, whose worker is going: those it never started
   * wait for another instance (unless the pool is stopping), one it did fails with `why`.
   */
  private dropBehind(slot: Slot, why: () => LatticeError): void {
    const back: Pending[] = [];
    for (const b of slot.behind.splice(0)) {
      this.pipelined--;
      clearTimeout(b.timer);
      if (b.overdue) continue;
      if (!this.stopped && slot.claims.takeBack(b.cell)) back.push(b);
      else {
        this.stats.failed++;
        b.reject(why());
      }
    }
    this.requeue(back);
    if (back.length > 0) queueMicrotask(() => this.dispatch());
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
    const stopped = () => new LatticeError(ErrorCode.Unavailable, `actor ${this.opts.actorId} stopped`);
    const cur = slot.current;
    if (cur) {
      slot.current = undefined;
      clearTimeout(cur.timer);
      if (!cur.overdue) cur.reject(stopped());
    }
    this.dropBehind(slot, stopped);
    slot.closeBridge();
    // Its log lines still count; its death is the one asked for.
    slot.worker.listen({ message: (m: WorkerReply) => m.type === "log" && this.onMessage(slot, m), died: () => undefined });
    await slot.worker.terminate();
  }
}
