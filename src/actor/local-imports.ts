/**
 * The imports a host serves inside the actor's own worker, without a round trip: WASI (sandboxed:
 * no files, no environment, no network), wasi:logging and the actor's config. Everything else an
 * actor imports is forwarded to the host thread (and from there over the lattice).
 */
import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { CONFIG, LOGGING } from "./local-interfaces.js";

export { CONFIG, LOGGING, isLocalInterface } from "./local-interfaces.js";

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
