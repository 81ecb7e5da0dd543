/**
 * The app reconciler: runs in every host that wants to, but acts in one only (the holder of a
 * KV lease). Each pass compares every app's deployed manifest with what the hosts answer they
 * run, and issues the same control requests a user could (actor_scale, provider_start/stop,
 * link and config writes) until they agree. Passes run on lattice events, on app changes and
 * every interval, so a lost host is noticed within one interval.
 *
 * Order within a pass keeps calls flowing: configs, providers and actors are brought up first
 * (a new actor version replaces the old on each host only once its instances serve), links are
 * re-pointed after, and only then is what the app no longer declares taken down.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { KvWatchInclude } from "@nats-io/kv";
import { LatticeClient } from "../ctl/lattice-client.js";
import { isRefusal, toWireError } from "../ctl/placement.js";
import type { Logger } from "../host/logger.js";
import { silentLogger } from "../host/logger.js";
import { LatticeState } from "../nats/lattice-state.js";
import {
  APP_KEY_PREFIX,
  ErrorCode,
  EventType,
  Subjects,
  encode,
  makeEvent,
  formatArtifactRef,
  isLatticeError,
  parseArtifactRef,
  type AppPhase,
  type AppRecord,
  type AppStatus,
  type AppStatusChanged,
  type ComponentStatus,
  type HostInventory,
  type Link,
  type ManifestComponent,
  type NamedConfig,
  type OwnedResources,
} from "../protocol/index.js";
import { AppStore, canonical } from "./app-store.js";
import { NOTHING, desiredState, isEmpty, minus, specOf, union } from "./desired.js";
import { KvLease } from "./lease.js";
import { planComponent, type ComponentPlan, type Refusals } from "./plan.js";

export interface ReconcilerOptions {
  nc: NatsConnection;
  lattice: string;
  /** This host's id: the name it holds the lease under. */
  hostId: string;
  /** Hosts believed alive (the host's view): one of them not answering pauses the pass. */
  liveHosts?: () => string[];
  /** JetStream domain of lattice state, for hosts on leaf nodes. */
  jsDomain?: string;
  /** Lease renewal and periodic pass interval (default 1 s); the lease lapses after 3. */
  intervalMs?: number;
  log?: Logger;
}

/** Events after which a pass is worth running at once. */
const TRIGGERS = new Set<string>([
  EventType.HostStarted,
  EventType.HostStopped,
  EventType.ActorScaled,
  EventType.ActorStartFailed,
  EventType.ProviderStarted,
  EventType.ProviderStopped,
]);
const DEBOUNCE_MS = 50;
const MAX_BACKOFF_MS = 30_000;
/**
 * How long a host that refused to start a component is left out of its placement. Once the
 * instances run elsewhere, asking again is harmless: a placement keeps what runs, so the host is
 * only asked if it is needed.
 */
const REFUSAL_TTL_MS = 30_000;
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
  private events?: Subscription;
  private stopWatch?: () => void;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  /** Failing operations wait before their next try: key → failures and when to try again. */
  private readonly backoff = new Map<string, { failures: number; until: number; error: string }>();
  /** The last status written per app (without its time), so unchanged ones are not rewritten. */
  private readonly written = new Map<string, string>();
  /** The last phase and version announced per app, so each change is one `app_status` event. */
  private readonly announced = new Map<string, string>();
  /** Hosts that refused to start a component, by `app component ref`: host id → answer and until when. */
  private readonly refusals = new Map<string, Map<string, { reason: string; until: number }>>();
  /** Passes run and operations issued, for tests and benchmarks. */
  readonly stats = { passes: 0, operations: 0, failures: 0 };

  constructor(private readonly o: ReconcilerOptions) {
    this.store = new AppStore(o.nc, o.lattice, { domain: o.jsDomain });
    this.state = new LatticeState(o.nc, o.lattice, { domain: o.jsDomain });
    this.client = new LatticeClient(o.nc, o.lattice, { stallMs: 300 });
    this.subjects = new Subjects(o.lattice);
    this.intervalMs = o.intervalMs ?? 1_000;
    this.lease = new KvLease(() => this.store.open(), o.hostId, 3 * this.intervalMs);
    this.log = o.log ?? silentLogger;
  }

  start(): this {
    this.events = this.o.nc.subscribe(this.subjects.eventsWildcard(), {
      callback: (err, msg) => {
        if (!err && TRIGGERS.has(this.subjects.eventTypeOf(msg.subject))) this.soon();
      },
    });
    this.ticker = setInterval(() => void this.tick(), this.intervalMs);
    void this.tick();
    void this.watchApps();
    return this;
  }

  /** A deploy, rollback or undeploy starts a pass at once rather than at the next interval. */
  private async watchApps(): Promise<void> {
    while (!this.stopped) {
      try {
        const watch = await (await this.store.open()).watch({ key: `${APP_KEY_PREFIX}>`, include: KvWatchInclude.UpdatesOnly });
        this.stopWatch = () => watch.stop();
        if (this.stopped) watch.stop();
        for await (const entry of watch) if (entry.key.startsWith(APP_KEY_PREFIX)) this.soon();
      } catch {
        // The bucket is unreachable: passes still come every interval; watch again later.
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, WATCH_RETRY_MS));
    }
  }

  /** Stop reconciling; hand the lease over at once if this host held it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.debounce);
    this.events?.unsubscribe();
    this.stopWatch?.();
    await this.running;
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
        else this.log.warn("app reconciliation pass failed", { error: e instanceof Error ? e.message : String(e) });
      }
    } while (this.again && !this.stopped && this.lease.leading);
  }

  private async pass(): Promise<void> {
    const records = await this.store.records();
    if (records.length === 0 || !this.lease.leading) return;
    this.stats.passes++;
    const hosts = await this.liveInventories();
    if (!hosts) return;
    this.forgetOldRefusals();
    const [links, configs] = await Promise.all([this.state.links(), this.state.configs()]);
    const statuses = new Map<string, AppStatus | undefined>();
    for (const r of records) statuses.set(r.name, await this.store.status(r.name));
    for (const r of records) {
      if (this.stopped || !this.lease.leading) return;
      await this.reconcile(r, statuses, hosts, links, configs);
    }
  }

  /**
   * Every host's inventory, or undefined when a host that is alive by its heartbeats did not
   * answer: acting on a partial picture would start replacements for instances that still run.
   * A host that has no responders any more (its process died) is simply gone.
   */
  private async liveInventories(): Promise<HostInventory[] | undefined> {
    const g = await this.client.inventories();
    const answered = new Set(g.replies.map((i) => i.host.id));
    for (const id of this.o.liveHosts?.() ?? []) {
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

  private async reconcile(record: AppRecord, statuses: Map<string, AppStatus | undefined>, hosts: HostInventory[], links: Link[], configs: NamedConfig[]): Promise<void> {
    const previous = statuses.get(record.name);
    const manifest = record.deployed ? await this.store.manifest(record.name, record.deployed) : undefined;
    const reasons: string[] = [];
    if (record.deployed && !manifest) reasons.push(`manifest of version ${record.deployed} is missing from the app store`);
    const desired = desiredState(manifest);
    // What other apps hold is not this app's to change.
    const others = [...statuses.values()].filter((s) => s && s.name !== record.name).map((s) => s!.owned);
    const taken = (kind: "actors" | "providers", id: string) => others.some((o) => o[kind].includes(id));
    const components = (manifest?.components ?? []).filter((c) => {
      const kind = c.actor !== undefined ? "actors" : "providers";
      if (!taken(kind, c.id)) return true;
      reasons.push(`component ${c.id} belongs to another app`);
      return false;
    });
    const wanted: OwnedResources = {
      ...desired.owned,
      actors: desired.owned.actors.filter((id) => components.some((c) => c.id === id)),
      providers: desired.owned.providers.filter((id) => components.some((c) => c.id === id)),
    };

    // Claim before creating: whatever this pass starts is recorded as the app's, even if the
    // pass (or this host) dies halfway.
    const owned = union(previous?.owned ?? NOTHING, wanted);
    const status: AppStatus = {
      name: record.name,
      version: record.deployed,
      phase: record.deployed ? "reconciling" : "undeploying",
      reasons,
      // Until this pass has looked at them, the components as last seen: a reconciler taking
      // over mid-pass must find what was last applied (their specs), or it would re-apply all.
      components: previous?.components ?? [],
      owned,
      reconciler: this.o.hostId,
      updatedAt: new Date().toISOString(),
    };
    if (canonical(owned) !== canonical(previous?.owned ?? NOTHING)) await this.write(status, true);

    for (const [name, values] of desired.configs) {
      const have = configs.find((c) => c.name === name);
      if (!have || canonical(have.values) !== canonical(values)) await this.attempt(record.name, `write config ${name}`, reasons, () => this.state.putConfig(name, values));
    }
    const previousSpecs = new Map((previous?.components ?? []).map((c) => [c.id, c.spec]));
    const outcomes: Outcome[] = [];
    for (const c of components.filter((x) => x.provider !== undefined)) outcomes.push(await this.provider(record.name, c, hosts, previousSpecs.get(c.id)));
    for (const c of components.filter((x) => x.actor !== undefined)) outcomes.push(await this.actor(record.name, c, hosts, previousSpecs.get(c.id)));
    status.components = outcomes.map((o) => o.status);
    for (const l of desired.links) {
      const have = links.find((x) => x.source === l.source && x.interface === l.interface && x.name === l.name);
      if (!have || have.target !== l.target || canonical(have.config) !== canonical(l.config)) {
        await this.attempt(record.name, `link ${l.source} to ${l.target} on ${l.interface} (${l.name})`, reasons, () => this.state.putLink(l));
      }
    }

    // Take down what the app no longer declares; forget each thing once it is gone. An actor or
    // provider is gone when no inventory shows it, not when the stop request returns: a host
    // still draining calls answers a stop late, and the gathered replies end without it.
    const remove = minus(owned, wanted);
    const kept = { ...owned };
    for (const id of remove.actors) {
      if (!hosts.some((h) => h.actors.some((a) => a.id === id))) kept.actors = kept.actors.filter((x) => x !== id);
      else await this.attempt(record.name, `stop actor ${id}`, reasons, () => this.client.stopActor(id));
    }
    for (const id of remove.providers) {
      if (!hosts.some((h) => h.providers.some((p) => p.id === id && p.state !== "stopped"))) kept.providers = kept.providers.filter((x) => x !== id);
      else await this.attempt(record.name, `stop provider ${id}`, reasons, () => this.client.stopProvider(id));
    }
    for (const l of remove.links) {
      if (await this.attempt(record.name, `unlink ${l.source} on ${l.interface} (${l.name})`, reasons, () => this.state.deleteLink(l.source, l.interface, l.name))) {
        kept.links = kept.links.filter((x) => x !== l);
      }
    }
    for (const name of remove.configs) {
      if (await this.attempt(record.name, `remove config ${name}`, reasons, () => this.state.deleteConfig(name))) kept.configs = kept.configs.filter((x) => x !== name);
    }
    status.owned = kept;

    if (!record.deployed && isEmpty(kept)) {
      this.assertLeading();
      await this.store.forget(record.name);
      this.written.delete(record.name);
      this.announce({ name: record.name, version: null, phase: "removed", reasons: [] });
      this.announced.delete(record.name);
      this.log.info("app undeployed", { app: record.name });
      return;
    }
    status.phase = phaseOf(status, outcomes);
    await this.write(status);
  }

  private async actor(app: string, c: ManifestComponent, hosts: HostInventory[], previousSpec: string | undefined): Promise<Outcome> {
    const ref = formatArtifactRef(parseArtifactRef(c.actor!));
    const spec = await specOf(ref, c.config);
    const refusals = `${app} ${c.id} ${ref}`;
    const plan = planComponent(c, hosts, this.refused(refusals));
    const running = runningActor(c.id, hosts);
    const failures: string[] = [];
    const refs = new Map(hosts.flatMap((h) => h.actors.filter((a) => a.id === c.id).map((a) => [h.host.id, a.ref] as const)));
    const stale = previousSpec !== spec;
    const request = (instances: number) => ({ actorId: c.id, ref, instances, config: c.config ?? {}, constraints: c.placement?.labels ?? {} });
    let allApplied = true;
    const apply = async (hostId: string, n: number) => {
      const ok = await this.attempt(app, `run ${n} of actor ${c.id} on host ${nameOf(hosts, hostId)}`, failures, () =>
        this.noteRefusal(refusals, hostId, n > 0, this.client.scaleOnHost(hostId, request(n))),
      );
      if (ok) running.set(hostId, n);
      else allApplied = false;
    };
    // Up first (new hosts, more instances, a new version or config in place), then down.
    const up = [...plan.desired].filter(([h, n]) => (running.get(h) ?? 0) < n || ((running.get(h) ?? 0) > 0 && (refs.get(h) !== ref || stale)));
    await Promise.all(up.map(([h, n]) => apply(h, n)));
    const down = [...running].filter(([h, n]) => n > (plan.desired.get(h) ?? 0));
    await Promise.all(down.map(([h]) => apply(h, plan.desired.get(h) ?? 0)));
    return outcome(c, ref, allApplied ? spec : previousSpec, plan, running, failures);
  }

  private async provider(app: string, c: ManifestComponent, hosts: HostInventory[], previousSpec: string | undefined): Promise<Outcome> {
    const ref = c.provider!;
    const spec = await specOf(ref, c.config);
    const refusals = `${app} ${c.id} ${ref}`;
    const plan = planComponent(c, hosts, this.refused(refusals));
    const failures: string[] = [];
    const entries = new Map(hosts.flatMap((h) => h.providers.filter((p) => p.id === c.id && p.state !== "stopped").map((p) => [h.host.id, p] as const)));
    const running = new Map([...entries.keys()].map((h) => [h, 1]));
    const stale = previousSpec !== spec;
    let allApplied = true;
    const start = async (hostId: string) => {
      const had = entries.get(hostId);
      const ok = await this.attempt(app, `start provider ${c.id} on host ${nameOf(hosts, hostId)}`, failures, async () => {
        // A provider process cannot change ref or config in place: restart it.
        if (had && (had.ref !== ref || stale)) await this.client.stopProviderOn(hostId, c.id);
        await this.noteRefusal(refusals, hostId, true, this.client.startProviderOn(hostId, { providerId: c.id, ref, ...(c.config ? { config: c.config } : {}) }));
      });
      if (ok) running.set(hostId, 1);
      else allApplied = false;
    };
    const up = [...plan.desired.keys()].filter((h) => !entries.has(h) || entries.get(h)!.ref !== ref || stale);
    await Promise.all(up.map(start));
    const down = [...entries.keys()].filter((h) => !plan.desired.has(h));
    await Promise.all(
      down.map(async (h) => {
        if (await this.attempt(app, `stop provider ${c.id} on host ${nameOf(hosts, h)}`, failures, () => this.client.stopProviderOn(h, c.id))) running.delete(h);
      }),
    );
    return outcome(c, ref, allApplied ? spec : previousSpec, plan, running, failures);
  }

  /** The hosts that refused to start this component (`app component ref`) lately, with their answers. */
  private refused(key: string): Refusals {
    return new Map([...(this.refusals.get(key) ?? [])].map(([h, r]) => [h, r.reason]));
  }

  /** Refusals older than REFUSAL_TTL_MS are forgotten: the host is asked again when it is needed. */
  private forgetOldRefusals(): void {
    const now = Date.now();
    for (const [key, hosts] of this.refusals) {
      for (const [h, r] of hosts) if (r.until <= now) hosts.delete(h);
      if (hosts.size === 0) this.refusals.delete(key);
    }
  }

  /** A start that the host refuses (claims, policy, nothing to run it with) keeps that host out of the placement for a while. */
  private async noteRefusal<T>(key: string, hostId: string, starting: boolean, op: Promise<T>): Promise<T> {
    try {
      return await op;
    } catch (e) {
      const error = toWireError(e);
      if (starting && isRefusal(error)) {
        const hosts = this.refusals.get(key) ?? new Map<string, { reason: string; until: number }>();
        hosts.set(hostId, { reason: `${error.code}: ${error.message}`, until: Date.now() + REFUSAL_TTL_MS });
        this.refusals.set(key, hosts);
      }
      throw e;
    }
  }

  /**
   * Run one operation unless it is backing off after failures; resolves with whether it
   * succeeded. Failures become reasons (`what: error`) in the app's status.
   */
  private async attempt(app: string, what: string, reasons: string[], op: () => Promise<unknown>): Promise<boolean> {
    const key = `${app} ${what}`;
    const b = this.backoff.get(key);
    if (b && Date.now() < b.until) {
      reasons.push(`${b.error} (next try in ${Math.ceil((b.until - Date.now()) / 1000)} s)`);
      return false;
    }
    this.assertLeading();
    this.stats.operations++;
    try {
      await op();
      this.backoff.delete(key);
      return true;
    } catch (e) {
      this.stats.failures++;
      const failures = (b?.failures ?? 0) + 1;
      const error = `${what}: ${e instanceof Error ? e.message : String(e)}`;
      this.backoff.set(key, { failures, until: Date.now() + Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures), error });
      reasons.push(error);
      this.log.warn("app operation failed", { app, error });
      return false;
    }
  }

  private async write(status: AppStatus, force = false): Promise<void> {
    const key = canonical({ ...status, updatedAt: "" });
    if (!force && this.written.get(status.name) === key) return;
    this.assertLeading();
    await this.store.putStatus(status);
    this.written.set(status.name, key);
    const reasons = [...status.reasons, ...status.components.flatMap((c) => c.reasons.map((r) => `${c.id}: ${r}`))];
    this.announce({ name: status.name, version: status.version, phase: status.phase, reasons: status.phase === "deployed" ? [] : reasons.slice(0, 8) });
  }

  /**
   * Every operation and status write checks the lease first: a pass can outlast the term it
   * started in (a slow start, a blocked event loop), and another host may lead by then. An
   * operation already sent completes; none follows it.
   */
  private assertLeading(): void {
    if (!this.lease.leading) throw new LeaseLost();
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

function nameOf(hosts: HostInventory[], hostId: string): string {
  return hosts.find((h) => h.host.id === hostId)?.host.name ?? hostId;
}

function runningActor(id: string, hosts: HostInventory[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of hosts) {
    const n = h.actors.find((a) => a.id === id)?.instances ?? 0;
    if (n > 0) out.set(h.host.id, n);
  }
  return out;
}

/** A component's status, and whether an operation failed or part of it has nowhere to go. */
interface Outcome {
  status: ComponentStatus;
  failed: boolean;
  unplaced: boolean;
}

/** `failures`: operations of this pass that failed or are backing off. Skipped hosts are said, not failures. */
function outcome(c: ManifestComponent, ref: string, spec: string | undefined, plan: ComponentPlan, running: Map<string, number>, failures: string[]): Outcome {
  const positive = (m: Map<string, number>) => Object.fromEntries([...m].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)));
  return {
    status: {
      id: c.id,
      kind: c.actor !== undefined ? "actor" : "provider",
      ref,
      ...(spec ? { spec } : {}),
      desired: positive(plan.desired),
      running: positive(running),
      reasons: [...plan.reasons, ...failures, ...plan.skipped].slice(0, 64),
    },
    failed: failures.length > 0,
    unplaced: plan.reasons.length > 0,
  };
}

class LeaseLost extends Error {}

/** A failing operation outranks an unplaceable share, which outranks work in progress. */
function phaseOf(s: AppStatus, outcomes: Outcome[]): AppPhase {
  if (s.version === null) return "undeploying";
  if (s.reasons.length > 0 || outcomes.some((o) => o.failed)) return "failed";
  if (outcomes.some((o) => o.unplaced)) return "unsatisfied";
  return s.components.every((c) => canonical(c.desired) === canonical(c.running)) ? "deployed" : "reconciling";
}
