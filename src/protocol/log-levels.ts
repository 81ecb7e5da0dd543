/** The levels of log records (schema-free: the CLI's command tree checks `--level` with it). */

/** wasi:logging's levels, lowest first; a provider's `Logger` uses debug to error. */
export const LOG_RECORD_LEVELS = ["trace", "debug", "info", "warn", "error", "critical"] as const;
export type LogRecordLevel = (typeof LOG_RECORD_LEVELS)[number];

/** Whether `level` is `threshold` or above (`warn` lets warn, error and critical through). */
export function atLeast(level: LogRecordLevel, threshold: LogRecordLevel): boolean {
  return LOG_RECORD_LEVELS.indexOf(level) >= LOG_RECORD_LEVELS.indexOf(threshold);
}

/** A level as wasi:logging or a `Logger` names it, else info (an unknown name is not a reason to lose a record). */
export function recordLevel(level: string): LogRecordLevel {
  return (LOG_RECORD_LEVELS as readonly string[]).includes(level) ? (level as LogRecordLevel) : "info";
}
