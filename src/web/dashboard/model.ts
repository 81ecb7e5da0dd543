/**
 * What the dashboard knows of the lattice, and the pure arithmetic over it: hosts from events
 * and inventories, actors and providers summed over hosts, call rates from successive
 * inventories, the bounded event list. No DOM and no NATS here.
 */
import type { ActorEntry, AnyCloudEvent, AppRecord, AppStatus, HostInfo, HostInventory, InventorySummary, Link, ProviderEntry } from "../../protocol/index.js";

/** Events kept, latest first. */
export const MAX_EVENTS = 200;

/** A host is dropped once it has missed this many of its heartbeats (as LatticeView does). */
export const EXPIRY_BEATS = 3;

export interface HostState {
  info: HostInfo;
  /** From its last heartbeat. */
  summary?: InventorySummary;
  /** Its last inventory answer. */
  inventory?: HostInventory;
  /** When it was last heard of (page clock, ms), and when its info was: uptime goes on from there. */
  seenAt: number;
}

export interface ActorRow {
  id: string;
  ref: string;
  total: number;
  hosts: Array<{ hostId: string; hostName: string; instances: number; busy: number; queued: number }>;
  /** Calls per second over all its hosts; undefined until two inventories (or when no host counts calls). */
  rate?: number;
}

export interface ProviderRow {
  entry: ProviderEntry;
  hostId: string;
  hostName: string;
}

export interface AppRow {
  record: AppRecord;
  status?: AppStatus;
}

export interface EventRow {
  id: string;
  time: string;
  type: string;
  source: string;
  summary: string;
  error?: boolean;
}

interface CallSample {
  calls: number;
  at: number;
}

export class DashboardModel {
  readonly hosts = new Map<string, HostState>();
  links: Link[] = [];
  apps: AppRow[] = [];
  events: EventRow[] = [];
  artifacts: string[] = [];
  /** Last call counter per `host actor`, and the rate it gave. */
  private readonly samples = new Map<string, CallSample>();
  private readonly rates = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** host_started, host_heartbeat, a ping: who the host is (and what it counts). */
  seeHost(info: HostInfo, summary?: InventorySummary): void {
    const h = this.hosts.get(info.id);
    if (h) {
      h.info = info;
      h.seenAt = this.now();
      if (summary) h.summary = summary;
    } else this.hosts.set(info.id, { info, summary, seenAt: this.now() });
  }

  removeHost(id: string): void {
    this.hosts.delete(id);
    for (const k of [...this.samples.keys()]) if (k.startsWith(`${id} `)) this.samples.delete(k);
    for (const k of [...this.rates.keys()]) if (k.startsWith(`${id} `)) this.rates.delete(k);
  }

  /** An inventory answer: what the host runs now, and its call counters. */
  seeInventory(inv: HostInventory): void {
    const at = this.now();
    this.seeHost(inv.host, { actors: inv.actors.length, providers: inv.providers.length });
    this.hosts.get(inv.host.id)!.inventory = inv;
    const running = new Set<string>();
    for (const a of inv.actors) {
      const key = `${inv.host.id} ${a.id}`;
      running.add(key);
      const calls = a.load?.calls;
      if (calls === undefined) continue;
      const prev = this.samples.get(key);
      // A counter that went back is a restarted actor: start over from it.
      if (prev && calls >= prev.calls && at > prev.at) this.rates.set(key, ((calls - prev.calls) * 1000) / (at - prev.at));
      this.samples.set(key, { calls, at });
    }
    for (const k of [...this.samples.keys()]) {
      if (k.startsWith(`${inv.host.id} `) && !running.has(k)) {
        this.samples.delete(k);
        this.rates.delete(k);
      }
    }
  }

  /** actor_scaled: the count changes at once; the next inventory fills in the rest. */
  seeScaled(hostId: string, actorId: string, ref: string, digest: string, instances: number): void {
    const inv = this.hosts.get(hostId)?.inventory;
    if (!inv) return;
    const i = inv.actors.findIndex((a) => a.id === actorId);
    if (instances === 0) {
      if (i >= 0) inv.actors.splice(i, 1);
      return;
    }
    if (i >= 0) inv.actors[i] = { ...inv.actors[i]!, instances, ref, digest };
    else {
      const entry: ActorEntry = { id: actorId, ref, digest, instances, startedAt: new Date(this.now()).toISOString(), constraints: {} };
      inv.actors.push(entry);
    }
  }

  /** Hosts silent for {@link EXPIRY_BEATS} of their beats; returns the ids dropped. */
  expire(): string[] {
    const now = this.now();
    const gone = [...this.hosts.values()].filter((h) => now - h.seenAt > EXPIRY_BEATS * h.info.heartbeatMs + 1_000).map((h) => h.info.id);
    for (const id of gone) this.removeHost(id);
    return gone;
  }

  /** Whether a heartbeat's counts differ from the inventory held: time to ask again. */
  stale(hostId: string): boolean {
    const h = this.hosts.get(hostId);
    if (!h?.inventory) return true;
    return h.summary !== undefined && (h.summary.actors !== h.inventory.actors.length || h.summary.providers !== h.inventory.providers.length);
  }

  hostList(): HostState[] {
    return [...this.hosts.values()].sort((a, b) => a.info.name.localeCompare(b.info.name) || a.info.id.localeCompare(b.info.id));
  }

  /** Seconds the host has been up, going on from its last report. */
  uptime(h: HostState): number {
    return h.info.uptimeSeconds + Math.max(0, this.now() - h.seenAt) / 1000;
  }

  actors(): ActorRow[] {
    const rows = new Map<string, ActorRow>();
    for (const h of this.hostList()) {
      for (const a of h.inventory?.actors ?? []) {
        let row = rows.get(a.id);
        if (!row) rows.set(a.id, (row = { id: a.id, ref: a.ref, total: 0, hosts: [] }));
        row.total += a.instances;
        row.hosts.push({ hostId: h.info.id, hostName: h.info.name, instances: a.instances, busy: a.load?.busy ?? 0, queued: a.load?.queued ?? 0 });
        const rate = this.rates.get(`${h.info.id} ${a.id}`);
        if (rate !== undefined) row.rate = (row.rate ?? 0) + rate;
      }
    }
    return [...rows.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  providers(): ProviderRow[] {
    return this.hostList()
      .flatMap((h) => (h.inventory?.providers ?? []).map((entry) => ({ entry, hostId: h.info.id, hostName: h.info.name })))
      .sort((a, b) => a.entry.id.localeCompare(b.entry.id) || a.hostName.localeCompare(b.hostName));
  }

  hostName(id: string): string {
    return this.hosts.get(id)?.info.name ?? `${id.slice(0, 8)}…`;
  }

  addEvent(e: EventRow): void {
    this.events.unshift(e);
    if (this.events.length > MAX_EVENTS) this.events.length = MAX_EVENTS;
  }

  /** Who the event is from, by name when the host is known. */
  sourceOf(e: AnyCloudEvent): string {
    return this.hosts.has(e.source) ? this.hostName(e.source) : e.source.length > 16 ? `${e.source.slice(0, 8)}…` : e.source;
  }
}

/** `1.5/s`, `12/s`, `0/s`; `–` when not known. */
export function formatRate(rate: number | undefined): string {
  if (rate === undefined) return "–";
  if (rate === 0) return "0/s";
  return rate < 10 ? `${rate.toFixed(1)}/s` : `${Math.round(rate)}/s`;
}

/** `3s`, `4m 10s`, `2h 5m`, `3d 4h`. */
export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
