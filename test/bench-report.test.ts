/** The benchmark report (bench/report.ts, bench/svg-plot.ts) rendered from a small hand-made run. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatNumber, numericLeaves, parseRun, renderReport, type BenchRun } from "../bench/report.js";
import { linearTicks, logTicks } from "../bench/svg-plot.js";

const summary = (runs: number, median: number, p90: number, min: number, max: number) => ({ runs, median, p90, min, max });
const wrk = (rps: number, p50: number, p99: number) => ({
  requests: rps * 20,
  seconds: 20,
  requestsPerSecond: rps,
  latencyMs: { p50, p75: p50 * 1.5, p90: p50 * 2, p99, max: p99 * 3 },
  non2xx: 0,
  errors: { connect: 0, read: 0, write: 0, timeout: 0 },
});
const presencePoint = (hosts: number, presence: "full" | "lean", deliveries: number, bytesPerHost: number) => ({
  hosts,
  presence,
  viewAllMs: hosts * 7.5,
  startMs: summary(hosts, 14.1, 36.8, 8.4, 86.1),
  perHost: { cpuPercent: 0.05, bytesPerSec: bytesPerHost },
  server: { inMsgsPerSec: hosts * 0.99, deliveriesPerSec: deliveries, bytesOutPerSec: deliveries * 551 },
  joinNextMs: 15.5,
  viewSeesNextMs: 18.25,
});
const fanPath = (cps: number, median: number) => ({ callsPerSecond: cps, latencyMs: { ...summary(4000, median, median * 2, 0.4, 90.5), p99: median * 4 }, failed: 0 });
const cliTiming = (median: number, ratio: number, targetMs: number) => ({ ms: summary(5, median, median + 3, median - 2, median + 9), ratio, targetMs });

/** Every known section, plus one the renderer does not know. */
const RUN = {
  lattice: "0.1.0",
  date: "2026-12-02T01:08:20.803Z",
  machine: { node: "v20.20.2", cpus: 2, cpu: "Test CPU 9000", natsServer: "2.9.10" },
  results: {
    hostDiscoveryMs: { description: "host seen by another", target: "median <= 50", ...summary(20, 6.765, 14.266, 4.827, 15.825) },
    invocation: {
      description: "lattice vs raw NATS request-reply",
      targets: "throughputRatio >= 0.7, medianLatencyRatio <= 1.5, signedThroughputRatio >= 0.85",
      raw: { callsPerSecond: 37626, latencyUs: { ...summary(3000, 303.219, 393.841, 95.503, 4746.182), p99: 1177.76 } },
      lattice: { callsPerSecond: 28739, latencyUs: { ...summary(3000, 299.216, 374.45, 107.479, 3979.613), p99: 1481.834 } },
      throughputRatio: 0.76,
      medianLatencyRatio: 0.99,
      p99LatencyRatio: 1.26,
      signed: { callsPerSecond: 20882, latencyUs: { ...summary(3000, 323.086, 440.633, 185.586, 8500.667), p99: 1239.743 } },
      signedThroughputRatio: 0.73,
      signedMedianLatencyRatio: 1.08,
      signedEd25519: { callsPerSecond: 5874, latencyUs: { ...summary(3000, 610.057, 811.276, 346.113, 18431.966), p99: 1639.454 } },
      signedEd25519ThroughputRatio: 0.2,
    },
    http: {
      description: "the README's apps over real HTTP",
      targets: "hello.throughputRatio >= 0.25 with p99 <= 20 ms; counter.throughputRatio >= 0.10, count exact; overload: 503s not timeouts, accepted p50 <= 3x loaded",
      plainNode: wrk(44007, 0.678, 7.36),
      hello: { ...wrk(3020, 10.08, 30.95), throughputRatio: 0.069 },
      counter: { ...wrk(555, 55.56, 110.93), throughputRatio: 0.013, counted: 11187, answered: 11155, exact: { sent: 1000, ok: 1000, counted: 1000 } },
      overload: {
        offeredPerSecond: 6040,
        sent: 60400,
        seconds: 10.2,
        byStatus: { "200": 12849, "503": 47551 },
        errors: 0,
        acceptedPerSecond: 1202,
        acceptedMs: { p50: 1161.58, p99: 1730.91 },
        refusedMs: { p50: 1032.18, p99: 1697.99 },
        capacityPerSecond: 3020,
        acceptedP50VsLoaded: 115.236,
        acceptedP99VsLoaded: 55.926,
      },
    },
    cli: {
      description: "wall ms of the compiled lattice command",
      targets: "version <= 150, getHosts <= 300",
      nodeBaselineMs: summary(5, 41.5, 44.5, 39.5, 50.5),
      version: cliTiming(91.5, 2.2, 150),
      help: cliTiming(97.25, 2.34, 150),
      getHosts: cliTiming(261.5, 6.3, 300),
      up: cliTiming(1234.5, 29.7, 3000),
      startActor: cliTiming(319.75, 7.7, 1000),
    },
    presence: {
      description: "N real hosts, one live view watching",
      targets: "lean: perHost flat from 10 to 1000, growth <= 1.1, joinNextMs at 1000 < 100",
      windowMs: 5000,
      points: [presencePoint(10, "full", 111.4, 6182.4), presencePoint(100, "full", 9666.2, 53724.7), presencePoint(10, "lean", 9.9, 552.1), presencePoint(1000, "lean", 1020.3, 563.2)],
      growth: { full: 1.91, lean: 1.01 },
    },
    fanIn: {
      description: "100 callers into one actor",
      target: "throughputRatio >= 0.7 at 20 instances",
      points: [
        { instances: 1, raw: fanPath(21111, 4.25), lattice: fanPath(7777, 12.5), throughputRatio: 0.37 },
        { instances: 20, raw: fanPath(23456, 4.1), lattice: fanPath(17654, 5.6), throughputRatio: 0.75 },
      ],
    },
    hostStartMs: { description: "start() resolved", ...summary(20, 6.433, 13.894, 4.621, 15.324) },
    ed25519: { description: "Ed25519 per operation", webCrypto: { signUs: 103, verifyUs: 178 }, nodeCrypto: { signUs: 44, verifyUs: 112 }, nkeys: { signUs: 7797, verifyUs: 9880 }, hmacSha256Us: 5 },
    appConvergeMs: { description: "one host SIGKILLed", target: "median <= 5000", ...summary(3, 336, 350, 327, 632), samples: [347, 336, 632] },
    browser: {
      description: "calls into a browser tab's host",
      echo: { browser: summary(300, 1.45, 2.1, 0.9, 12.5), node: summary(300, 0.61, 0.8, 0.35, 7.25), medianRatio: 2.38 },
      counter: { browser: summary(300, 3.75, 4.5, 2.25, 19.5), node: summary(300, 1.95, 2.6, 1.15, 9.75), medianRatio: 1.92 },
      calls: 300,
    },
    dev: {
      description: "lattice dev on a copy of the echo example",
      target: "saveToAnswerMs median <= 2000; failedCalls 0",
      saveToAnswerMs: summary(5, 1432.5, 1610.25, 1301.5, 1702.75),
      targetMs: 2000,
      reportedMs: { live: summary(5, 1390.5, 1550.5, 1250.5, 1650.5), build: summary(5, 1011.5, 1100.5, 950.5, 1200.5), push: summary(5, 21.5, 30.5, 15.5, 40.5), start: summary(5, 301.5, 350.5, 250.5, 400.5) },
      firstLiveMs: 9876.5,
      firstBuildMs: 7654.5,
      calls: 1234,
      failedCalls: 0,
      loadAverage: { start: 1.87, end: 2.43 },
    },
    actorRuntime: {
      description: "one process, no NATS",
      targets: "warmStartMs median <= 20, callLatencyUs median <= 50",
      watEcho: {
        coldStartMs: summary(10, 921.681, 1049.334, 764.195, 1051.015),
        cachedStartMs: summary(10, 301.531, 331.785, 271.066, 352.977),
        warmStartMs: summary(20, 6.161, 9.146, 1.873, 12.793),
        callLatencyUs: summary(5000, 38.585, 123.754, 15.038, 19690.774),
        callsPerSecond: 8428,
        memoryPerInstanceMB: 24.7,
      },
    },
    memory: { description: "RSS of a host with N actors", target: "rssMB <= 200", rssMB: 187.25, perActor: { kb: 4321 } },
  },
} satisfies BenchRun;

function without<T extends object>(o: T, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

function render(run: BenchRun = RUN) {
  return renderReport(run, { source: "fixture.json", svgDir: "bench" });
}

/** The markdown table row whose first cell is `first`. */
function row(md: string, first: string): string {
  const line = md.split("\n").find((l) => l.startsWith(`| ${first} |`));
  assert.ok(line, `a row starting "${first}"`);
  return line;
}

/** A minimal XML check: one root element, every tag closed in order, attributes quoted. */
function xmlElements(svg: string): Array<{ name: string; attrs: Record<string, string> }> {
  const stack: string[] = [];
  const seen: Array<{ name: string; attrs: Record<string, string> }> = [];
  let roots = 0;
  const text = svg.trim();
  for (const m of text.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, close, name, attrText, self] = m;
    if (close) {
      assert.equal(stack.pop(), name, `</${name}> closes what was opened`);
      continue;
    }
    if (stack.length === 0) roots++;
    const attrs = Object.fromEntries([...attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
    seen.push({ name: name!, attrs });
    if (!self) stack.push(name!);
  }
  assert.equal(stack.length, 0, "every element closed");
  assert.equal(roots, 1, "one root element");
  assert.ok(text.startsWith("<svg") && text.endsWith("</svg>"), "the root is <svg>");
  // Nothing tag-like the pattern above did not account for (an unquoted attribute, a stray "<").
  assert.equal(text.replace(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g, "").includes("<"), false, "no malformed tag");
  return seen;
}

describe("benchmark report", () => {
  it("prints each figure beside its baseline and target", () => {
    const { markdown: md } = render();
    assert.match(md, /2026-12-02T01:08:20\.803Z/);
    assert.match(md, /Test CPU 9000/);

    const raw = row(md, "raw NATS (baseline)");
    for (const v of ["37,626", "303.219", "1,177.76"]) assert.ok(raw.includes(v), `raw row has ${v}`);
    const lattice = row(md, "lattice");
    for (const v of ["28,739", "299.216", "1,481.834", formatNumber(28739 / 37626)]) assert.ok(lattice.includes(v), `lattice row has ${v}`);
    assert.ok(row(md, "`throughputRatio`").includes("| 0.76 | throughputRatio >= 0.7 |"));
    assert.ok(row(md, "`signedThroughputRatio`").includes("| 0.73 | signedThroughputRatio >= 0.85 |"));

    assert.ok(row(md, "plain Node (baseline)").includes("| 44,007 | 1 |"));
    const hello = row(md, "http-hello");
    for (const v of ["3,020", "10.08", "30.95", "hello.throughputRatio >= 0.25 with p99 <= 20 ms"]) assert.ok(hello.includes(v), `hello row has ${v}`);
    assert.ok(row(md, "http-counter").includes("counter.throughputRatio >= 0.10"));
    assert.ok(row(md, "accepted p50 vs loaded").includes("| 115.236 | overload: accepted p50 <= 3x loaded |"));

    assert.ok(row(md, '`node -e ""` (baseline)').includes("| 41.5 |"));
    assert.ok(row(md, "echo (Wasm) | browser tab").includes("| 1.45 |") && row(md, "echo (Wasm) | browser tab").includes("| 2.38 |"));
    assert.ok(row(md, "echo (Wasm) | Node host (baseline)").includes("| 0.61 |"));
    assert.ok(row(md, "save → answer").includes("| 1,432.5 |") && row(md, "save → answer").endsWith("| 2,000 |"));
    assert.ok(row(md, "failed calls").includes("| 0 | failedCalls 0 |"));
    assert.ok(row(md, "`watEcho` | `warmStartMs`").includes("| 6.161 |") && row(md, "`watEcho` | `warmStartMs`").endsWith("| warmStartMs median <= 20 |"));
    assert.ok(row(md, "`nkeys`").includes("| 7,797 | 9,880 |"));
    assert.ok(row(md, "`getHosts`").includes("| 261.5 |") && row(md, "`getHosts`").includes("| 6.3 | 300 |"));

    const fan = row(md, "20 | 23,456");
    for (const v of ["23,456", "17,654", "0.75", "throughputRatio >= 0.7 at 20 instances"]) assert.ok(fan.includes(v), `fan-in row has ${v}`);

    // lean's growth target is lean's alone.
    assert.ok(md.includes("| lean | 1.01 | lean: growth <= 1.1 |"), "lean has its growth target");
    assert.ok(md.includes("| full | 1.91 | — |"), "full has no growth target");
  });

  it("leaves no number of the run out, and invents none", () => {
    const { markdown: md } = render();
    for (const [section, sec] of Object.entries(RUN.results)) {
      for (const [path, v] of numericLeaves(sec)) assert.ok(md.includes(formatNumber(v)), `${section}.${path} = ${v} is in the report`);
    }
    // Every number in the markdown (outside the fixed wording) is one of the run's, or a ratio of two of them.
    const known = new Set(numericLeaves(RUN).map(([, v]) => formatNumber(v)));
    const lattice = row(md, "lattice");
    const cells = lattice.split("|").slice(2, -1).map((c) => c.trim());
    assert.deepEqual(
      cells.filter((c) => !known.has(c)),
      [formatNumber(28739 / 37626)],
      "the lattice row holds the run's numbers and its ratio to raw NATS",
    );
  });

  it("says when a section is not in the run", () => {
    const { markdown: md, svgs } = render({ ...RUN, results: without(RUN.results, "browser", "dev") });
    assert.match(md, /_`browser`: not in this run\._/);
    assert.match(md, /_`dev`: not in this run\._/);
    assert.doesNotMatch(md, /_`invocation`: not in this run\._/);
    assert.equal(svgs.has("browser-latency.svg") || md.includes("browser-latency.svg"), false, "no plot for what is not there");
    assert.doesNotMatch(render().markdown, /not in this run/);
  });

  it("shows an older run's section of another shape as a table of its numbers", () => {
    const oldHttp = without(RUN.results.http, "overload");
    const { markdown: md, svgs } = render({ ...RUN, results: { ...RUN.results, http: oldHttp } as unknown as BenchRun["results"] });
    assert.match(md, /_`http` does not have the shape its bench writes now \(.+\); its numbers:_/);
    assert.ok(row(md, "`hello.requestsPerSecond`").includes("| 3,020 | hello.throughputRatio >= 0.25 with p99 <= 20 ms |"));
    assert.equal(svgs.has("http-latency.svg"), false, "no half-drawn plot");
    assert.ok(svgs.has("invocation-latency.svg"), "the other sections render as before");
  });

  it("gives an unknown section a table of its numbers", () => {
    const { markdown: md } = render();
    assert.match(md, /## `memory`/);
    assert.match(md, /RSS of a host with N actors/);
    assert.ok(row(md, "`rssMB`").includes("| 187.25 | rssMB <= 200 |"));
    assert.ok(row(md, "`perActor.kb`").includes("| 4,321 |"));
  });

  it("draws presence against host count, log-log, one line per mode", () => {
    const svg = render().svgs.get("presence.svg");
    assert.ok(svg, "presence.svg is drawn");
    const els = xmlElements(svg);
    assert.ok(svg.includes('fill="#ffffff"'), "a white background");
    for (const mode of ["full", "lean"]) {
      const g = svg.slice(svg.indexOf(`data-series="${mode}"`), svg.indexOf("</g>", svg.indexOf(`data-series="${mode}"`)));
      assert.equal((g.match(/<polyline /g) ?? []).length, 1, `one line for ${mode}`);
      assert.equal((g.match(/<circle /g) ?? []).length, 2, `a marker per ${mode} point`);
    }
    const labels = [...svg.matchAll(/class="axis-label"[^>]*>([^<]*)</g)].map((m) => m[1]);
    assert.deepEqual(labels, ["hosts (log)", "deliveries/s at the server (log)"]);
    for (const axis of ["tick-x", "tick-y"]) {
      const ticks = els.filter((e) => e.attrs.class === axis).map((e) => Number(e.attrs["data-value"]));
      assert.ok(ticks.length >= 2, `${axis} has ticks`);
      for (const t of ticks) assert.equal(Math.log10(t), Math.round(Math.log10(t)), `${axis} tick ${t} is a power of ten`);
    }
    const yTicks = els.filter((e) => e.attrs.class === "tick-y").map((e) => Number(e.attrs["data-value"]));
    assert.deepEqual(yTicks, [1, 10, 100, 1000, 10000], "y ticks span 9.9 to 9,666.2");
  });

  it("draws every latency plot as well-formed SVG with its paths", () => {
    const { markdown: md, svgs } = render();
    assert.deepEqual([...svgs.keys()].sort(), ["browser-latency.svg", "cli-start.svg", "dev-loop.svg", "fan-in-latency.svg", "fan-in-throughput.svg", "http-latency.svg", "invocation-latency.svg", "presence-bytes.svg", "presence.svg"]);
    for (const [file, svg] of svgs) {
      xmlElements(svg);
      assert.ok(md.includes(`](bench/${file})`), `the report shows ${file}`);
    }
    const inv = svgs.get("invocation-latency.svg")!;
    for (const label of ["raw NATS (baseline)", "lattice", "lattice, signed (session MAC)", "lattice, signed (Ed25519)"]) assert.ok(inv.includes(`>${label}</text>`), label);
    assert.equal((svgs.get("fan-in-latency.svg")!.match(/class="range"/g) ?? []).length, 4, "raw and lattice at 1 and 20 instances");
    const cliTargets = xmlElements(svgs.get("cli-start.svg")!).filter((e) => e.name === "line" && e.attrs.class === "target");
    assert.equal(cliTargets.length, 5, "a target mark per command, none for the baseline");
  });

  it("picks ticks: powers of ten on a log scale, 1-2-5 steps on a linear one", () => {
    assert.deepEqual(logTicks(95.5, 18431.966), [10, 100, 1000, 10000, 100000]);
    assert.deepEqual(logTicks(0.678, 0.9), [0.1, 1]);
    assert.deepEqual(linearTicks(0, 9.3), [0, 2, 4, 6, 8, 10]);
  });

  it("reads an --only part's JSON, and refuses what is not a run", () => {
    const run = parseRun(JSON.stringify({ date: "2026-12-02T06:30:13.685Z", presence: RUN.results.presence }), "scale.json");
    assert.deepEqual(Object.keys(run.results), ["presence"]);
    assert.throws(() => parseRun("{not json", "bad.json"), (e: Error & { code?: string }) => e.code === "bad_request" && /bad\.json is not JSON/.test(e.message));
    assert.throws(() => parseRun("[1,2]", "list.json"), (e: Error & { code?: string }) => e.code === "bad_request");
  });

  it("writes the markdown and the plots from the command line", () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-report-"));
    try {
      writeFileSync(join(dir, "run.json"), JSON.stringify(RUN));
      const script = fileURLToPath(new URL("../bench/report.js", import.meta.url));
      execFileSync(process.execPath, [script, "--in", join(dir, "run.json"), "--out", join(dir, "docs", "report.md")], { stdio: "pipe" });
      const md = readFileSync(join(dir, "docs", "report.md"), "utf8");
      assert.equal(md, render().markdown.replace("fixture.json", join(dir, "run.json")));
      assert.deepEqual(readdirSync(join(dir, "docs", "bench")).sort(), [...render().svgs.keys()].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
