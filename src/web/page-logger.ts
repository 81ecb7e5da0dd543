/** A `Logger` for a page: the console, and the last lines in an element of the page. */
import { logsAt, type Logger, type LogLevel } from "../protocol/logging.js";

const LINES = 200;

export function pageLogger(into: HTMLElement, level: LogLevel = "info"): Logger {
  const at = (l: Exclude<LogLevel, "silent">) => (msg: string, fields?: Record<string, unknown>) => {
    if (!logsAt(level, l)) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    const line = `${new Date().toISOString().slice(11, 23)} ${l.toUpperCase().padEnd(5)} ${msg}${extra}`;
    (l === "error" ? console.error : l === "warn" ? console.warn : console.log)(line);
    const row = document.createElement("div");
    row.className = `log-${l}`;
    row.textContent = line;
    into.prepend(row);
    while (into.childElementCount > LINES) into.lastElementChild?.remove();
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
