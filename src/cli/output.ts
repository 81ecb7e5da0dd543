/** Printing: aligned tables for people, JSON for programs. */
export type OutputFormat = "text" | "json";

/** JSON for people and scripts: BigInt as a number when exact (else a string), bytes as base64. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  // Before JSON.stringify sees it: a Buffer would otherwise turn itself into {type, data}.
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value === undefined ? null : plain(value), null, 2) + "\n");
}

/** One JSON document per line, for streams. */
export function printJsonLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}

export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ");
  process.stdout.write([line(headers), ...rows.map(line)].join("\n") + "\n");
}

export function formatLabels(labels: Record<string, string>): string {
  const s = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return s || "-";
}

export function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}
