/**
 * `npm run bench:report`: renders docs/benchmark-report.md and its SVG plots (docs/bench/) from
 * the JSON of one `npm run bench` run. Every number in the output comes from that JSON: the
 * wording here is fixed, and a section's intro and targets are its own `description` and
 * `target(s)` fields. A section the run lacks gets one line saying so; a section this file does
 * not know gets a table of its numeric leaves, so nothing is dropped silently.
 *
 * `node dist/bench/report.js [--in bench/results/latest.json] [--out docs/benchmark-report.md]`
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, LatticeError } from "../src/protocol/index.js";
import type { ActorRuntimeResult } from "./actor-runtime.js";
import type { BrowserResult, CallLatency } from "./browser.js";
import type { CliStartResult, CliTiming } from "./cli-start.js";
import type { DevLoopResult } from "./dev-loop.js";
import type { FanInPoint } from "./fan-in.js";
import type { HttpBenchResult } from "./http.js";
import type { Ed25519Costs, InvocationResult, PathFigures } from "./invocation.js";
import type { WrkResult } from "./load-tools.js";
import type { PresenceScale } from "./presence-scale.js";
import type { Summary } from "./stats.js";
import { linePlot, rangePlot, type RangeRow } from "./svg-plot.js";

/** What run.ts writes around each section: its own wording and targets. */
interface Described {
  description?: string;
  target?: string;
  targets?: string;
}

type SummarySection = Described & Summary & { p99?: number; samples?: number[] };

/** The sections run.ts `all()` writes; a changed bench result type fails to compile here. */
export interface KnownSections {
  hostDiscoveryMs: SummarySection;
  hostStartMs: SummarySection;
  invocation: Described & InvocationResult;
  ed25519: Described & Ed25519Costs;
  appConvergeMs: SummarySection;
  http: Described & HttpBenchResult;
  browser: Described & BrowserResult;
  cli: Described & CliStartResult;
  dev: Described & DevLoopResult;
  presence: Described & PresenceScale;
  fanIn: Described & { points: FanInPoint[] };
  actorRuntime: Described & Record<string, ActorRuntimeResult | string | undefined>;
}

export interface BenchRun {
  lattice?: string;
  date?: string;
  machine?: Record<string, unknown>;
  results: Partial<KnownSections> & Record<string, unknown>;
}

export interface Report {
  markdown: string;
  /** SVG file name (inside the SVG directory) → its text. */
  svgs: Map<string, string>;
}

/** A number as the report prints it: grouped thousands, at most 3 decimals; a missing one as a dash. */
export function formatNumber(x: unknown): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  return x.toLocaleString("en-US", { maximumFractionDigits: 3 });
}
const f = formatNumber;

function table(head: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [`| ${head.map(esc).join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

interface TargetClause {
  /** The part's leading `word:` (e.g. "lean", "overload"): the clause holds for that case only. */
  scope?: string;
  text: string;
}

/** A section's targets as clauses: parts split by ";", each optionally scoped by a leading `word:`, split by ",". */
function targetClauses(sec: Described): TargetClause[] {
  return [sec.target, sec.targets]
    .filter((t): t is string => typeof t === "string")
    .flatMap((t) => t.split(/;\s*/))
    .flatMap((part) => {
      const m = /^([A-Za-z]\w*):\s+(.*)$/.exec(part.trim());
      const scope = m?.[1];
      return (m?.[2] ?? part).split(/,\s*/).map((text) => ({ scope, text: text.trim() }));
    });
}

/**
 * The target clauses naming `key` (e.g. "throughputRatio >= 0.7"), or a dash. With `scope`, a
 * clause scoped to another case does not count (lean's growth target is not full's).
 */
export function targetFor(sec: Described, key: string, scope?: string): string {
  const word = new RegExp(`(^|[^A-Za-z0-9])${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^A-Za-z0-9]|$)`);
  const hits = targetClauses(sec).filter((c) => word.test(c.text) && (scope === undefined || c.scope === undefined || c.scope === scope));
  return hits.length > 0 ? hits.map((c) => (c.scope ? `${c.scope}: ${c.text}` : c.text)).join("; ") : "—";
}

function intro(sec: Described): string[] {
  const out: string[] = [];
  if (sec.description) out.push(sec.description, "");
  const targets = [sec.target, sec.targets].filter(Boolean).join("; ");
  if (targets) out.push(`Target: ${targets}`, "");
  return out;
}

/** Every numeric leaf of a value, by its dotted path. */
export function numericLeaves(v: unknown, path = ""): Array<[string, number]> {
  if (typeof v === "number") return [[path || "(value)", v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => numericLeaves(x, `${path}[${i}]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => numericLeaves(x, path ? `${path}.${k}` : k));
  return [];
}

function leavesTable(sec: unknown, targets: Described = {}): string {
  return table(
    ["figure", "value", "target"],
    numericLeaves(sec).map(([k, v]) => [`\`${k}\``, f(v), targetFor(targets, k.split(/[.[]/)[0] ?? k)]),
  );
}

/** Collapsed, after a known section's tables: each of its numbers by path, so none is left out. */
function everyFigure(sec: unknown): string[] {
  return ["<details><summary>Every figure of this section</summary>", "", leavesTable(sec, sec as Described), "", "</details>"];
}

const img = (dir: string, file: string, alt: string) => `![${alt}](${dir}/${file})`;

interface Ctx {
  svgDir: string;
  svgs: Map<string, string>;
}

function summaryRow(s: Summary & { p99?: number }): string[] {
  return [f(s.runs), f(s.median), f(s.p90), f(s.p99), f(s.min), f(s.max)];
}
const SUMMARY_HEAD = ["runs", "median", "p90", "p99", "min", "max"];

function summarySection(sec: SummarySection, unit: string): string[] {
  const out = [table([...SUMMARY_HEAD.map((h) => (h === "runs" ? h : `${h} ${unit}`)), "target"], [[...summaryRow(sec), targetFor(sec, "median")]])];
  if (Array.isArray(sec.samples)) out.push("", `Samples (${unit}): ${sec.samples.map(f).join(", ")}`);
  return out;
}

/** A range row from a summary: whisker min–max, bar median–p99 (p90 when the summary has no p99). */
function summaryRange(label: string, series: string, s: Summary & { p99?: number }): RangeRow {
  return { label, series, min: s.min, low: s.median, mid: s.median, high: s.p99 ?? s.p90, max: s.max };
}

function invocation(sec: KnownSections["invocation"], ctx: Ctx): string[] {
  const paths: Array<[string, string, PathFigures]> = [
    ["raw NATS (baseline)", "raw", sec.raw],
    ["lattice", "lattice", sec.lattice],
    ["lattice, signed (session MAC)", "signed", sec.signed],
    ["lattice, signed (Ed25519)", "signedEd25519", sec.signedEd25519],
  ];
  const present = paths.filter(([, , p]) => p !== undefined);
  const rows = present.map(([label, , p]) => [label, f(p.callsPerSecond), f(p.callsPerSecond / sec.raw.callsPerSecond), ...summaryRow(p.latencyUs)]);
  const ratios = (["throughputRatio", "medianLatencyRatio", "p99LatencyRatio", "signedThroughputRatio", "signedMedianLatencyRatio", "signedEd25519ThroughputRatio"] as const).map((k) => [
    `\`${k}\``,
    f(sec[k]),
    targetFor(sec, k),
  ]);
  ctx.svgs.set(
    "invocation-latency.svg",
    rangePlot({
      title: "Invocation latency, one call at a time",
      value: { label: "µs per call (log)", scale: "log" },
      rows: present.map(([label, key, p]) => summaryRange(label, key === "raw" ? "raw NATS" : key === "lattice" ? "lattice" : "lattice, signed", p.latencyUs)),
      marks: "whisker min–max, bar median–p99, dot median",
    }),
  );
  return [
    table(["path", "calls/s (100 in flight)", "vs raw NATS", ...SUMMARY_HEAD.map((h) => (h === "runs" ? "latency runs" : `${h} µs`))], rows),
    "",
    table(["ratio", "value", "target"], ratios),
    "",
    img(ctx.svgDir, "invocation-latency.svg", "invocation latency per path"),
  ];
}

function ed25519(sec: KnownSections["ed25519"]): string[] {
  const impl = (["nodeCrypto", "webCrypto", "nkeys"] as const).filter((k) => sec[k]);
  return [table(["implementation", "sign µs", "verify µs"], [...impl.map((k) => [`\`${k}\``, f(sec[k].signUs), f(sec[k].verifyUs)]), ["HMAC-SHA256 (`hmacSha256Us`)", f(sec.hmacSha256Us), "—"]])];
}

function wrkRow(label: string, r: WrkResult, base: WrkResult, target: string): string[] {
  const l = r.latencyMs;
  const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
  return [label, f(r.requestsPerSecond), f(r.requestsPerSecond / base.requestsPerSecond), f(l.p50), f(l.p75), f(l.p90), f(l.p99), f(l.max), f(r.non2xx), f(errors), target];
}

function http(sec: KnownSections["http"], ctx: Ctx): string[] {
  const base = sec.plainNode;
  const rows = [
    wrkRow("plain Node (baseline)", base, base, "—"),
    wrkRow("http-hello", sec.hello, base, targetFor(sec, "hello.throughputRatio")),
    wrkRow("http-counter", sec.counter, base, targetFor(sec, "counter.throughputRatio")),
  ];
  const wrkRange = (label: string, series: string, r: WrkResult): RangeRow => ({ label, series, min: r.latencyMs.p50, low: r.latencyMs.p50, mid: r.latencyMs.p50, high: r.latencyMs.p99, max: r.latencyMs.max });
  ctx.svgs.set(
    "http-latency.svg",
    rangePlot({
      title: "HTTP latency under wrk, lattice vs plain Node",
      value: { label: "ms per request (log)", scale: "log" },
      rows: [wrkRange("plain Node", "plain Node", base), wrkRange("http-hello", "lattice", sec.hello), wrkRange("http-counter", "lattice", sec.counter)],
      marks: "bar p50–p99, whisker to max, dot p50",
    }),
  );
  const c = sec.counter;
  const { offeredPerSecond, acceptedPerSecond, capacityPerSecond, acceptedP50VsLoaded, acceptedP99VsLoaded, acceptedMs, refusedMs, errors, sent } = sec.overload;
  return [
    table(["path", "requests/s", "vs plain Node", "p50 ms", "p75 ms", "p90 ms", "p99 ms", "max ms", "non-2xx", "socket errors", "target"], rows),
    "",
    table(
      ["counter count", "value", "target"],
      [
        ["increments counted", f(c.counted), "—"],
        ["2xx answers seen by wrk", f(c.answered), "—"],
        ["exact: sent / ok / counted", `${f(c.exact.sent)} / ${f(c.exact.ok)} / ${f(c.exact.counted)}`, targetFor(sec, "count")],
      ],
    ),
    "",
    table(
      ["overload", "value", "target"],
      [
        ["capacity (hello at 32 connections), req/s", f(capacityPerSecond), "—"],
        ["offered, req/s", f(offeredPerSecond), "—"],
        ["sent", f(sent), "—"],
        ["accepted (2xx), req/s", f(acceptedPerSecond), "—"],
        ...Object.entries(sec.overload.byStatus).map(([s, n]) => [`answered ${s}`, f(n), "—"]),
        ["unanswered or failed", f(errors), targetFor(sec, "timeouts", "overload")],
        ["accepted p50 / p99 ms", `${f(acceptedMs.p50)} / ${f(acceptedMs.p99)}`, "—"],
        ["refused p50 / p99 ms", `${f(refusedMs.p50)} / ${f(refusedMs.p99)}`, "—"],
        ["accepted p50 vs loaded", f(acceptedP50VsLoaded), targetFor(sec, "p50", "overload")],
        ["accepted p99 vs loaded", f(acceptedP99VsLoaded), "—"],
      ],
    ),
    "",
    img(ctx.svgDir, "http-latency.svg", "HTTP latency, lattice vs plain Node"),
  ];
}

function browser(sec: KnownSections["browser"], ctx: Ctx): string[] {
  const actors: Array<[string, CallLatency]> = [
    ["echo (Wasm)", sec.echo],
    ["counter (JavaScript)", sec.counter],
  ];
  const rows = actors.flatMap(([name, c]) => [
    [name, "Node host (baseline)", ...summaryRow(c.node), "—"],
    [name, "browser tab", ...summaryRow(c.browser), f(c.medianRatio)],
  ]);
  ctx.svgs.set(
    "browser-latency.svg",
    rangePlot({
      title: "Calls into an actor in a browser tab vs on a Node host",
      value: { label: "ms per call (log)", scale: "log" },
      rows: actors.flatMap(([name, c]) => [summaryRange(`${name}, Node`, "Node host", c.node), summaryRange(`${name}, browser`, "browser tab", c.browser)]),
      marks: "whisker min–max, bar median–p90, dot median",
    }),
  );
  return [
    `Calls per round: ${f(sec.calls)}`,
    "",
    table(["actor", "host", ...SUMMARY_HEAD.map((h) => (h === "runs" ? h : `${h} ms`)), "median vs Node"], rows),
    "",
    img(ctx.svgDir, "browser-latency.svg", "browser vs Node call latency"),
  ];
}

function cli(sec: KnownSections["cli"], ctx: Ctx): string[] {
  const cmds = (["version", "help", "getHosts", "up", "startActor"] as const).filter((k) => sec[k]);
  const row = (label: string, t: CliTiming) => [label, ...summaryRow(t.ms), f(t.ratio), f(t.targetMs)];
  ctx.svgs.set(
    "cli-start.svg",
    rangePlot({
      title: "CLI wall time, spawn to exit",
      value: { label: "ms (log)", scale: "log" },
      rows: [summaryRange('node -e ""', "plain Node", sec.nodeBaselineMs), ...cmds.map((k) => ({ ...summaryRange(k, "lattice", sec[k].ms), target: sec[k].targetMs }))],
      marks: "whisker min–max, bar median–p90, dot median",
    }),
  );
  return [
    table(
      ["command", ...SUMMARY_HEAD.map((h) => (h === "runs" ? h : `${h} ms`)), 'median vs `node -e ""`', "target ms (median)"],
      [['`node -e ""` (baseline)', ...summaryRow(sec.nodeBaselineMs), "1", "—"], ...cmds.map((k) => row(`\`${k}\``, sec[k]))],
    ),
    "",
    img(ctx.svgDir, "cli-start.svg", "CLI start times beside plain Node"),
  ];
}

function dev(sec: KnownSections["dev"], ctx: Ctx): string[] {
  const r = sec.reportedMs;
  ctx.svgs.set(
    "dev-loop.svg",
    rangePlot({
      title: "lattice dev: a saved edit to the new version's first answer",
      value: { label: "ms (log)", scale: "log" },
      rows: [
        { ...summaryRange("save → answer", "measured", sec.saveToAnswerMs), target: sec.targetMs },
        summaryRange("reported: live", "reported by lattice dev", r.live),
        summaryRange("reported: build", "reported by lattice dev", r.build),
        summaryRange("reported: push", "reported by lattice dev", r.push),
        summaryRange("reported: start", "reported by lattice dev", r.start),
      ],
      marks: "whisker min–max, bar median–p90, dot median",
    }),
  );
  return [
    table(
      ["figure", ...SUMMARY_HEAD.map((h) => (h === "runs" ? h : `${h} ms`)), "target ms"],
      [
        ["save → answer", ...summaryRow(sec.saveToAnswerMs), f(sec.targetMs)],
        ["reported: live", ...summaryRow(r.live), "—"],
        ["reported: build", ...summaryRow(r.build), "—"],
        ["reported: push", ...summaryRow(r.push), "—"],
        ["reported: start", ...summaryRow(r.start), "—"],
      ],
    ),
    "",
    table(
      ["figure", "value", "target"],
      [
        ["first live, ms", f(sec.firstLiveMs), "—"],
        ["first build, ms", f(sec.firstBuildMs), "—"],
        ["calls", f(sec.calls), "—"],
        ["failed calls", f(sec.failedCalls), targetFor(sec, "failedCalls")],
        ["load average at start / end", `${f(sec.loadAverage.start)} / ${f(sec.loadAverage.end)}`, "—"],
      ],
    ),
    "",
    img(ctx.svgDir, "dev-loop.svg", "lattice dev save-to-answer and its phases"),
  ];
}

function presence(sec: KnownSections["presence"], ctx: Ctx): string[] {
  const modes = [...new Set(sec.points.map((p) => p.presence))];
  const series = (pick: (p: KnownSections["presence"]["points"][number]) => number) =>
    modes.map((m) => ({ name: m, points: sec.points.filter((p) => p.presence === m).map((p) => ({ x: p.hosts, y: pick(p) })) }));
  ctx.svgs.set(
    "presence.svg",
    linePlot({
      title: "Presence: server deliveries a second against host count",
      x: { label: "hosts (log)", scale: "log" },
      y: { label: "deliveries/s at the server (log)", scale: "log" },
      series: series((p) => p.server.deliveriesPerSec),
    }),
  );
  ctx.svgs.set(
    "presence-bytes.svg",
    linePlot({
      title: "Presence: bytes a second per host against host count",
      x: { label: "hosts (log)", scale: "log" },
      y: { label: "bytes/s per host (log)", scale: "log" },
      series: series((p) => p.perHost.bytesPerSec),
    }),
  );
  const rows = sec.points.map((p) => [
    p.presence,
    f(p.hosts),
    f(p.viewAllMs),
    f(p.startMs.median),
    f(p.startMs.p90),
    f(p.perHost.cpuPercent),
    f(p.perHost.bytesPerSec),
    f(p.server.inMsgsPerSec),
    f(p.server.deliveriesPerSec),
    f(p.server.bytesOutPerSec),
    f(p.joinNextMs),
    f(p.viewSeesNextMs),
    [targetFor(sec, "perHost", p.presence), targetFor(sec, "joinNextMs", p.presence)].filter((t) => t !== "—").join("; ") || "—",
  ]);
  return [
    `Steady window: ${f(sec.windowMs)} ms`,
    "",
    table(
      ["mode", "hosts", "view holds all, ms", "start median ms", "start p90 ms", "CPU % per host", "bytes/s per host", "server in msgs/s", "server deliveries/s", "server bytes out/s", "next host start, ms", "view sees next, ms", "target"],
      rows,
    ),
    "",
    table(
      ["mode", "growth (log-log slope of deliveries)", "target"],
      Object.entries(sec.growth).map(([m, g]) => [m, f(g), targetFor(sec, "growth", m)]),
    ),
    "",
    img(ctx.svgDir, "presence.svg", "server deliveries per second against hosts, per presence mode"),
    "",
    img(ctx.svgDir, "presence-bytes.svg", "bytes per second per host against hosts, per presence mode"),
  ];
}

function fanIn(sec: KnownSections["fanIn"], ctx: Ctx): string[] {
  const rows = sec.points.map((p) => [
    f(p.instances),
    f(p.raw.callsPerSecond),
    f(p.lattice.callsPerSecond),
    f(p.throughputRatio),
    f(p.raw.latencyMs.median),
    f(p.raw.latencyMs.p99),
    f(p.lattice.latencyMs.median),
    f(p.lattice.latencyMs.p99),
    `${f(p.raw.failed)} / ${f(p.lattice.failed)}`,
    targetFor(sec, "throughputRatio"),
  ]);
  ctx.svgs.set(
    "fan-in-latency.svg",
    rangePlot({
      title: "Fan-in: 100 callers into one actor, latency per call",
      value: { label: "ms per call (log)", scale: "log" },
      rows: sec.points.flatMap((p) => [summaryRange(`${p.instances} × raw NATS`, "raw NATS", p.raw.latencyMs), summaryRange(`${p.instances} × lattice`, "lattice", p.lattice.latencyMs)]),
      marks: "whisker min–max, bar median–p99, dot median",
    }),
  );
  ctx.svgs.set(
    "fan-in-throughput.svg",
    linePlot({
      title: "Fan-in: calls a second against instance count",
      x: { label: "instances (log)", scale: "log" },
      y: { label: "calls/s (log)", scale: "log" },
      series: [
        { name: "raw NATS", points: sec.points.map((p) => ({ x: p.instances, y: p.raw.callsPerSecond })) },
        { name: "lattice", points: sec.points.map((p) => ({ x: p.instances, y: p.lattice.callsPerSecond })) },
      ],
    }),
  );
  return [
    table(["instances", "raw NATS calls/s (baseline)", "lattice calls/s", "ratio", "raw p50 ms", "raw p99 ms", "lattice p50 ms", "lattice p99 ms", "failed raw / lattice", "target"], rows),
    "",
    img(ctx.svgDir, "fan-in-latency.svg", "fan-in latency per instance count, raw NATS vs lattice"),
    "",
    img(ctx.svgDir, "fan-in-throughput.svg", "fan-in throughput against instance count"),
  ];
}

function actorRuntime(sec: KnownSections["actorRuntime"]): string[] {
  const comps = Object.entries(sec).filter((e): e is [string, ActorRuntimeResult] => typeof e[1] === "object" && e[1] !== null);
  const figs = ["coldStartMs", "cachedStartMs", "warmStartMs", "callLatencyUs"] as const;
  return [
    table(
      ["component", "figure", ...SUMMARY_HEAD, "target"],
      comps.flatMap(([name, r]) => figs.filter((k) => r[k]).map((k) => [`\`${name}\``, `\`${k}\``, ...summaryRow(r[k]), targetFor(sec, k)])),
    ),
    "",
    table(
      ["component", "calls/s (64 in flight)", "MB per instance"],
      comps.map(([name, r]) => [`\`${name}\``, f(r.callsPerSecond), f(r.memoryPerInstanceMB)]),
    ),
  ];
}

/** The known sections in report order, each with its heading and renderer. */
const SECTIONS: { [K in keyof KnownSections]: { title: string; render: (sec: KnownSections[K], ctx: Ctx) => string[] } } = {
  hostDiscoveryMs: { title: "Host discovery", render: (s) => summarySection(s, "ms") },
  hostStartMs: { title: "Host start", render: (s) => summarySection(s, "ms") },
  invocation: { title: "Invocation: lattice vs raw NATS", render: invocation },
  ed25519: { title: "Ed25519 costs", render: ed25519 },
  appConvergeMs: { title: "App convergence after a host loss", render: (s) => summarySection(s, "ms") },
  http: { title: "HTTP: the README's apps vs plain Node", render: http },
  browser: { title: "Actors in a browser tab", render: browser },
  cli: { title: "CLI start times", render: cli },
  dev: { title: "`lattice dev`: save to answer", render: dev },
  presence: { title: "Presence cost against host count", render: presence },
  fanIn: { title: "Invocation fan-in", render: fanIn },
  actorRuntime: { title: "Actor runtime", render: actorRuntime },
};

/**
 * A known section by its renderer; one whose shape is not what its bench writes now (an older
 * run's) falls back to the table of its numbers, with a line saying why, and draws no plot.
 */
function renderKnown<K extends keyof KnownSections>(key: K, sec: KnownSections[K], ctx: Ctx): string[] {
  const svgs = new Map<string, string>();
  try {
    const lines = SECTIONS[key].render(sec, { ...ctx, svgs });
    for (const [file, svg] of svgs) ctx.svgs.set(file, svg);
    return [...lines, "", ...everyFigure(sec)];
  } catch (e) {
    return [`_\`${key}\` does not have the shape its bench writes now (${(e as Error).message}); its numbers:_`, "", leavesTable(sec, sec)];
  }
}

export function renderReport(run: BenchRun, opts: { source: string; svgDir: string }): Report {
  const ctx: Ctx = { svgDir: opts.svgDir, svgs: new Map() };
  const out: string[] = [
    "# Benchmark report",
    "",
    `Generated by \`npm run bench:report\` from \`${opts.source}\`, the JSON of one \`npm run bench\` run: every figure below comes from that run. Do not edit by hand; see [benchmarks.md](benchmarks.md) for how each benchmark works.`,
    "",
    "## Machine",
    "",
    table(
      ["", ""],
      [
        ["date", run.date ?? "—"],
        ["lattice version", run.lattice ?? "—"],
        ...Object.entries(run.machine ?? {}).map(([k, v]) => [k, typeof v === "number" ? f(v) : String(v)]),
      ],
    ),
    "",
  ];
  const known = Object.keys(SECTIONS) as Array<keyof KnownSections>;
  for (const key of known) {
    out.push(`## ${SECTIONS[key].title} (\`${key}\`)`, "");
    const sec = run.results[key];
    if (sec === undefined) {
      out.push(`_\`${key}\`: not in this run._`, "");
      continue;
    }
    out.push(...intro(sec), ...renderKnown(key, sec, ctx), "");
  }
  for (const [key, sec] of Object.entries(run.results)) {
    if ((known as string[]).includes(key)) continue;
    const described: Described = sec && typeof sec === "object" ? sec : {};
    out.push(`## \`${key}\``, "", ...intro(described), leavesTable(sec, described), "");
  }
  return { markdown: out.join("\n"), svgs: ctx.svgs };
}

/** The JSON of a full run (`{lattice, date, machine, results}`) or of an `--only` part (`{date, <part>...}`). */
export function parseRun(text: string, source: string): BenchRun {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new LatticeError(ErrorCode.BadRequest, `${source} is not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new LatticeError(ErrorCode.BadRequest, `${source}: expected the JSON object \`npm run bench\` writes`);
  const o = doc as Record<string, unknown>;
  if (o.results !== undefined) {
    if (!o.results || typeof o.results !== "object") throw new LatticeError(ErrorCode.BadRequest, `${source}: \`results\` is not an object`);
    return o as unknown as BenchRun;
  }
  const { lattice, date, machine, ...results } = o;
  return { lattice: lattice as string | undefined, date: date as string | undefined, machine: machine as Record<string, unknown> | undefined, results };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (!v) throw new LatticeError(ErrorCode.BadRequest, `${name} needs a path`);
  return v;
}

function main(): void {
  const input = arg("--in", "bench/results/latest.json");
  const out = arg("--out", "docs/benchmark-report.md");
  const svgDir = join(dirname(out), "bench");
  const report = renderReport(parseRun(readFileSync(input, "utf8"), input), { source: input, svgDir: "bench" });
  mkdirSync(svgDir, { recursive: true });
  for (const [file, svg] of report.svgs) writeFileSync(join(svgDir, file), svg);
  writeFileSync(out, report.markdown);
  process.stdout.write(`wrote ${out} and ${report.svgs.size} plots in ${svgDir}/ from ${basename(input)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
