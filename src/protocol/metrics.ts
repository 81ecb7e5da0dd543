/**
 * The call metrics of one target (an actor's instances on a host, a provider process) as they
 * cross the wire in inventory answers, the fixed latency buckets they are counted in, and the
 * quantiles read back out of them. Pure: the counting itself is nats/call-metrics.ts.
 */
import { Type, type Static } from "@sinclair/typebox";

/**
 * Upper bounds (ms) of the latency buckets, Prometheus' `le`: a call of d ms counts in the first
 * bucket whose bound is ≥ d, or in the last (+Inf) one past them all.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];

/** A latency histogram: `le` the bucket bounds, `counts` one per bound plus the +Inf bucket (not cumulative). */
export const LatencyHistogram = Type.Object({
  le: Type.Array(Type.Number({ minimum: 0 }), { maxItems: 64 }),
  counts: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 65 }),
  /** The sum of every call's duration, ms. */
  sumMs: Type.Number({ minimum: 0 }),
});
export type LatencyHistogram = Static<typeof LatencyHistogram>;

/**
 * What one target's server counted since it started here. `calls` counts every call answered
 * (retries answered from the reply memory included), so the histogram's total equals it.
 */
export const TargetMetrics = Type.Object({
  calls: Type.Integer({ minimum: 0 }),
  /** Calls answered with an error, by error code. */
  errors: Type.Record(Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 }), { maxProperties: 64 }),
  latency: LatencyHistogram,
  /** Calls taken and not answered yet. */
  inflight: Type.Integer({ minimum: 0 }),
  /** Queue subscriptions held: the instances serving here. */
  instances: Type.Integer({ minimum: 0 }),
  /** Calls refused without running: read after their deadline, or while the process was paused. */
  stale: Type.Integer({ minimum: 0 }),
  /** Retried calls answered from the reply memory without running again. */
  retries: Type.Integer({ minimum: 0 }),
});
export type TargetMetrics = Static<typeof TargetMetrics>;

/** The number of calls a histogram holds. */
export function histogramCount(h: LatencyHistogram): number {
  let n = 0;
  for (const c of h.counts) n += c;
  return n;
}

/**
 * The q-quantile (0..1) of a histogram, ms, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; undefined without calls. A quantile in the +Inf bucket
 * is reported as the last finite bound (there is nothing to interpolate to).
 */
export function histogramQuantile(h: LatencyHistogram, q: number): number | undefined {
  const total = histogramCount(h);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i] ?? 0;
    if (c > 0 && seen + c >= rank) {
      const upper = h.le[i];
      if (upper === undefined) return h.le[h.le.length - 1];
      const lower = i === 0 ? 0 : (h.le[i - 1] ?? 0);
      return lower + (upper - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return h.le[h.le.length - 1];
}
