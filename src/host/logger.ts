/**
 * The host layer's loggers, by the names the host's modules and `host/index.ts` import:
 * the interface lives in `protocol/logging.ts`, below every layer that logs, and the console
 * logger in `provider/console-logger.ts`, the lowest layer that writes one.
 */
export { silentLogger, type Logger, type LogLevel } from "../protocol/logging.js";
export { consoleLogger } from "../provider/console-logger.js";
