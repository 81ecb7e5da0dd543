/**
 * Leader election through one KV key. The holder renews it every round by compare-and-set; the
 * others watch its revision and take it over (compare-and-set on the revision they saw) once it
 * has not changed for `ttlMs` by their own clock. No clocks are compared between machines.
 *
 * Safety: a holder counts its term from *before* its renewal request, and stops leading `ttlMs`
 * after that unless the next renewal succeeds; a taker waits `ttlMs` after *seeing* the last
 * renewal. So the old holder has stopped before anyone else starts, even when it is cut off from
 * the bucket and cannot learn that it lost.
 */
import type { KV } from "@nats-io/kv";
import { LEASE_KEY, ReconcilerLease, schemaProblems, type ReconcilerLease as Lease } from "../protocol/index.js";

export class KvLease {
  private until = 0;
  private revision = 0;
  private seen?: { revision: number; since: number };

  constructor(
    private readonly kv: () => Promise<KV>,
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  /** Whether this holder leads right now. */
  get leading(): boolean {
    return performance.now() < this.until;
  }

  /** Who holds the lease, as last read (undefined: nobody, or not read yet). */
  current?: string;

  /** One round: take, renew or watch the lease. Resolves with `leading` afterwards. */
  async tick(): Promise<boolean> {
    const sentAt = performance.now();
    try {
      const kv = await this.kv();
      const e = await kv.get(LEASE_KEY);
      const value = new TextEncoder().encode(JSON.stringify({ holder: this.holder, renewedAt: new Date().toISOString() } satisfies Lease));
      if (!e || e.operation !== "PUT") {
        this.revision = await kv.create(LEASE_KEY, value);
        this.won(sentAt);
      } else if (holderOf(e.json.bind(e)) === this.holder) {
        this.revision = await kv.update(LEASE_KEY, value, e.revision);
        this.won(sentAt);
      } else {
        this.until = 0;
        this.current = holderOf(e.json.bind(e));
        const now = performance.now();
        if (this.seen?.revision !== e.revision) this.seen = { revision: e.revision, since: now };
        else if (now - this.seen.since >= this.ttlMs) {
          this.revision = await kv.update(LEASE_KEY, value, e.revision);
          this.won(sentAt);
        }
      }
    } catch {
      // Lost a compare-and-set, or the bucket is unreachable: lead only for what is left of the
      // term already won.
    }
    return this.leading;
  }

  /** Give the lease up so another host takes over at once (only if still ours). */
  async release(): Promise<void> {
    const was = this.leading;
    this.until = 0;
    if (!was) return;
    try {
      await (await this.kv()).delete(LEASE_KEY, { previousSeq: this.revision });
    } catch {
      // Someone else has it already, or the bucket is gone: the lease runs out by itself.
    }
  }

  private won(sentAt: number): void {
    this.until = sentAt + this.ttlMs;
    this.current = this.holder;
    this.seen = undefined;
  }
}

function holderOf(json: () => unknown): string | undefined {
  try {
    const v = json();
    return schemaProblems(ReconcilerLease, v).length === 0 ? (v as Lease).holder : undefined;
  } catch {
    return undefined;
  }
}
