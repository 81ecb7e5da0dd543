/** Printing: aligned tables for people, JSON for programs, and the one way each unit is written. */
import { labelText } from "../protocol/names.js";

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

/** What every message of the CLI on stderr starts with. */
export const MESSAGE_PREFIX = "lattice: ";

/** A line on stderr about something the user may want to change; the command goes on. */
export function warn(message: string): void {
  process.stderr.write(`${MESSAGE_PREFIX}warning: ${message}\n`);
}

export function formatLabels(labels: Record<string, string>): string {
  return labelText(labels) || "-";
}

/** Bytes in decimal units, as `push`, `build` and `get artifacts` all print them: 950 B, 1.2 MB, 12.0 MB, 240 MB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  let v = n;
  let unit = "B";
  for (const u of ["kB", "MB", "GB", "TB"]) {
    if (v < 1000) break;
    v /= 1000;
    unit = u;
  }
  return `${v < 100 ? v.toFixed(1) : Math.round(v).toString()} ${unit}`;
}

/**
 * A duration as the CLI's flags take it: `500ms`, `1.5s`, `20s`, `2m`, then `1m30s`, `2h5m`,
 * `3d4h` (seconds and below dropped from an hour on). What a user gave as `20s` prints as `20s`.
 */
export function formatDuration(ms: number): string {
  const t = Math.max(0, ms);
  if (t === 0) return "0s";
  if (t < 1_000) return `${Math.round(t)}ms`;
  if (t < 60_000) return `${trimmed(t / 1_000)}s`;
  const s = Math.floor(t / 1_000);
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string) => `${big}${bigUnit}${small > 0 ? `${small}${smallUnit}` : ""}`;
  if (s < 3_600) return pair(Math.floor(s / 60), "m", s % 60, "s");
  if (s < 86_400) return pair(Math.floor(s / 3_600), "h", Math.floor((s % 3_600) / 60), "m");
  return pair(Math.floor(s / 86_400), "d", Math.floor((s % 86_400) / 3_600), "h");
}

/** At most one decimal, none when it is 0: 7.25 → "7.3", 20 → "20". */
function trimmed(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}

/** How long ago an RFC 3339 time was, to the second: `20s ago`, `3h5m ago`. */
export function formatAge(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  return `${formatDuration(Math.floor(Math.max(0, now - then) / 1_000) * 1_000)} ago`;
}

/** The exit status once the reader of the output went away: 128 + SIGPIPE, what a Unix tool that SIGPIPE ended reports. */
export const EXIT_CLOSED_PIPE = 141;

let readerGone = false;

/** Whether a write found the other end of stdout or stderr closed (`lattice get inventory | head -1`). */
export function readerWentAway(): boolean {
  return readerGone;
}

/**
 * Stop quietly, as a Unix tool does, when the reader of stdout or stderr goes away: Node ignores
 * SIGPIPE, so the next write fails with EPIPE, an error event that would otherwise crash the
 * command with a stack. A command that waits for a signal to stop (up, host, events, build) is
 * stopped that way, so it cleans up after itself; any other exits at once.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      // Once the pipe is gone, later writes fail too (EPIPE, or "write after destroy").
      if (readerGone) return;
      if (e.code !== "EPIPE") throw e;
      readerGone = true;
      if (process.listenerCount("SIGTERM") > 0) process.emit("SIGTERM", "SIGTERM");
      else process.exit(EXIT_CLOSED_PIPE);
    });
  }
}
