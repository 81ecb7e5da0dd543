/**
 * A small SVG plotter for the benchmark report (no dependency): axes with ticks and labels on
 * linear or log scales, lines with markers, horizontal range bars, a legend. Every plot draws on
 * an explicit white background with dark ink so it reads the same in GitHub's light and dark
 * themes. Tick labels carry their value in `data-value` so a test can check them.
 */

export type ScaleKind = "linear" | "log";

export interface AxisSpec {
  label: string;
  scale: ScaleKind;
}

export interface LineSeries {
  name: string;
  points: Array<{ x: number; y: number }>;
}

export interface LinePlot {
  title: string;
  x: AxisSpec;
  y: AxisSpec;
  series: LineSeries[];
}

/** One horizontal bar: a whisker from min to max, a bar from `low` to `high`, a dot at `mid`. */
export interface RangeRow {
  label: string;
  /** Names the colour and the legend entry (e.g. "raw NATS", "lattice"). */
  series: string;
  min: number;
  low: number;
  mid: number;
  high: number;
  max: number;
  /** Drawn as a dashed mark when the run gives a numeric target for this row. */
  target?: number;
}

export interface RangePlot {
  title: string;
  value: AxisSpec;
  rows: RangeRow[];
  /** What the marks mean, e.g. "whisker min–max, bar median–p99, dot median". */
  marks: string;
}

const INK = "#222222";
const GRID = "#dddddd";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const FONT = `font-family="Helvetica, Arial, sans-serif"`;

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const fixed = (n: number) => Math.round(n * 100) / 100;

/** Short tick text: 1k, 2.5M, 0.01. */
export function tickText(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${fixed(v / 1e9)}G`;
  if (a >= 1e6) return `${fixed(v / 1e6)}M`;
  if (a >= 1e3) return `${fixed(v / 1e3)}k`;
  return String(Number(v.toPrecision(6)));
}

export interface Scale {
  /** Value → pixel. */
  map(v: number): number;
  ticks: number[];
}

/** A vertical grid line per tick of `s` from `top` to `bottom`, its value under the axis. */
function xGrid(s: Scale, top: number, bottom: number): string[] {
  return s.ticks.flatMap((t) => {
    const x = fixed(s.map(t));
    return [
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="${GRID}"/>`,
      `<text class="tick-x" data-value="${t}" x="${x}" y="${bottom + 16}" text-anchor="middle" fill="${INK}">${tickText(t)}</text>`,
    ];
  });
}

/** Ticks at 1, 2 or 5 × 10^k spanning [lo, hi], about `count` of them; the domain widened to the outer ticks. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

/** Powers of ten from below `lo` to above `hi` (both > 0). */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  let b = Math.ceil(Math.log10(hi));
  if (b === a) b = a + 1;
  return Array.from({ length: b - a + 1 }, (_, i) => Number((10 ** (a + i)).toPrecision(12)));
}

export function makeScale(kind: ScaleKind, values: number[], from: number, to: number): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (kind === "linear" || v > 0));
  const lo = finite.length ? Math.min(...finite) : kind === "log" ? 1 : 0;
  const hi = finite.length ? Math.max(...finite) : lo + 1;
  if (kind === "log") {
    const ticks = logTicks(lo, hi);
    const l0 = Math.log10(ticks[0]!);
    const l1 = Math.log10(ticks[ticks.length - 1]!);
    return { ticks, map: (v) => from + ((Math.log10(v) - l0) / (l1 - l0)) * (to - from) };
  }
  const ticks = linearTicks(Math.min(0, lo), hi);
  const t0 = ticks[0]!;
  const t1 = ticks[ticks.length - 1]!;
  return { ticks, map: (v) => from + ((v - t0) / (t1 - t0)) * (to - from) };
}

const colourOf = (names: string[]) => (name: string) => PALETTE[Math.max(0, names.indexOf(name)) % PALETTE.length]!;

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold" fill="${INK}">${escapeXml(title)}</text>`,
    ...body,
    `</svg>`,
    "",
  ].join("\n");
}

function legend(names: string[], x: number, y: number): string[] {
  const colour = colourOf(names);
  return names.flatMap((n, i) => [
    `<rect x="${x}" y="${y + i * 18 - 9}" width="12" height="12" fill="${colour(n)}"/>`,
    `<text class="legend" x="${x + 18}" y="${y + i * 18 + 1}" fill="${INK}">${escapeXml(n)}</text>`,
  ]);
}

/** Log or linear x and y, one polyline with circle markers per series, legend on the right. */
export function linePlot(p: LinePlot): string {
  const W = 720;
  const H = 420;
  const m = { left: 80, right: 150, top: 40, bottom: 60 };
  const all = p.series.flatMap((s) => s.points);
  const xs = makeScale(p.x.scale, all.map((q) => q.x), m.left, W - m.right);
  const ys = makeScale(p.y.scale, all.map((q) => q.y), H - m.bottom, m.top);
  const colour = colourOf(p.series.map((s) => s.name));
  const body: string[] = [];
  body.push(...xGrid(xs, m.top, H - m.bottom));
  for (const t of ys.ticks) {
    const y = fixed(ys.map(t));
    body.push(`<line x1="${m.left}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="${GRID}"/>`);
    body.push(`<text class="tick-y" data-value="${t}" x="${m.left - 6}" y="${y + 4}" text-anchor="end" fill="${INK}">${tickText(t)}</text>`);
  }
  body.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="${INK}"/>`);
  body.push(`<text class="axis-label" x="${(m.left + W - m.right) / 2}" y="${H - 18}" text-anchor="middle" fill="${INK}">${escapeXml(p.x.label)}</text>`);
  body.push(`<text class="axis-label" x="18" y="${(m.top + H - m.bottom) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(m.top + H - m.bottom) / 2})" fill="${INK}">${escapeXml(p.y.label)}</text>`);
  for (const s of p.series) {
    const pts = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y) && (p.x.scale === "linear" || q.x > 0) && (p.y.scale === "linear" || q.y > 0));
    const c = colour(s.name);
    body.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    body.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((q) => `${fixed(xs.map(q.x))},${fixed(ys.map(q.y))}`).join(" ")}"/>`);
    for (const q of pts) body.push(`<circle cx="${fixed(xs.map(q.x))}" cy="${fixed(ys.map(q.y))}" r="4" fill="${c}"><title>${escapeXml(`${s.name}: ${q.x}, ${q.y}`)}</title></circle>`);
    body.push(`</g>`);
  }
  body.push(...legend(p.series.map((s) => s.name), W - m.right + 16, m.top + 10));
  return frame(W, H, p.title, body);
}

/** One horizontal range bar per row, labels on the left, the value axis along the bottom. */
export function rangePlot(p: RangePlot): string {
  const W = 720;
  const rowH = 24;
  const m = { left: 200, right: 30, top: 40, bottom: 80 };
  const H = m.top + p.rows.length * rowH + m.bottom;
  const vs = makeScale(p.value.scale, p.rows.flatMap((r) => [r.min, r.low, r.mid, r.high, r.max, ...(r.target === undefined ? [] : [r.target])]), m.left, W - m.right);
  const names = [...new Set(p.rows.map((r) => r.series))];
  const colour = colourOf(names);
  const clamp = (v: number) => fixed(vs.map(p.value.scale === "log" && !(v > 0) ? vs.ticks[0]! : v));
  const body: string[] = [];
  const bottom = m.top + p.rows.length * rowH;
  body.push(...xGrid(vs, m.top, bottom));
  body.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${bottom - m.top}" fill="none" stroke="${INK}"/>`);
  body.push(`<text class="axis-label" x="${(m.left + W - m.right) / 2}" y="${bottom + 36}" text-anchor="middle" fill="${INK}">${escapeXml(p.value.label)}</text>`);
  p.rows.forEach((r, i) => {
    const y = m.top + i * rowH + rowH / 2;
    const c = colour(r.series);
    body.push(`<g class="range" data-series="${escapeXml(r.series)}">`);
    body.push(`<text class="row-label" x="${m.left - 8}" y="${y + 4}" text-anchor="end" fill="${INK}">${escapeXml(r.label)}</text>`);
    body.push(`<line x1="${clamp(r.min)}" y1="${y}" x2="${clamp(r.max)}" y2="${y}" stroke="${c}" stroke-width="1.5"/>`);
    for (const v of [r.min, r.max]) body.push(`<line x1="${clamp(v)}" y1="${y - 5}" x2="${clamp(v)}" y2="${y + 5}" stroke="${c}" stroke-width="1.5"/>`);
    body.push(`<rect x="${clamp(r.low)}" y="${y - 7}" width="${fixed(Math.max(1, clamp(r.high) - clamp(r.low)))}" height="14" fill="${c}" fill-opacity="0.45" stroke="${c}"/>`);
    body.push(`<circle cx="${clamp(r.mid)}" cy="${y}" r="4" fill="${INK}"><title>${escapeXml(`${r.label}: ${r.mid}`)}</title></circle>`);
    if (r.target !== undefined) body.push(`<line class="target" x1="${clamp(r.target)}" y1="${y - 10}" x2="${clamp(r.target)}" y2="${y + 10}" stroke="${INK}" stroke-width="2" stroke-dasharray="3 2"/>`);
    body.push(`</g>`);
  });
  const targetNote = p.rows.some((r) => r.target !== undefined) ? ", dashed mark target" : "";
  body.push(`<text class="marks" x="${m.left}" y="${bottom + 56}" fill="${INK}">${escapeXml(p.marks + targetNote)}</text>`);
  const legendX = m.left;
  names.forEach((n, i) => {
    const x = legendX + i * 150;
    body.push(`<rect x="${x}" y="${bottom + 64}" width="12" height="12" fill="${colour(n)}"/>`);
    body.push(`<text class="legend" x="${x + 18}" y="${bottom + 74}" fill="${INK}">${escapeXml(n)}</text>`);
  });
  return frame(W, H, p.title, body);
}
