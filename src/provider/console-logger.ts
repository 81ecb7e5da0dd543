/** A `Logger` that writes one line per entry on stderr: time, level, message, then fields as JSON. */
import { logsAt, type Logger, type LogLevel } from "../protocol/logging.js";

export function consoleLogger(level: LogLevel = "info", prefix = ""): Logger {
  const at = (l: Exclude<LogLevel, "silent">) => (msg: string, fields?: Record<string, unknown>) => {
    if (!logsAt(level, l)) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    console.error(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${prefix}${msg}${extra}`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
