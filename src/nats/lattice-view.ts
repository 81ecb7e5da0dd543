/**
 * A view of the hosts of a lattice, built only from events: host_started and heartbeats add or
 * refresh a host, host_stopped removes it at once, and a host whose heartbeats stop is expired
 * after EXPIRY_BEATS of its own intervals. A scatter-gather ping seeds the view at start so it
 * does not wait a heartbeat to know who is there.
 *
 * Heartbeats are what makes presence cost grow: every view hears every host's, N² deliveries a
 * beat for N hosts that all keep one. A view without liveness (`liveness: false`) hears only
 * joins and goodbyes: a directory of every host that joined and did not say goodbye, which is what
 * a member needs to trust its peers' keys, at O(1) messages per join for each member. It cannot
 * tell a host that died from one that lives; views that must (the CLI, the reconciler, the
 * dashboard) keep liveness.
 */
import { gather } from "./scatter-gather.js";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  ControlOp,
  EVENT_SCHEMAS,
  EventType,
  MAX_EVENT_PAYLOAD,
  PingReply,
  decode,
  isEventType,
  type HostInfo,
  type InventorySummary,
  type Subjects,
} from "../protocol/index.js";

/** A host is expired after this many of its heartbeat intervals without a word from it. */
export const EXPIRY_BEATS = 3;
/** How often expiry is checked: small against any sensible heartbeat, cheap for a map of hosts. */
const SWEEP_MS = 50;
/** The least time between two seeding pings. */
const RESEED_INTERVAL_MS = 1_000;

export interface ViewHost {
  info: HostInfo;
  summary: InventorySummary;
  /** Local clock (ms) when the host was last heard from. */
  lastSeen: number;
}

export type ViewChange = { kind: "added" | "updated" | "removed"; host: ViewHost; reason?: string };

export interface ViewStats {
  events: number;
  invalidEvents: number;
  expired: number;
}

const EMPTY_SUMMARY: InventorySummary = { actors: 0, providers: 0 };

export interface ViewOptions {
  /** The host whose view this is: its own answer to the seed is not one of the others'. */
  selfId?: string;
  /** Hear heartbeats and expire the silent (default true); false: joins and goodbyes only. */
  liveness?: boolean;
  now?: () => number;
}

export class LatticeView {
  private readonly hostsById = new Map<string, ViewHost>();
  private readonly listeners = new Set<(c: ViewChange) => void>();
  private subs: Subscription[] = [];
  private sweeper?: ReturnType<typeof setInterval>;
  private reseed?: ReturnType<typeof setTimeout>;
  private lastSeed = 0;
  readonly stats: ViewStats = { events: 0, invalidEvents: 0, expired: 0 };
  /** Once the first seed's answers are in: from then on the view holds every live host it can hear. */
  seeded = false;

  private readonly selfId?: string;
  private readonly now: () => number;
  /** Whether this view hears heartbeats and expires silent hosts (see the module's comment). */
  readonly live: boolean;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    opts: ViewOptions = {},
  ) {
    this.selfId = opts.selfId;
    this.now = opts.now ?? Date.now;
    this.live = opts.liveness ?? true;
  }

  /** Subscribe to events, then seed from a ping. Resolves once the seed answers are in. */
  async start(seedWaitMs = 500): Promise<void> {
    const callback = (err: Error | null, msg: Msg): void => {
      if (!err) this.onEvent(msg.subject, msg.data);
    };
    const subjects = this.live ? [this.subjects.eventsWildcard()] : [this.subjects.event(EventType.HostStarted), this.subjects.event(EventType.HostStopped)];
    this.subs = subjects.map((s) => this.nc.subscribe(s, { callback }));
    if (this.live) this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    await this.seed(seedWaitMs);
  }

  stop(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.reseed) clearTimeout(this.reseed);
    this.listeners.clear();
  }

  hosts(): ViewHost[] {
    return [...this.hostsById.values()];
  }

  get(id: string): ViewHost | undefined {
    return this.hostsById.get(id);
  }

  has(id: string): boolean {
    return this.hostsById.has(id);
  }

  /** Listen to changes; returns the function that stops listening. */
  onChange(fn: (c: ViewChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolve when `predicate` holds for the view (checked now and on every change), or reject at timeout. */
  waitFor(predicate: (v: LatticeView) => boolean, timeoutMs: number): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const off = this.onChange(() => {
        if (predicate(this)) {
          off();
          clearTimeout(timer);
          resolve();
        }
      });
      const timer = setTimeout(() => {
        off();
        reject(new Error(`lattice view condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  private async seed(waitMs: number): Promise<void> {
    this.lastSeed = Date.now();
    try {
      // The others answer before they hear this host start (it says so after this ping), so
      // their counts leave it out: the seed ends once that many others have answered. One that
      // heard of it already counts it, and the stall ends the seed instead.
      await gather(this.nc, this.subjects.controlAll(ControlOp.Ping), undefined, { stallMs: Math.min(waitMs, 250), maxWaitMs: waitMs }, (m) => {
        try {
          const reply = decode(PingReply, m.data, "ping reply");
          if (!reply.ok) return undefined;
          this.upsert(reply.data, undefined);
          if (reply.data.id === this.selfId) return "skip";
          return reply.data.knownHosts;
        } catch {
          this.stats.invalidEvents++;
          return undefined;
        }
      });
    } catch {
      // No responders (an empty lattice) or a closed connection: heartbeats will fill the view.
    }
    this.seeded = true;
  }

  /**
   * A long-running host the view did not know has appeared: a partition has probably healed, and
   * the others from its side are reachable again too. Ask everyone at once (at most once a second)
   * rather than wait for each one's heartbeat. (A host that just started announces itself.)
   */
  private seedSoon(): void {
    if (this.reseed || this.subs.length === 0) return;
    const wait = Math.max(50, RESEED_INTERVAL_MS - (Date.now() - this.lastSeed));
    this.reseed = setTimeout(() => {
      this.reseed = undefined;
      void this.seed(250);
    }, wait);
  }

  private onEvent(subject: string, data: Uint8Array): void {
    this.stats.events++;
    const type = this.subjects.eventTypeOf(subject);
    if (!isEventType(type)) return; // a later feature's event: not the view's business
    try {
      switch (type) {
        case EventType.HostStarted: {
          const e = decode(EVENT_SCHEMAS[type], data, "host_started event", MAX_EVENT_PAYLOAD);
          this.upsert(e.data, undefined);
          break;
        }
        case EventType.HostHeartbeat: {
          const e = decode(EVENT_SCHEMAS[type], data, "host_heartbeat event", MAX_EVENT_PAYLOAD);
          this.upsert(e.data.host, e.data.summary);
          break;
        }
        case EventType.HostStopped: {
          const e = decode(EVENT_SCHEMAS[type], data, "host_stopped event", MAX_EVENT_PAYLOAD);
          this.remove(e.data.id, `stopped: ${e.data.reason}`);
          break;
        }
      }
    } catch {
      this.stats.invalidEvents++;
    }
  }

  private upsert(info: HostInfo, summary: InventorySummary | undefined): void {
    const prev = this.hostsById.get(info.id);
    const host: ViewHost = { info, summary: summary ?? prev?.summary ?? EMPTY_SUMMARY, lastSeen: this.now() };
    this.hostsById.set(info.id, host);
    this.emit({ kind: prev ? "updated" : "added", host });
    // A host that has been up a while yet is new to this view was on the other side of something.
    if (!prev && info.uptimeSeconds * 1000 > 2 * info.heartbeatMs) this.seedSoon();
  }

  private remove(id: string, reason: string): void {
    const host = this.hostsById.get(id);
    if (!host) return;
    this.hostsById.delete(id);
    this.emit({ kind: "removed", host, reason });
  }

  private sweep(): void {
    const now = this.now();
    for (const h of this.hostsById.values()) {
      if (now - h.lastSeen > EXPIRY_BEATS * h.info.heartbeatMs) {
        this.stats.expired++;
        this.remove(h.info.id, `expired: no heartbeat for ${now - h.lastSeen} ms`);
      }
    }
  }

  private emit(c: ViewChange): void {
    for (const fn of this.listeners) {
      try {
        fn(c);
      } catch {
        // A listener's bug must not break the view for the others.
      }
    }
  }
}
