/** Summaries of timing samples. */
export interface Summary {
  runs: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  return { runs: s.length, median: round(quantile(s, 0.5)), p90: round(quantile(s, 0.9)), min: round(s[0] ?? NaN), max: round(s[s.length - 1] ?? NaN) };
}
