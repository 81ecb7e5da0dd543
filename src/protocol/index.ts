/**
 * The lattice protocol: subjects, schemas, codecs, events, error codes, the Logger interface and
 * the host ↔ provider process contract. Pure: no I/O.
 */
export * from "./version.js";
export * from "./errors.js";
export * from "./names.js";
export * from "./subjects.js";
export * from "./schemas.js";
export * from "./events.js";
export * from "./codec.js";
export * from "./artifacts.js";
export * from "./invocation.js";
export * from "./invocation-signature.js";
export * from "./links.js";
export * from "./http.js";
export * from "./durations.js";
export * from "./base32.js";
export * from "./module-keys.js";
export * from "./claims.js";
export * from "./apps.js";
export * from "./policy.js";
export * from "./session-keys.js";
export * from "./logging.js";
export * from "./provider-process.js";
