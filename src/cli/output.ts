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

/** What every message of the CLI on stderr starts with. */
export const MESSAGE_PREFIX = "lattice: ";

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
 * command with a stack. A command that waits for a signal to stop (up, host, events) is
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
