/**
 * The little logging surface every layer logs through: a host's CLI prints it, a library user
 * plugs in their own, a provider process sends its records to its host. Pure: where lines go is
 * up to whoever implements `Logger`.
 */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const nothing = (): void => {};
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** Whether a logger set to `threshold` writes an entry of `level`. */
export function logsAt(threshold: LogLevel, level: Exclude<LogLevel, "silent">): boolean {
  return RANK[level] >= RANK[threshold];
}
