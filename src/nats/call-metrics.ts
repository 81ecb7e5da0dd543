/**
 * What an InvocationServer counts of the calls it serves: calls, errors by code, a latency
 * histogram in fixed buckets, calls in flight, retries answered from the reply memory. Counted
 * on every call, so each count is a field increment or one array slot: nothing is allocated
 * per call (an error code's first occurrence adds one map entry, the only one it ever gets).
 */
import { LATENCY_BUCKETS_MS, type TargetMetrics } from "../protocol/metrics.js";

export class CallMetrics {
  private calls = 0;
  private inflight = 0;
  private retries = 0;
  private sumMs = 0;
  private readonly errors = new Map<string, number>();
  /** One slot per bound of LATENCY_BUCKETS_MS, then the +Inf one. */
  private readonly counts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);

  /** A call was taken: returns its start time, for {@link ended}. */
  began(): number {
    this.inflight++;
    return performance.now();
  }

  /** The call taken at `startedAt` was answered. */
  ended(startedAt: number): void {
    const ms = performance.now() - startedAt;
    this.inflight--;
    this.calls++;
    this.sumMs += ms;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.counts[i]!++;
  }

  /** A reply of error `code` was made (counted where errors are made, so a remembered one is not counted twice). */
  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** A retry was answered with the reply of the call it repeats, which did not run again. */
  retried(): void {
    this.retries++;
  }

  /** The counts as they stand, with what the server knows besides (instances held, calls refused as stale). */
  snapshot(instances: number, stale: number): TargetMetrics {
    return {
      calls: this.calls,
      errors: Object.fromEntries(this.errors),
      latency: { le: [...LATENCY_BUCKETS_MS], counts: Array.from(this.counts), sumMs: this.sumMs },
      inflight: this.inflight,
      instances,
      stale,
      retries: this.retries,
    };
  }
}
