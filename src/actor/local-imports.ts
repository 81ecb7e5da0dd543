/**
 * The imports a host serves inside the actor's own worker, without a round trip: WASI (sandboxed:
 * no files, no environment, no network), wasi:logging and the actor's config. Everything else an
 * actor imports is forwarded to the host thread (and from there over the lattice).
 */
import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";

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

export type LogSink = (level: string, context: string, message: string) => void;

/** What the local imports read at call time, so an instance can be made before it has an actor. */
export interface ActorContext {
  actorId: string;
  config: Record<string, string>;
  log: LogSink;
}

export function localImports(ctx: ActorContext): Record<string, unknown> {
  const wasi = new WASIShim({ sandbox: { preopens: {}, env: {}, args: ["actor"], enableNetwork: false } }).getImportObject();
  return {
    ...wasi,
    [LOGGING]: {
      log: (level: string, context: string, message: string) => ctx.log(level, context, message),
    },
    [CONFIG]: {
      get: (key: string) => ctx.config[key],
      getAll: () => Object.entries(ctx.config),
    },
  };
}
