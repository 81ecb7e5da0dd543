/**
 * The host layer's loggers, by the names its users import (`host/index.ts`, the reconciler):
 * the interface lives in `protocol/logging.ts`, below every layer that logs, and the console
 * logger in `provider/console-logger.ts`, the lowest layer that writes one.
 */
export { silentLogger, type Logger, type LogLevel } from "../protocol/logging.js";
export { consoleLogger } from "../provider/console-logger.js";
