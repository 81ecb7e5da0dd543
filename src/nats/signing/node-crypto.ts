/**
 * node:crypto when the runtime has it, else undefined (a browser: callers fall back to
 * WebCrypto). Reached through process.getBuiltinModule, so `nats/` imports nothing Node-only and
 * still bundles for a browser.
 */
import type * as NodeCrypto from "node:crypto";

const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
export const nodeCrypto = get?.("node:crypto") as typeof NodeCrypto | undefined;
