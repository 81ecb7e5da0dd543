/**
 * `lattice spy` on the wire, both ends.
 *
 * `SpyTap` is a member's end (a host, a provider process): it holds the leases spies took on
 * ids, and while one on an id is live it publishes one `SpyRecord` per call to or from that id.
 * Nobody spying costs a call one boolean check (`on`): no lookup, no allocation, nothing sent.
 * Leases lapse by themselves when not renewed, so a spy that dies stops the records within one
 * lease.
 *
 * `SpyLeaseHolder` is the spy's end: it asks for a lease (learning who serves the id), renews
 * it, and releases it when done.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { InvokeRequest, InvokeResult } from "./invocations.js";
import { isNoResponders } from "./request-errors.js";
import { ErrorCode, decode, decodeCall, decodeReply, encode, isLatticeError, messageOf, type Subjects } from "../protocol/index.js";
import { SPY_LEASE_MS, SPY_RENEW_MS, SpyLease, SpyPresence, type SpyRecord } from "../protocol/spy.js";

/** How often lapsed leases are swept while any is held. */
const SWEEP_MS = 500;

export class SpyTap {
  /** True while any lease is live: what the invocation path checks before anything else. */
  on = false;
  /** Leases by spied id: each spy's expiry (epoch ms). */
  private readonly leases = new Map<string, Map<string, number>>();
  private sub?: Subscription;
  private sweeper?: ReturnType<typeof setInterval>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    /** Put on every record (`by`): the host or provider id. */
    private readonly by: string,
    /** What this member serves of `id` now, if anything: it answers a lease request then. */
    private readonly serves: (id: string) => SpyPresence["kind"] | undefined,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(this.subjects.spyLeaseWildcard(), {
      callback: (err, msg) => {
        if (!err) this.lease(msg);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.leases.clear();
    this.lapse();
  }

  /** Whether calls to or from `id` are watched (check `on` first: this is a map lookup). */
  watching(id: string): boolean {
    return this.leases.has(id);
  }

  /** A call this member served for `target` (its message, the reply it sent, when it began): one record, if `target` is watched. */
  served(target: string, msg: Msg, reply: Uint8Array | undefined, startedAt: number): void {
    if (!this.watching(target)) return;
    const ms = performance.now() - startedAt;
    const to = this.subjects.parseInvocation(msg.subject);
    let source = "";
    let callId = "";
    try {
      ({ source, callId } = decodeCall(msg.data));
    } catch {
      // An undecodable call is still a call the target was sent (and refused).
    }
    let ok = false;
    let code: string | undefined = ErrorCode.Internal;
    try {
      const r = reply && decodeReply(reply);
      ok = r ? r.ok : false;
      code = r ? (r.ok ? undefined : r.error.code) : ErrorCode.Internal;
    } catch {
      // Not one of ours: recorded as internal.
    }
    this.publish({ direction: "in", id: target, source, target, interface: to?.iface ?? "", function: to?.fn ?? "", callId, ms, requestBytes: msg.data.length, replyBytes: reply?.length ?? 0, ok, ...(code ? { code } : {}), by: this.by, at: new Date().toISOString() });
  }

  /**
   * A call `r.source` makes, through `call` (invoke), recorded when it settles. Used only when
   * `watching(r.source)`: it asks invoke for the sizes, which costs a closure.
   */
  async calling(r: InvokeRequest, call: (r: InvokeRequest) => Promise<InvokeResult>): Promise<InvokeResult> {
    const t0 = performance.now();
    let requestBytes = 0;
    let replyBytes = 0;
    const record = (ok: boolean, code?: string, attempts?: number) =>
      this.publish({ direction: "out", id: r.source, source: r.source, target: r.target, interface: r.iface, function: r.fn, callId: r.callId ?? "", ms: performance.now() - t0, requestBytes, replyBytes, ok, ...(code ? { code } : {}), ...(attempts ? { attempts } : {}), by: this.by, at: new Date().toISOString() });
    try {
      const res = await call({ ...r, sizes: (req, rep) => ((requestBytes = req), (replyBytes = rep)) });
      record(true, undefined, res.attempts);
      return res;
    } catch (e) {
      record(false, isLatticeError(e) ? e.code : ErrorCode.Internal);
      throw e;
    }
  }

  private publish(rec: SpyRecord): void {
    try {
      this.nc.publish(this.subjects.spyCalls(rec.id), encode(rec));
    } catch {
      // Only a closed connection refuses a publish: the member is stopping.
    }
  }

  private lease(msg: Msg): void {
    const id = this.subjects.spyLeaseIdOf(msg.subject);
    let l: SpyLease;
    try {
      l = decode(SpyLease, msg.data, "spy lease");
    } catch {
      return; // not a lease: nothing to grant
    }
    const spies = this.leases.get(id) ?? new Map<string, number>();
    if (l.ttlMs === 0) spies.delete(l.spy);
    else spies.set(l.spy, Date.now() + l.ttlMs);
    if (spies.size > 0) this.leases.set(id, spies);
    else this.leases.delete(id);
    this.on = this.leases.size > 0;
    if (this.on && !this.sweeper) this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    if (!this.on) this.lapse();
    const kind = msg.reply && l.ttlMs > 0 ? this.serves(id) : undefined;
    if (kind) msg.respond(encode({ by: this.by, kind } satisfies SpyPresence));
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, spies] of this.leases) {
      for (const [spy, until] of spies) if (until <= now) spies.delete(spy);
      if (spies.size === 0) this.leases.delete(id);
    }
    this.on = this.leases.size > 0;
    if (!this.on) this.lapse();
  }

  private lapse(): void {
    this.on = false;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

/** The spy's end of a lease on one id: asked for, renewed every SPY_RENEW_MS, released. */
export class SpyLeaseHolder {
  private readonly spy = crypto.randomUUID();
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    readonly id: string,
  ) {}

  /** Take the lease and keep it: resolves with the members that answered that they serve the id (within `waitMs`). */
  async take(waitMs = 500): Promise<SpyPresence[]> {
    const body = this.body(SPY_LEASE_MS);
    const out: SpyPresence[] = [];
    try {
      const replies = await this.nc.requestMany(this.subjects.spyLease(this.id), body, { strategy: "stall", stall: 250, maxWait: waitMs });
      for await (const m of replies) {
        try {
          out.push(decode(SpyPresence, m.data, "spy presence"));
        } catch {
          // a foreign answer says nothing about who serves the id
        }
      }
    } catch (e) {
      // Nobody serving it answers "no responders"; the lease was still published to every member.
      if (!isNoResponders(e)) throw new Error(`could not ask for a spy lease on ${this.id}: ${messageOf(e)}`, { cause: e });
    }
    this.timer ??= setInterval(() => this.renew(), SPY_RENEW_MS);
    return out;
  }

  /** Give the lease up now: members stop publishing at once rather than when it lapses. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.nc.isClosed()) return;
    this.nc.publish(this.subjects.spyLease(this.id), this.body(0));
    await this.nc.flush().catch(() => undefined);
  }

  private renew(): void {
    if (!this.nc.isClosed()) this.nc.publish(this.subjects.spyLease(this.id), this.body(SPY_LEASE_MS));
  }

  private body(ttlMs: number): Uint8Array {
    return encode({ spy: this.spy, ttlMs } satisfies SpyLease);
  }
}
