/**
 * Which imports an instance gets inside its worker (local-imports.ts serves them), by name only:
 * the host thread asks this without loading the preview2 shim, whose evaluation starts a thread.
 */
export const LOGGING = "wasi:logging/logging";
export const CONFIG = "lattice:actor/config";

/** WASI interfaces the preview2 shim implements (the keys of its import object). */
const WASI_INTERFACES = new Set(
  [
    ...["environment", "exit", "stderr", "stdin", "stdout", "terminal-input", "terminal-output", "terminal-stderr", "terminal-stdin", "terminal-stdout"].map((i) => `wasi:cli/${i}`),
    ...["instance-network", "ip-name-lookup", "network", "tcp", "tcp-create-socket", "udp", "udp-create-socket"].map((i) => `wasi:sockets/${i}`),
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
  ],
);

/** Interfaces whose implementation lives in the worker. Names are unversioned, as jco uses them. */
export function isLocalInterface(name: string): boolean {
  return name === LOGGING || name === CONFIG || WASI_INTERFACES.has(name);
}
