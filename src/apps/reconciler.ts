/**
 * The app reconciler: runs in every host that wants to, but acts in one only (the holder of a
 * KV lease). Each pass compares every app's deployed manifest with what the hosts answer they
 * run, and issues the same control requests a user could (actor_scale, provider_start/stop,
 * link and config writes) until they agree. Passes run on lattice events, on app changes and
 * every interval, so a lost host is noticed within one interval.
 *
 * This module keeps the triggers, the timer and the lease. What a pass does for an app is
 * decided by the planner (app-plan.ts, pure: claim → up → relink → down → forget) and done by
 * the executor (executor.ts: lease check before each command, backoff, outcomes); the pass then
 * records the status.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { KvWatchInclude } from "@nats-io/kv";
import { LatticeClient } from "../ctl/lattice-client.js";
import type { Logger } from "../protocol/logging.js";
import { silentLogger } from "../protocol/logging.js";
import { LatticeState } from "../nats/lattice-state.js";
import {
  APP_KEY_PREFIX,
  ErrorCode,
  EventType,
  Subjects,
  encode,
  makeEvent,
  isLatticeError,
  messageOf,
  type AppRecord,
  type AppStatus,
  type AppStatusChanged,
  type HostInventory,
  type Link,
  type NamedConfig,
} from "../protocol/index.js";
import { finishStatus, planApp } from "./app-plan.js";
import { AppStore, canonical } from "./app-store.js";
import { Executor, LeaseLost } from "./executor.js";
import { KvLease } from "./lease.js";

export interface ReconcilerOptions {
  nc: NatsConnection;
  lattice: string;
  /** This host's id: the name it holds the lease under. */
  hostId: string;
  /** Hosts believed alive (a live view): one of them not answering pauses the pass. */
  liveHosts?: () => string[] | Promise<string[]>;
  /** JetStream domain of lattice state, for hosts on leaf nodes. */
  jsDomain?: string;
  /** Lease renewal and periodic pass interval (default 1 s); the lease lapses after 3. */
  intervalMs?: number;
  log?: Logger;
}

/** Events after which a pass is worth running at once. */
/** Subscribed to one by one: a wildcard would bring every host's heartbeats too. */
const TRIGGERS: readonly EventType[] = [
  EventType.HostStarted,
  EventType.HostStopped,
  EventType.ActorScaled,
  EventType.ActorStartFailed,
  EventType.ProviderStarted,
  EventType.ProviderStopped,
];
const DEBOUNCE_MS = 50;
const WATCH_RETRY_MS = 2_000;

export class AppReconciler {
  private readonly store: AppStore;
  private readonly state: LatticeState;
  private readonly client: LatticeClient;
  private readonly subjects: Subjects;
  private readonly lease: KvLease;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private ticker?: ReturnType<typeof setInterval>;
  private debounce?: ReturnType<typeof setTimeout>;
  private events: Subscription[] = [];
  private stopWatch?: () => void;
  private watching: Promise<void> = Promise.resolve();
  /** Ends the wait before the next watch (stop). */
  private wake?: () => void;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly executor: Executor;
  /** The last status written per app (without its time), so unchanged ones are not rewritten. */
  private readonly written = new Map<string, string>();
  /** The last phase and version announced per app, so each change is one `app_status` event. */
  private readonly announced = new Map<string, string>();
  /** Passes run and operations issued, for tests and benchmarks. */
  /** `lastPassMs`: how long the last pass that looked at apps took (inventories, plans, operations). */
  readonly stats = { passes: 0, operations: 0, failures: 0, lastPassMs: 0 };

  constructor(private readonly o: ReconcilerOptions) {
    this.store = new AppStore(o.nc, o.lattice, { domain: o.jsDomain });
    this.state = new LatticeState(o.nc, o.lattice, { domain: o.jsDomain });
    this.client = new LatticeClient(o.nc, o.lattice, { stallMs: 300 });
    this.subjects = new Subjects(o.lattice);
    this.intervalMs = o.intervalMs ?? 1_000;
    this.lease = new KvLease(() => this.store.open(), o.hostId, 3 * this.intervalMs);
    this.log = o.log ?? silentLogger;
    this.executor = new Executor({
      client: this.client,
      state: this.state,
      leading: () => this.lease.leading,
      writeStatus: (status, force) => this.write(status, force),
      forget: (app) => this.store.forget(app),
      log: this.log,
      stats: this.stats,
    });
  }

  start(): this {
    this.events = TRIGGERS.map((type) => this.o.nc.subscribe(this.subjects.event(type), { callback: (err) => void (err || this.soon()) }));
    this.ticker = setInterval(() => void this.tick(), this.intervalMs);
    void this.tick();
    this.watching = this.watchApps();
    return this;
  }

  /** A deploy, rollback or undeploy starts a pass at once rather than at the next interval. */
  private async watchApps(): Promise<void> {
    // A closed connection never comes back: watching again would only keep the process alive.
    const over = () => this.stopped || this.o.nc.isClosed();
    while (!over()) {
      try {
        const watch = await (await this.store.open()).watch({ key: `${APP_KEY_PREFIX}>`, include: KvWatchInclude.UpdatesOnly });
        this.stopWatch = () => watch.stop();
        if (over()) watch.stop();
        for await (const entry of watch) if (entry.key.startsWith(APP_KEY_PREFIX)) this.soon();
      } catch {
        // The bucket is unreachable: passes still come every interval; watch again later.
      }
      if (!over()) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, WATCH_RETRY_MS).unref()));
    }
  }

  /** Stop reconciling; hand the lease over at once if this host held it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.debounce);
    for (const s of this.events.splice(0)) s.unsubscribe();
    this.stopWatch?.();
    this.wake?.();
    // Its watch must not be half made when the connection closes (StateCache.stop says why).
    await Promise.all([this.running, this.watching]);
    await this.lease.release();
  }

  /** Whether this host is the lattice's active reconciler. */
  get leading(): boolean {
    return this.lease.leading;
  }

  /** Which host holds the lease, as last seen. */
  get leader(): string | undefined {
    return this.lease.current;
  }

  private async tick(): Promise<void> {
    const was = this.lease.leading;
    const now = await this.lease.tick();
    if (now !== was) this.log.info(now ? "reconciling apps: this host holds the lease" : "no longer reconciling apps", { leader: this.lease.current });
    if (now) this.soon(0);
  }

  /** Run a pass shortly; passes never overlap, and asks during one make one more after it. */
  private soon(delayMs = DEBOUNCE_MS): void {
    if (this.stopped || !this.lease.leading) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = this.passes().finally(() => (this.running = undefined));
    }, delayMs);
  }

  private async passes(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pass();
      } catch (e) {
        if (e instanceof LeaseLost) this.log.info("the reconciler lease ran out during a pass: stopped before the next operation");
        else this.log.warn("app reconciliation pass failed", { error: messageOf(e) });
      }
    } while (this.again && !this.stopped && this.lease.leading);
  }

  private async pass(): Promise<void> {
    const records = await this.store.records();
    if (records.length === 0 || !this.lease.leading) return;
    this.stats.passes++;
    const began = performance.now();
    const hosts = await this.liveInventories();
    if (!hosts) return;
    this.executor.forgetOldRefusals();
    const [links, configs] = await Promise.all([this.state.links(), this.state.configs()]);
    const statuses = new Map<string, AppStatus | undefined>();
    for (const r of records) statuses.set(r.name, await this.store.status(r.name));
    for (const r of records) {
      if (this.stopped || !this.lease.leading) return;
      await this.reconcile(r, statuses, hosts, links, configs);
    }
    this.stats.lastPassMs = performance.now() - began;
  }

  /**
   * Every host's inventory, or undefined when a host that is alive by its heartbeats did not
   * answer: acting on a partial picture would start replacements for instances that still run.
   * A host that has no responders any more (its process died) is simply gone.
   */
  private async liveInventories(): Promise<HostInventory[] | undefined> {
    const g = await this.client.inventories();
    const answered = new Set(g.replies.map((i) => i.host.id));
    for (const id of (await this.o.liveHosts?.()) ?? []) {
      if (answered.has(id)) continue;
      try {
        g.replies.push(await this.client.inventory(id));
      } catch (e) {
        if (isLatticeError(e) && e.code === ErrorCode.NotFound) continue;
        this.log.debug("a live host did not answer; reconciliation waits", { host: id, error: String(e) });
        return undefined;
      }
    }
    return g.replies;
  }

  /** One app: plan what the pass does, execute it, record the outcome. */
  private async reconcile(record: AppRecord, statuses: Map<string, AppStatus | undefined>, hosts: HostInventory[], links: Link[], configs: NamedConfig[]): Promise<void> {
    const plan = await planApp({
      record,
      manifest: record.deployed ? await this.store.manifest(record.name, record.deployed) : undefined,
      previous: statuses.get(record.name),
      others: [...statuses.values()],
      hosts,
      links,
      configs,
      refused: (id, ref) => this.executor.refused(record.name, id, ref),
      reconciler: this.o.hostId,
      now: new Date(),
    });
    const forgotten = await this.executor.execute(plan);
    if (!forgotten) return this.write(finishStatus(plan.draft));
    this.written.delete(record.name);
    this.announce({ name: record.name, version: null, phase: "removed", reasons: [] });
    this.announced.delete(record.name);
    this.log.info("app undeployed", { app: record.name });
  }

  private async write(status: AppStatus, force = false): Promise<void> {
    const key = canonical({ ...status, updatedAt: "" });
    if (!force && this.written.get(status.name) === key) return;
    this.executor.assertLeading();
    await this.store.putStatus(status);
    this.written.set(status.name, key);
    const reasons = [...status.reasons, ...status.components.flatMap((c) => c.reasons.map((r) => `${c.id}: ${r}`))];
    this.announce({ name: status.name, version: status.version, phase: status.phase, reasons: status.phase === "deployed" ? [] : reasons.slice(0, 8) });
  }

  /** An `app_status` event when the app's phase or version is not the one last announced. */
  private announce(data: AppStatusChanged): void {
    const key = `${data.version} ${data.phase}`;
    if (this.announced.get(data.name) === key) return;
    this.announced.set(data.name, key);
    try {
      this.o.nc.publish(this.subjects.event(EventType.AppStatus), encode(makeEvent(EventType.AppStatus, this.o.hostId, data)));
    } catch {
      // Only a closed connection refuses a publish: the host is stopping.
    }
  }
}

