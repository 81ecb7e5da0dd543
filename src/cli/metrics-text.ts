/**
 * Call metrics out of host inventories: one row per host and target (`lattice get metrics`),
 * and the Prometheus text exposition format (version 0.0.4) of the same rows, written by hand
 * (`lattice host --metrics-port`).
 */
import { histogramCount, histogramQuantile, type HostInventory, type TargetMetrics } from "../protocol/index.js";

export interface MetricsRow {
  hostId: string;
  hostName: string;
  kind: "actor" | "provider";
  target: string;
  metrics: TargetMetrics;
}

/** Every target of these inventories that reports metrics (older hosts' entries carry none). */
export function metricsRows(inventories: readonly HostInventory[], target?: string): MetricsRow[] {
  const rows: MetricsRow[] = [];
  for (const inv of inventories) {
    const host = { hostId: inv.host.id, hostName: inv.host.name };
    for (const a of inv.actors) if (a.metrics && (target === undefined || a.id === target)) rows.push({ ...host, kind: "actor", target: a.id, metrics: a.metrics });
    for (const p of inv.providers) if (p.metrics && (target === undefined || p.id === target)) rows.push({ ...host, kind: "provider", target: p.id, metrics: p.metrics });
  }
  return rows.sort((a, b) => a.target.localeCompare(b.target) || a.hostName.localeCompare(b.hostName) || a.hostId.localeCompare(b.hostId));
}

/** A row as `lattice get metrics -o json` prints it: the metrics, with p50 and p99 read from the histogram. */
export function metricsJson(r: MetricsRow): Record<string, unknown> {
  return { ...r, p50Ms: histogramQuantile(r.metrics.latency, 0.5) ?? null, p99Ms: histogramQuantile(r.metrics.latency, 0.99) ?? null };
}

/** The Prometheus text format of the rows. */
export function prometheusText(rows: readonly MetricsRow[]): string {
  const out: string[] = [];
  const family = (name: string, type: "counter" | "gauge" | "histogram", help: string, lines: (r: MetricsRow, labels: string) => string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const r of rows) out.push(...lines(r, labelsOf(r)));
  };
  family("lattice_calls_total", "counter", "Calls answered by a target's instances on a host (retries answered from memory included).", (r, l) => [`lattice_calls_total{${l}} ${r.metrics.calls}`]);
  family("lattice_call_errors_total", "counter", "Calls answered with an error, by error code.", (r, l) =>
    Object.entries(r.metrics.errors).map(([code, n]) => `lattice_call_errors_total{${l},code="${escapeLabel(code)}"} ${n}`),
  );
  family("lattice_call_duration_ms", "histogram", "How long calls took to answer, in milliseconds.", (r, l) => {
    const h = r.metrics.latency;
    const lines: string[] = [];
    let cumulative = 0;
    h.le.forEach((le, i) => {
      cumulative += h.counts[i] ?? 0;
      lines.push(`lattice_call_duration_ms_bucket{${l},le="${le}"} ${cumulative}`);
    });
    const count = histogramCount(h);
    lines.push(`lattice_call_duration_ms_bucket{${l},le="+Inf"} ${count}`, `lattice_call_duration_ms_sum{${l}} ${h.sumMs}`, `lattice_call_duration_ms_count{${l}} ${count}`);
    return lines;
  });
  family("lattice_calls_in_flight", "gauge", "Calls taken and not answered yet.", (r, l) => [`lattice_calls_in_flight{${l}} ${r.metrics.inflight}`]);
  family("lattice_instances", "gauge", "Instances serving the target on the host.", (r, l) => [`lattice_instances{${l}} ${r.metrics.instances}`]);
  family("lattice_calls_stale_total", "counter", "Calls refused without running: read after their deadline, or while the process was paused.", (r, l) => [`lattice_calls_stale_total{${l}} ${r.metrics.stale}`]);
  family("lattice_call_retries_total", "counter", "Retried calls answered from the reply memory without running again.", (r, l) => [`lattice_call_retries_total{${l}} ${r.metrics.retries}`]);
  return out.join("\n") + "\n";
}

function labelsOf(r: MetricsRow): string {
  return `target="${escapeLabel(r.target)}",kind="${r.kind}",host="${escapeLabel(r.hostId)}",host_name="${escapeLabel(r.hostName)}"`;
}

/** A label value as the text format quotes it: backslash, double quote and line feed escaped. */
function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
