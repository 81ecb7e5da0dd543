/**
 * Durations and sizes as people write them in config values and flags: `1500` (ms), `500ms`,
 * `10s`, `2m`, `1h`; `1048576`, `512k`, `8m` (binary units). One reading for every place that
 * takes them, so a link config, an actor config and a CLI flag agree.
 */
import { ErrorCode, LatticeError } from "./errors.js";

/** How long a call may take when its caller sets no timeout (invocation.ts re-exports it). */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds (at least 1). Throws `bad_request` naming `what`. */
export function parseDuration(text: string, what = "duration"): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new LatticeError(ErrorCode.BadRequest, `invalid ${what} ${JSON.stringify(text)}: expected e.g. 1500, 500ms, 10s or 2m`);
  const ms = Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? "ms") as keyof typeof UNIT_MS]);
  if (ms < 1) throw new LatticeError(ErrorCode.BadRequest, `invalid ${what} ${JSON.stringify(text)}: at least 1 ms`);
  return ms;
}

/** A config value as a duration, or `fallback` when it is not set. */
export function durationOr(text: string | undefined, fallback: number, what: string): number {
  return text === undefined || text.trim() === "" ? fallback : parseDuration(text, what);
}

/** A config value as bytes, or `fallback` when it is not set. Throws `bad_request` naming `what`. */
export function sizeOr(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined || text.trim() === "") return fallback;
  const m = /^(\d+)\s*([kKmM]i?[bB]?)?$/.exec(text.trim());
  if (!m) throw new LatticeError(ErrorCode.BadRequest, `invalid ${what} ${JSON.stringify(text)}: expected bytes, e.g. 1048576, 512k or 8m`);
  const unit = m[2]?.[0]?.toLowerCase();
  return Number(m[1]) * (unit === "m" ? 1024 * 1024 : unit === "k" ? 1024 : 1);
}
