/**
 * The build server of `lattice dev`: build-child.ts run with `--serve` stays up and builds job
 * after job sent over its IPC channel, with componentize-js's own `componentize()`.
 *
 * Where a build's time goes (echo, warm, this machine, unloaded): componentize-js first splices
 * the WIT world's bindings into the StarlingMonkey engine (2.7 s; 6 s under load), then wizer
 * pre-initialises the engine with the JavaScript (~0.3 s), then the splicer stubs the unused
 * WASI imports (~0.5 s) and wasm-tools encodes the component (~0.45 s); the rest (checking the
 * snapshot, metadata, our staging and files) is ~0.1 s.
 *
 * The splice depends only on the engine, the features and the WIT world, never on the
 * JavaScript, so this server remembers its result per world (by the WIT files' content). The
 * stub and the encode see the same engine code every time, with another memory snapshot, so
 * after one full run they are redone by patching the snapshot's section into their last output
 * (dev-section-patch.ts, which falls back to the full step whenever the inputs differ in any
 * other way). The splicer and wasm-tools are plain objects componentize-js calls through, and a
 * memo in front of three of their functions is the only change: wizer runs the JavaScript as in
 * `lattice build`, and the component comes out of the same pipeline.
 *
 * It also keeps the loaded modules (componentize-js, jco, the splicer's own Wasm) and their
 * compiled code warm between builds.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ChildJob, ChildResult } from "./build-child.js";
import { patchComponent, patchModule } from "./dev-section-patch.js";

/** A build request: the job build.ts would pass on a command line, and the job's TMPDIR. */
export interface ServerRequest {
  id: number;
  job: ChildJob;
  tmp: string;
}

/** Which of componentize-js's steps this build redid in full (the others were reused or patched). */
export interface StepsRun {
  splice: boolean;
  stub: boolean;
  encode: boolean;
}

export type ServerReply = { id: number; ok: true; result: ChildResult; ms: number; steps: StepsRun } | { id: number; ok: false; error: string };

const COMPONENTIZE_URL = import.meta.resolve("@bytecodealliance/componentize-js");
/** The module componentize.js imports its splicer from: the same URL, so the same object. */
const SPLICER_URL = new URL("../lib/spidermonkey-embedding-splicer.js", COMPONENTIZE_URL).href;
/** The wasm-tools object jco's componentNew calls through, as componentize-js's jco resolves it. */
function wasmToolsUrl(): string {
  const jco = createRequire(fileURLToPath(COMPONENTIZE_URL)).resolve("@bytecodealliance/jco");
  const api = createRequire(jco).resolve("@bytecodealliance/jco-transpile/wasm-tools");
  return new URL("../vendor/wasm-tools.js", pathToFileURL(api)).href;
}
/** Check every patched step against the step run in full, and fail the build if they differ. */
const VERIFY = process.env.LATTICE_DEV_VERIFY === "1";

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

/**
 * Put a memo in front of the splicer's `spliceBindings`, and a patch (dev-section-patch.ts) in
 * front of its `stubWasi` and of wasm-tools' `componentNew`. Tells which ran in full last.
 */
async function memoizeSteps(): Promise<{ last: () => StepsRun; reset: () => void }> {
  const { splicer } = (await import(SPLICER_URL)) as { splicer: { spliceBindings: Splice; stubWasi: Splice } };
  const { tools, $init } = (await import(wasmToolsUrl())) as { tools: { componentNew: Splice; componentWitMetadataForWorld: Splice }; $init: Promise<void> };
  await $init;
  for (const f of [splicer.spliceBindings, splicer.stubWasi, tools.componentNew, tools.componentWitMetadataForWorld]) {
    if (typeof f !== "function") throw new Error("componentize-js's splicer or wasm-tools is not shaped as in 0.23");
  }
  // What build-child.ts asks of the world (does it export wasi:http?): a function of the WIT alone.
  const metadata = tools.componentWitMetadataForWorld.bind(tools);
  const worlds = new Map<string, unknown>();
  tools.componentWitMetadataForWorld = (...args: unknown[]) => {
    const [spec, world] = args as [{ tag: string; val: string }, string | undefined];
    if (spec.tag !== "path") return metadata(...args);
    const key = JSON.stringify([witDigest(spec.val), world ?? null]);
    if (!worlds.has(key)) worlds.set(key, metadata(...args));
    return worlds.get(key);
  };
  const steps: StepsRun = { splice: false, stub: false, encode: false };
  const splice = splicer.spliceBindings.bind(splicer);
  const memo = new Map<string, unknown>();
  // Arguments: engine bytes, features, inline WIT, WIT path, world name, debug flag.
  splicer.spliceBindings = (...args: unknown[]) => {
    const [engine, features, witWorld, witPath, worldName, debug] = args as [Uint8Array, string[], string | undefined, string | undefined, string | undefined, boolean];
    const key = JSON.stringify([engine.length, features, witWorld ?? null, witPath ? witDigest(witPath) : null, worldName ?? null, debug]);
    const hit = memo.get(key);
    steps.splice = hit === undefined;
    if (hit !== undefined) {
      // Most recent last.
      memo.delete(key);
      memo.set(key, hit);
      return hit;
    }
    const result = splice(...args);
    memo.set(key, result);
    if (memo.size > MAX_SPLICES) memo.delete(memo.keys().next().value!);
    return result;
  };
  // Arguments: the pre-initialised engine, features, inline WIT, WIT path, world name.
  splicer.stubWasi = patched(splicer.stubWasi.bind(splicer), patchModule, (args) => {
    const [, features, witWorld, witPath, worldName] = args as [Uint8Array, string[], string | undefined, string | undefined, string | undefined];
    return JSON.stringify([features, witWorld ?? null, witPath ? witDigest(witPath) : null, worldName ?? null]);
  }, (full) => (steps.stub = full));
  // Arguments: the core module, the adapters as [name, bytes] pairs.
  tools.componentNew = patched(tools.componentNew.bind(tools), patchComponent, (args) => {
    const adapters = args[1] as Array<[string, Uint8Array]>;
    return JSON.stringify([adapters.map(([n, b]) => [n, createHash("sha256").update(b).digest("hex")]), args.slice(2)]);
  }, (full) => (steps.encode = full));
  return { last: () => ({ ...steps }), reset: () => Object.assign(steps, { splice: false, stub: false, encode: false }) };
}

type Patch = (prevIn: Uint8Array, prevOut: Uint8Array, nextIn: Uint8Array) => Uint8Array | undefined;

/**
 * A rewrite of a Wasm binary (its first argument) that remembers its last full run per key of
 * the other arguments and patches that run's output when it can. Sync or async, as the original.
 */
function patched(original: Splice, patch: Patch, keyOf: (args: unknown[]) => string, ran: (full: boolean) => void): Splice {
  const last = new Map<string, { input: Uint8Array; output: Uint8Array }>();
  const remember = (key: string, input: Uint8Array, output: unknown): unknown => {
    if (output instanceof Uint8Array) last.set(key, { input: new Uint8Array(input), output });
    ran(true);
    return output;
  };
  return (...args: unknown[]) => {
    const input = args[0] as Uint8Array;
    const key = keyOf(args);
    const prev = last.get(key);
    const quick = prev && patch(prev.input, prev.output, input);
    if (!quick) {
      const out = original(...args);
      return out instanceof Promise ? out.then((o: unknown) => remember(key, input, o)) : remember(key, input, out);
    }
    ran(false);
    // Both callers take a plain value: stubWasi's is synchronous, componentNew's awaits the result.
    if (!VERIFY) return quick;
    const full = original(...args);
    const check = (o: unknown): Uint8Array => {
      if (!(o instanceof Uint8Array) || Buffer.compare(o, quick) !== 0) throw new Error("lattice dev: a patched build step differs from the step run in full (LATTICE_DEV_VERIFY)");
      return quick;
    };
    return full instanceof Promise ? full.then(check) : check(full);
  };
}

/** Serve build requests until the channel closes. `run` is build-child.ts's one build. */
export async function serve(run: (job: ChildJob) => Promise<void>): Promise<void> {
  // Built on componentize-js 0.23's layout: should another version move these objects, builds
  // still run, each in full (the steps then report as run in full).
  const steps = await memoizeSteps().catch((e: unknown) => {
    process.stderr.write(`lattice dev: building without reuse (${e instanceof Error ? e.message : String(e)})\n`);
    return { last: (): StepsRun => ({ splice: true, stub: true, encode: true }), reset: () => undefined };
  });
  let queue: Promise<void> = Promise.resolve();
  process.on("message", (req: ServerRequest) => {
    // One build at a time: componentize-js shares process state (preopens, TMPDIR).
    queue = queue.then(async () => {
      let reply: ServerReply;
      const started = performance.now();
      try {
        process.env.TMPDIR = req.tmp;
        steps.reset();
        await run(req.job);
        const result = JSON.parse(readFileSync(req.job.resultPath, "utf8")) as ChildResult;
        reply = { id: req.id, ok: true, result, ms: Math.round(performance.now() - started), steps: steps.last() };
      } catch (e) {
        reply = { id: req.id, ok: false, error: String(e instanceof Error ? e.message : e) };
      }
      process.send?.(reply);
    });
  });
  process.on("disconnect", () => process.exit(0));
}
