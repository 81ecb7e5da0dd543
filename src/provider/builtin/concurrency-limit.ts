/**
 * How many requests an HTTP edge lets through to one actor at once. The actor's own instances
 * refuse a call they would queue too long (`unavailable`), but a refusal that crossed the
 * lattice costs almost what a served call does: offered twice what an actor can serve, the
 * refusals ate the CPU of the calls it took (measured: 4,070 req/s served at capacity, 1,700 at
 * twice that offered). So the edge keeps a limit of its own, as TCP keeps its window:
 * - a refusal brings the limit just under what was in flight then (once per DECREASE_EVERY_MS:
 *   the refusals of one burst are one signal);
 * - each call served while the limit is nearly all in use raises it by 1/limit (a limit that is
 *   not reached says nothing about whether more would be served, and grown unused it lets the
 *   next burst through to be refused by the actor);
 * - at the limit with no refusal for a second, it doubles (a slow start), so that many callers
 *   that the actor can serve are not turned away while the limit climbs.
 * Requests over the limit are refused at the edge, where a refusal is an HTTP answer and nothing
 * more.
 */
export type Outcome = "served" | "refused" | "failed";

/** Refusals closer together than this are answers to the same overload. */
const DECREASE_EVERY_MS = 50;
/** With no refusal for this long, the limit may double when it is reached. */
const CALM_MS = 1_000;

export class ConcurrencyLimit {
  private inflight = 0;
  private limit: number;
  private lastRefusal = -Infinity;

  constructor(
    initial = 64,
    private readonly min = 4,
    private readonly max = 4096,
  ) {
    this.limit = initial;
  }

  /** Take a place, if there is one under the limit. */
  tryAcquire(): boolean {
    if (this.inflight >= Math.floor(this.limit)) {
      if (performance.now() - this.lastRefusal < CALM_MS || this.limit >= this.max) return false;
      this.limit = Math.min(this.max, this.limit * 2);
    }
    this.inflight++;
    return true;
  }

  /** Give the place back, saying how the call went: `refused` is the actor's overload answer. */
  release(outcome: Outcome): void {
    const wasInFlight = this.inflight--;
    if (outcome === "refused") {
      const now = performance.now();
      if (now - this.lastRefusal >= DECREASE_EVERY_MS) this.limit = Math.max(this.min, Math.min(this.limit, this.inflight) * 0.9);
      this.lastRefusal = now;
    } else if (outcome === "served" && wasInFlight >= Math.floor(this.limit) * 0.9) {
      this.limit = Math.min(this.max, this.limit + 1 / this.limit);
    }
  }

  get current(): number {
    return Math.floor(this.limit);
  }
}
