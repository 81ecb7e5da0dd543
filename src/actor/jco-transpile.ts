/**
 * The one jco call that turns a component into JavaScript glue and core modules, for every
 * platform: Node's transpile thread (transpile-worker.ts) and a page's transpile worker
 * (src/web/transpile.worker.ts) both run it. It calls jco's bindings generator (itself a
 * component, jco's `./component` entry) with the options jco's own `transpile(bytes, { name:
 * "actor", instantiation: "sync", typescript: false })` gives it; that entry loads the
 * generator's core modules with node:fs in Node and with fetch beside the bundle in a browser.
 */
import { generate } from "jco-1.15/component";
import { messageOf } from "../protocol/index.js";

export interface Transpiled {
  /** File name → contents: the glue (`actor.js`) and the core modules (`*.wasm`). */
  files: Record<string, Uint8Array>;
  imports: string[];
  exports: Array<[string, "function" | "instance"]>;
}

/** A request to a transpile worker, and its answer. */
export interface TranspileJob {
  id: number;
  bytes: Uint8Array;
}

export type TranspileAnswer = ({ id: number; ok: true } & Transpiled) | { id: number; ok: false; message: string };

interface Generated {
  files: Array<[string, Uint8Array]>;
  imports: string[];
  exports: Array<[string, "function" | "instance"]>;
}
// The entry's `generate` awaits the generator's instantiation; its declarations say otherwise.
const generateBindings = generate as unknown as (bytes: Uint8Array, opts: Record<string, unknown>) => Promise<Generated>;

/** What jco 1.15's transpile passes for `instantiation: "sync"` (its cmd/transpile.js): no WASI map, no async. */
const OPTIONS = {
  name: "actor",
  map: [],
  instantiation: { tag: "sync" },
  asyncMode: null,
  importBindings: null,
  validLiftingOptimization: false,
  tracing: false,
  noNodejsCompat: false,
  noTypescript: true,
  tlaCompat: false,
  base64Cutoff: 5000,
  noNamespacedExports: false,
  multiMemory: false,
  idlImports: false,
};

/** Transpile a component: the glue and the core modules (nothing else is used). Synchronous work of seconds. */
export async function transpileComponent(bytes: Uint8Array): Promise<Transpiled> {
  const out = await generateBindings(bytes, OPTIONS);
  const files = Object.fromEntries(out.files.filter(([name]) => name === "actor.js" || name.endsWith(".wasm")));
  return { files, imports: out.imports, exports: out.exports };
}

/** A transpile worker's answer to one job (both platforms' workers). */
export async function answerJob(job: TranspileJob): Promise<{ answer: TranspileAnswer; transfer: ArrayBuffer[] }> {
  try {
    const out = await transpileComponent(job.bytes);
    return { answer: { id: job.id, ok: true, ...out }, transfer: Object.values(out.files).map((f) => f.buffer as ArrayBuffer) };
  } catch (e) {
    return { answer: { id: job.id, ok: false, message: messageOf(e) }, transfer: [] };
  }
}
