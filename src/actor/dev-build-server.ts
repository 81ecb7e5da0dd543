/**
 * The build server of `lattice dev`: build-child.ts run with `--serve` stays up and builds job
 * after job sent over its IPC channel, with componentize-js itself, unchanged.
 *
 * Where a build's time goes (echo, warm, this machine): componentize-js first splices the WIT
 * world's bindings into the StarlingMonkey engine (2.5-6 s), then wizer pre-initialises the
 * engine with the JavaScript (~0.3 s), then it stubs the unused WASI imports (~0.5 s) and encodes
 * the component (~0.5 s). The splice depends only on the engine, the features and the WIT world,
 * never on the JavaScript, so this server remembers its result per world (by the WIT files'
 * content): the splicer is a plain object whose `spliceBindings` componentize-js calls through,
 * and a memo in front of it is the only change. Everything else runs as in `lattice build`, so the
 * component comes out of the same pipeline.
 *
 * It also keeps the loaded modules (componentize-js, jco, the splicer's own Wasm) and their
 * compiled code warm between builds.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ChildJob, ChildResult } from "./build-child.js";

/** A build request: the job build.ts would pass on a command line, and the job's TMPDIR. */
export interface ServerRequest {
  id: number;
  job: ChildJob;
  tmp: string;
}

export type ServerReply = { id: number; ok: true; result: ChildResult; ms: number; spliced: boolean } | { id: number; ok: false; error: string };

const COMPONENTIZE_URL = import.meta.resolve("@bytecodealliance/componentize-js");
/** The module componentize.js imports its splicer from: the same URL, so the same object. */
const SPLICER_URL = new URL("../lib/spidermonkey-embedding-splicer.js", COMPONENTIZE_URL).href;

/** Spliced engines kept, most recent last: one per world the session builds for. */
const MAX_SPLICES = 4;

type Splice = (...args: unknown[]) => unknown;

/** The content of a WIT path (a file, or a directory with deps/), as one digest. */
function witDigest(path: string): string {
  const h = createHash("sha256");
  const walk = (p: string, rel: string): void => {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) walk(join(p, name), `${rel}/${name}`);
    } else {
      h.update(`${rel}\0`).update(readFileSync(p)).update("\0");
    }
  };
  walk(path, "");
  return h.digest("hex");
}

/** Put a memo in front of the splicer's `spliceBindings`; tells whether the last call spliced. */
async function memoizeSplice(): Promise<{ lastSpliced: () => boolean }> {
  const { splicer } = (await import(SPLICER_URL)) as { splicer: { spliceBindings: Splice } };
  const original = splicer.spliceBindings.bind(splicer);
  const memo = new Map<string, unknown>();
  let spliced = false;
  // Arguments: engine bytes, features, inline WIT, WIT path, world name, debug flag.
  splicer.spliceBindings = (...args: unknown[]) => {
    const [engine, features, witWorld, witPath, worldName, debug] = args as [Uint8Array, string[], string | undefined, string | undefined, string | undefined, boolean];
    const key = JSON.stringify([engine.length, features, witWorld ?? null, witPath ? witDigest(witPath) : null, worldName ?? null, debug]);
    const hit = memo.get(key);
    spliced = hit === undefined;
    if (hit !== undefined) {
      // Most recent last.
      memo.delete(key);
      memo.set(key, hit);
      return hit;
    }
    const result = original(...args);
    memo.set(key, result);
    if (memo.size > MAX_SPLICES) memo.delete(memo.keys().next().value!);
    return result;
  };
  return { lastSpliced: () => spliced };
}

/** Serve build requests until the channel closes. `run` is build-child.ts's one build. */
export async function serve(run: (job: ChildJob) => Promise<void>): Promise<void> {
  const splice = await memoizeSplice();
  let queue: Promise<void> = Promise.resolve();
  process.on("message", (req: ServerRequest) => {
    // One build at a time: componentize-js shares process state (preopens, TMPDIR).
    queue = queue.then(async () => {
      let reply: ServerReply;
      const started = performance.now();
      try {
        process.env.TMPDIR = req.tmp;
        await run(req.job);
        const result = JSON.parse(readFileSync(req.job.resultPath, "utf8")) as ChildResult;
        reply = { id: req.id, ok: true, result, ms: Math.round(performance.now() - started), spliced: splice.lastSpliced() };
      } catch (e) {
        reply = { id: req.id, ok: false, error: String(e instanceof Error ? e.message : e) };
      }
      process.send?.(reply);
    });
  });
  process.on("disconnect", () => process.exit(0));
}
