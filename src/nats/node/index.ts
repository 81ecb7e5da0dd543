/** The NATS layer's Node-only surface: TCP connections and managed nats-server processes. */
export { connectNode } from "./connect.js";
export { findExecutable, findNatsServer, requireNatsServer, natsServerVersion, NATS_SERVER_INSTALL_HINT } from "./server-binary.js";
export { freePort } from "./free-port.js";
export { startNatsServer, stopPid, isPidAlive, isRoutePortTaken, NatsServerStartError } from "./server-launcher.js";
export type { LaunchOptions, NatsServer, ResolvedNatsServerOptions } from "./server-launcher.js";
export { AUTH_ENV, authFromEnv, authToEnv, connectionAuth, type NatsAuth } from "./auth.js";
