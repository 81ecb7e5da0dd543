/**
 * A worker thread that transpiles components with jco (transpiler.ts sends the jobs): jco's
 * bindings generator is one synchronous call that takes seconds for a JavaScript actor, and on
 * the host's main thread it would stop heartbeats and every call for as long.
 */
import { parentPort } from "node:worker_threads";
import { transpile } from "jco-1.15";
import { messageOf } from "../protocol/index.js";

export interface TranspileJob {
  id: number;
  bytes: Uint8Array;
}

export type TranspileAnswer =
  | { id: number; ok: true; files: Record<string, Uint8Array>; imports: string[]; exports: Array<[string, "function" | "instance"]> }
  | { id: number; ok: false; message: string };

/** What jco's `transpile` answers (its package declares no types for it). */
interface Transpiled {
  files: Record<string, Uint8Array>;
  imports: string[];
  exports: Array<[string, "function" | "instance"]>;
}
const transpileComponent = transpile as (bytes: Uint8Array, opts: Record<string, unknown>) => Promise<Transpiled>;

const port = parentPort;
if (!port) throw new Error("transpile-worker must run in a worker thread");

port.on("message", (job: TranspileJob) => {
  void (async () => {
    let answer: TranspileAnswer;
    try {
      const out = await transpileComponent(job.bytes, { name: "actor", instantiation: "sync", typescript: false, quiet: true });
      // The glue and the core modules: nothing else is used (no declarations were asked for).
      const files = Object.fromEntries(Object.entries(out.files).filter(([name]) => name === "actor.js" || name.endsWith(".wasm")));
      answer = { id: job.id, ok: true, files, imports: out.imports, exports: out.exports };
    } catch (e) {
      answer = { id: job.id, ok: false, message: messageOf(e) };
    }
    const buffers = answer.ok ? Object.values(answer.files).map((f) => f.buffer) : [];
    port.postMessage(answer, buffers as ArrayBuffer[]);
  })();
});
