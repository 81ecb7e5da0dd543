/** What `lattice get hosts`, `lattice get inventory` and `lattice get metrics` do. */
import { ErrorCode, LatticeError, histogramQuantile, type ActorLoad, type HostInfo, type HostInventory, type TargetMetrics, type WireError } from "../../protocol/index.js";
import { metricsJson, metricsRows } from "../metrics-text.js";
import { withClient } from "../connect.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { formatDuration, formatLabels, printJson, printTable, warn } from "../output.js";
import { shortDigest } from "../../nats/artifact-store.js";
import { plural } from "../../ctl/wording.js";

export type GetOpts = LatticeOpts & OutputOpts & { timeout: number };

/** Hosts that answered with an error are worth a word on stderr, not a failed command. */
function warnErrors(errors: WireError[]): void {
  for (const e of errors) warn(`a host answered with ${e.code}: ${e.message}`);
}

function byName(a: HostInfo, b: HostInfo): number {
  return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

export async function getHosts(opts: GetOpts): Promise<void> {
  const { replies, errors } = await withClient(opts, (c) => c.hosts());
  warnErrors(errors);
  const list = replies.sort(byName);
  if (opts.output === "json") return printJson(list);
  printTable(
    ["ID", "NAME", "LABELS", "VERSION", "UPTIME"],
    list.map((h) => [h.id, h.name, formatLabels(h.labels), h.version, formatDuration(h.uptimeSeconds * 1_000)]),
  );
}

export async function getInventory(hostId: string | undefined, opts: GetOpts): Promise<void> {
  const list: HostInventory[] = await withClient(opts, async (c) => {
    if (hostId !== undefined) return [await c.inventory(hostId)];
    const { replies, errors } = await c.inventories();
    warnErrors(errors);
    return replies.sort((a, b) => byName(a.host, b.host));
  });
  if (opts.output === "json") return printJson(hostId !== undefined ? list[0] : list);
  for (const inv of list) printInventory(inv);
}

/** `, busy 2, queued 5`, with `stuck` and `replaced` when any: what an operator needs to see an actor wedged. */
function load(l: ActorLoad | undefined): string {
  if (!l) return "";
  const extra = [l.stuck > 0 ? `, stuck ${l.stuck}` : "", l.replaced > 0 ? `, replaced ${l.replaced}` : ""].join("");
  return ` (busy ${l.busy}, queued ${l.queued}${extra})`;
}

function printInventory(inv: HostInventory): void {
  const h = inv.host;
  process.stdout.write(`host ${h.name} (${h.id})\n  labels: ${formatLabels(h.labels)}  version: ${h.version}  uptime: ${formatDuration(h.uptimeSeconds * 1_000)}\n`);
  if (inv.actors.length === 0) process.stdout.write("  actors: none\n");
  else {
    process.stdout.write("  actors:\n");
    for (const a of inv.actors) process.stdout.write(`    ${a.id}  ${plural(a.instances, "instance")}${load(a.load)}  ${a.ref}  ${shortDigest(a.digest)}\n`);
  }
  if (inv.providers.length === 0) process.stdout.write("  providers: none\n");
  else {
    process.stdout.write("  providers:\n");
    for (const p of inv.providers) {
      const pid = p.pid !== undefined ? `pid ${p.pid}` : "no process";
      const health = `${p.health.healthy ? "healthy" : "unhealthy"}: ${p.health.message}`;
      process.stdout.write(`    ${p.id}  ${p.state}  ${pid}  ${plural(p.restarts, "restart")}  ${health}  ${p.ref}\n`);
    }
  }
}

/** One row per host and target that reports metrics; with an id, only that target's (and an error if nothing serves it). */
export async function getMetrics(id: string | undefined, opts: GetOpts): Promise<void> {
  const { replies, errors } = await withClient(opts, (c) => c.inventories());
  warnErrors(errors);
  const rows = metricsRows(replies, id);
  if (id !== undefined && rows.length === 0) throw new LatticeError(ErrorCode.NotFound, `no host of lattice ${opts.lattice} runs ${id} (or its hosts report no metrics)`);
  if (opts.output === "json") return printJson(rows.map(metricsJson));
  printTable(
    ["TARGET", "KIND", "HOST", "CALLS", "ERRORS", "P50", "P99", "IN FLIGHT", "INSTANCES", "STALE", "RETRIES"],
    rows.map((r) => {
      const m = r.metrics;
      return [r.target, r.kind, r.hostName, String(m.calls), errorsText(m), latencyText(histogramQuantile(m.latency, 0.5)), latencyText(histogramQuantile(m.latency, 0.99)), String(m.inflight), String(m.instances), String(m.stale), String(m.retries)];
    }),
  );
}

/** `0`, or `3 (trap 2, timeout 1)`: the total, then each code, most first. */
function errorsText(m: TargetMetrics): string {
  const codes = Object.entries(m.errors).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const total = codes.reduce((n, [, c]) => n + c, 0);
  return total === 0 ? "0" : `${total} (${codes.map(([code, n]) => `${code} ${n}`).join(", ")})`;
}

/** A quantile read from the histogram: `0.42ms`, `12ms`, `1.2s`; `-` without calls. */
function latencyText(ms: number | undefined): string {
  if (ms === undefined) return "-";
  if (ms < 10) return `${ms.toFixed(2)}ms`;
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  return `${(ms / 1_000).toFixed(1)}s`;
}
