/**
 * Where each attempt of a call goes. A target is served by members (a host's instances of an
 * actor, a provider process), each also reachable at an address of its own (`at`, the direct
 * subject). A caller sends most calls straight to a member it chose: among the members on its
 * own NATS server if any is usable (as NATS itself prefers them), else among those of its own
 * NATS cluster (a region of a supercluster: NATS keeps queue-group calls there too, and only
 * crosses a gateway when the cluster has none), else among all; of two picked
 * at random, the one with the lower score (smoothed round trip × its calls in flight + 1) when
 * it is less than half the other's and PREFER_GAP_MS lower, else either, at random: members
 * alike share calls evenly, a slow one gets few. The rest, and every call before it knows any member, go to the target's queue group,
 * which NATS shares out and which finds members the caller does not know yet.
 *
 * - A member that has left an attempt unanswered for STALL_MS (or four of its round trips, if
 *   longer) is avoided for a second, then two, four… up to 30 s, and tried again then: a frozen or
 *   stalled member stops getting calls within a second (the calls it holds go on elsewhere, sent
 *   again after the attempt timeout). One that is merely slow keeps its calls, and its score.
 * - A member much slower than the others is seldom picked: the pair that includes it keeps the
 *   other; only the queue group's share still reaches it. That share keeps its estimate fresh:
 *   a sample a second or more after the one before starts the estimate anew, so one slow moment
 *   does not keep a member out (a probe with a real call instead, once a second, cost the
 *   probed calls the slow member's latency: p99 over HTTP 112 → 390 ms with one host 200 ms slow).
 * - A member's first answered call is not a measurement: it pays what a first call costs once (a
 *   JavaScript instance warming up, caches filling), often ten times the next, and a member
 *   scored by it would be left out until its estimate went stale. The members answers, taken in
 *   one question for all, are the first guess, which the first measurement replaces; until then a
 *   member is kept out only while it has more calls in flight (measured: one busy moment at the
 *   members question sent 56 of 60 calls to one of two equal hosts).
 * - The attempt timeout is TCP's retransmission timeout over the target's round trips (smoothed
 *   round trip + 4 × its variation), between MIN_ATTEMPT_MS and MAX_ATTEMPT_MS.
 * - Members are learned from the answers (`at` and `by` of every reply) and by asking the target's
 *   members subject now and then; the round trip of that answer is a member's first measurement,
 *   so a remote member is not preferred to a near one before it has answered a call.
 * - Second attempts (retries and hedges) spend a budget: each call adds RETRY_RATIO of one, a
 *   retry takes one, and at most RETRY_BURST are saved up, so that retries add at most about a
 *   tenth to the load and never turn an overload into a collapse.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { InvocationMember, decode, type Subjects } from "../protocol/index.js";

export const MIN_ATTEMPT_MS = 50;
export const MAX_ATTEMPT_MS = 2_000;
/** A member is preferred to another only when its score is lower by this much (and half). */
const PREFER_GAP_MS = 5;
/** Calls that go to the queue group while members are known: the group finds the ones not known. */
const EXPLORE = 0.05;
/** An attempt unanswered this long (or four round trips of its member) marks the member stalled. */
const STALL_MS = 500;
const FIRST_AVOID_MS = 1_000;
const MAX_AVOID_MS = 30_000;
const REDISCOVER_MS = 30_000;
/** How long a members question waits for answers. */
const DISCOVERY_WAIT_MS = 300;
const RETRY_RATIO = 0.1;
const RETRY_BURST = 50;
/** Retries allowed a second whatever the traffic: a caller that calls rarely may still retry. */
const RETRY_FLOOR_PER_S = 5;

/** A sample this long after the one before starts a round-trip estimate anew. */
const STALE_MS = 1_000;

/**
 * Round-trip estimation as TCP does it (RFC 6298): smoothed value and its variation. A sample
 * that comes STALE_MS or more after the one before starts the estimate anew: the old one is stale.
 */
class RoundTrip {
  srtt = 0;
  rttvar = 0;
  /** When the last sample came (performance.now()). */
  at = 0;

  /** `anew`: this sample replaces the estimate, whatever its age. */
  add(ms: number, anew = false, now = performance.now()): void {
    const stale = anew || now - this.at >= STALE_MS;
    this.at = now;
    if (this.srtt === 0 || stale) {
      this.srtt = ms;
      this.rttvar = ms / 2;
    } else {
      this.rttvar += 0.25 * (Math.abs(this.srtt - ms) - this.rttvar);
      this.srtt += 0.125 * (ms - this.srtt);
    }
  }
}

export interface Member {
  /** Its direct address (`at` of its replies). */
  readonly at: string;
  /** The id of its NATS server and that server's cluster, once a members answer said them. */
  server?: string;
  cluster?: string;
  /** Who it is (`by` of its replies): a host id, or a provider id. */
  by: string;
  readonly rtt: RoundTrip;
  inflight: number;
  /** When this caller's unanswered attempts to it were sent (performance.now()), oldest first. */
  readonly waiting: number[];
  answered: number;
  /** Not picked before this time (epoch ms): it left an attempt unanswered. */
  avoidUntil: number;
  /** Attempts left unanswered in a row: each doubles how long it is avoided. */
  strikes: number;
}

/** Told when a member starts being avoided: which target, which member (`by`), for how long, and why. */
export type AvoidListener = (target: string, by: string, forMs: number, why: string) => void;

/** What a caller knows of one target of one lattice. */
export class TargetRoutes {
  readonly members = new Map<string, Member>();
  readonly rtt = new RoundTrip();
  private discovered = 0;
  private discovering = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    readonly target: string,
    private readonly onAvoid: AvoidListener,
  ) {}

  /** The member for the next attempt, or undefined for the queue group. `tried`: members this call has been sent to. */
  pick(tried: ReadonlySet<string> | undefined): Member | undefined {
    const now = Date.now();
    if (now - this.discovered > REDISCOVER_MS) this.discover();
    const info = this.nc.info;
    const server = info?.server_id;
    const cluster = info?.cluster;
    let a: Member | undefined;
    let b: Member | undefined;
    let n = 0;
    let nearest = 0;
    // Two members picked uniformly among the usable ones, in one pass (reservoir sampling); the
    // first usable one nearer than those drawn so far (2: on this caller's server, 1: in its
    // cluster) restarts the draw among the near ones only.
    const clock = performance.now();
    for (const m of this.members.values()) {
      if (m.avoidUntil > now || tried?.has(m.at) || this.stalled(m, clock, now)) continue;
      const near = server !== undefined && m.server === server ? 2 : cluster !== undefined && m.cluster === cluster ? 1 : 0;
      if (near < nearest) continue;
      if (near > nearest) {
        nearest = near;
        n = 0;
        a = b = undefined;
      }
      n++;
      if (n === 1) a = m;
      else if (n === 2) b = m;
      else if (Math.random() < 2 / n) {
        if (Math.random() < 0.5) a = m;
        else b = m;
      }
    }
    if (!a) {
      if (this.members.size > 0) this.discover(); // every one avoided: maybe there are others
      return undefined;
    }
    if (!tried && Math.random() < EXPLORE) return undefined;
    if (!b) return a;
    const [sa, sb] = [this.score(a), this.score(b)];
    if (2 * sa < sb && sb - sa > PREFER_GAP_MS && this.mayLose(b, a)) return a;
    if (2 * sb < sa && sa - sb > PREFER_GAP_MS && this.mayLose(a, b)) return b;
    return Math.random() < 0.5 ? a : b;
  }

  /**
   * Whether `loser`'s estimate is sure enough to keep it out: measured on a call it answered.
   * The members answer alone (taken while its process was busy, say) only counts with more calls
   * in flight there, so such a member is tried a call at a time until it has been measured.
   */
  private mayLose(loser: Member, winner: Member): boolean {
    return loser.answered > 1 || loser.inflight > winner.inflight;
  }


  /** How long an attempt may go unanswered before the call is sent again. */
  attemptTimeoutMs(): number {
    const r = this.rtt;
    if (r.srtt === 0) return MAX_ATTEMPT_MS;
    return Math.min(MAX_ATTEMPT_MS, Math.max(MIN_ATTEMPT_MS, r.srtt + 4 * r.rttvar));
  }

  /** An attempt was answered in `ms` by member `at` (`by`); `via`: the member it was sent to, if direct. */
  answered(ms: number, at: string | undefined, by: string | undefined): void {
    this.rtt.add(ms);
    if (!at) return;
    const m = this.member(at, by ?? at);
    // The second answer is the first measurement: it replaces the members answer's guess.
    if (m.answered > 0) m.rtt.add(ms, m.answered === 1);
    m.answered++;
    m.strikes = 0;
    m.avoidUntil = 0;
  }

  /** An attempt was sent straight to `m`. */
  sent(m: Member, at: number): void {
    m.inflight++;
    m.waiting.push(at);
  }

  /** The attempt sent to `m` at `at` ended (answered or not). */
  ended(m: Member, at: number): void {
    m.inflight--;
    const i = m.waiting.indexOf(at);
    if (i >= 0) m.waiting.splice(i, 1);
  }

  /** Whether `m` holds an attempt unanswered for too long: then it is avoided for a while. */
  private stalled(m: Member, clock: number, now: number): boolean {
    const oldest = m.waiting[0];
    if (oldest === undefined || clock - oldest < Math.max(STALL_MS, 4 * m.rtt.srtt)) return false;
    m.strikes++;
    const forMs = Math.min(MAX_AVOID_MS, FIRST_AVOID_MS * 2 ** (m.strikes - 1));
    m.avoidUntil = now + forMs;
    this.onAvoid(this.target, m.by, forMs, `a call to it was unanswered for ${Math.round(clock - oldest)} ms`);
    m.waiting.length = 0; // its attempts still end, each when its call does; the stall is noted once
    return true;
  }

  /** Nobody is subscribed at `m`'s address: it has stopped serving the target. */
  gone(m: Member): void {
    this.members.delete(m.at);
  }

  private score(m: Member): number {
    return (m.rtt.srtt || this.rtt.srtt || 1) * (m.inflight + 1);
  }

  private member(at: string, by: string): Member {
    let m = this.members.get(at);
    if (!m) {
      m = { at, by, rtt: new RoundTrip(), inflight: 0, waiting: [], answered: 0, avoidUntil: 0, strikes: 0 };
      this.members.set(at, m);
    }
    return m;
  }

  /** Ask every member for its address; each answer's round trip is that member's first measurement. */
  private discover(): void {
    if (this.discovering) return;
    this.discovering = true;
    this.discovered = Date.now();
    const t0 = performance.now();
    void (async () => {
      try {
        const answers = await this.nc.requestMany(this.subjects.invocationMembers(this.target), undefined, { strategy: "timer", maxWait: DISCOVERY_WAIT_MS });
        for await (const msg of answers) {
          try {
            const { at, by, server, cluster } = decode(InvocationMember, msg.data, "member answer");
            const m = this.member(at, by);
            m.server = server;
            m.cluster = cluster;
            if (m.rtt.srtt === 0) m.rtt.add(performance.now() - t0);
          } catch {
            // not a member's answer: ignored
          }
        }
      } catch {
        // no members, or no connection: the queue group serves until the next question
      } finally {
        this.discovering = false;
      }
    })();
  }
}

/** What one connection's callers know of the targets they call, and their retry budget. */
export class Router {
  private readonly targets = new Map<string, TargetRoutes>();
  private tokens = RETRY_BURST;
  private floorAt = Date.now();
  private readonly avoidListeners = new Set<AvoidListener>();

  constructor(private readonly nc: NatsConnection) {}

  /** Be told each time a member starts being avoided (hosts and providers log it); returns the way to stop. */
  onAvoid(listener: AvoidListener): () => void {
    this.avoidListeners.add(listener);
    return () => this.avoidListeners.delete(listener);
  }

  routes(subjects: Subjects, target: string): TargetRoutes {
    const key = `${subjects.lattice}\u0000${target}`;
    let t = this.targets.get(key);
    if (!t) {
      t = new TargetRoutes(this.nc, subjects, target, (...a) => {
        for (const l of this.avoidListeners) l(...a);
      });
      this.targets.set(key, t);
    }
    return t;
  }

  /** A call's first attempt: it earns a share of a retry. */
  called(): void {
    this.tokens = Math.min(RETRY_BURST, this.tokens + RETRY_RATIO);
  }

  /** May a call be sent again now? Takes a retry from the budget if so. */
  mayRetry(): boolean {
    const now = Date.now();
    this.tokens = Math.min(RETRY_BURST, this.tokens + ((now - this.floorAt) / 1000) * RETRY_FLOOR_PER_S);
    this.floorAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

const routers = new WeakMap<NatsConnection, Router>();

/** The router of a connection (one per connection, shared by its callers). */
export function routerOf(nc: NatsConnection): Router {
  let r = routers.get(nc);
  if (!r) {
    r = new Router(nc);
    routers.set(nc, r);
  }
  return r;
}
