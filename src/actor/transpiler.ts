/**
 * Components transpiled to JavaScript glue and core modules by jco, off the host's main thread
 * (transpile-worker.ts) and kept on disk by digest, so a machine transpiles a component once.
 *
 * The transpiler is jco 1.15 (the `jco-1.15` alias), not the jco 1.35 that componentize-js builds
 * with: from jco 1.17 on, the generated glue creates a component-model async task and subtask for
 * every call into and out of the guest, even for synchronous functions. A JavaScript actor's
 * engine calls its imports (the monotonic clock above all) dozens of times per request, and that
 * glue cost as much as the guest (measured: 565 → 328 µs per HTTP request into a reused
 * instance, 130 → 86 µs per echo call). Its price: jco 1.15's bindings generator takes ~6 s for a
 * JavaScript actor where 1.35's takes 0.5 s, which the disk cache pays once per machine.
 *
 * Cache layout: `<dir>/jco-<version>/<sha256 hex>/` holding `meta.json` (imports, exports, the
 * file names) and the files jco made, written to a temporary directory and renamed into place.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { ComponentTranspiler } from "./component-cache.js";
import type { TranspileAnswer, Transpiled } from "./jco-transpile.js";
import { TranspileJobs, type TranspileWorker, type TranspileWorkerEvents } from "./transpile-jobs.js";
import { TranspileReuse } from "./transpile-reuse.js";

export type { Transpiled };

// The package exports no package.json: it sits beside src/, where its entry point is.
const JCO_VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.resolve("jco-1.15")), "utf8")) as { version: string }).version;

/** `$LATTICE_CACHE_DIR`, else `$XDG_CACHE_HOME/lattice`, else `~/.cache/lattice`: then `transpiled/`. */
export function defaultTranspileCacheDir(): string {
  const base = process.env.LATTICE_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "lattice");
  return join(base, "transpiled");
}

interface Meta {
  imports: string[];
  exports: Array<[string, "function" | "instance"]>;
  files: string[];
}

export class Transpiler implements ComponentTranspiler {
  private readonly jobs: TranspileJobs;
  /** A new build of a component transpiled before (same skeleton) reuses its glue: transpile-reuse.ts. */
  private readonly reuse = new TranspileReuse();
  private nextTmp = 1;
  private readonly dir?: string;

  /** `cacheDir` false: no disk cache. `keepThread` false: the jco thread stops once idle (memory over latency). */
  constructor(cacheDir: string | false = defaultTranspileCacheDir(), keepThread = true) {
    if (cacheDir !== false) this.dir = join(cacheDir, `jco-${JCO_VERSION}`);
    this.jobs = new TranspileJobs(spawnThread, "the transpiler thread", keepThread);
  }

  /** Transpile `bytes` (whose digest is `digest`, `sha256:<hex>`), from the cache when it is there. */
  async transpile(bytes: Uint8Array, digest: string): Promise<Transpiled> {
    const entry = this.dir && join(this.dir, digest.replace(/^sha256:/, ""));
    if (entry && existsSync(join(entry, "meta.json"))) {
      const cached = await this.read(entry).catch(() => undefined);
      if (cached) {
        await this.reuse.remember(bytes, cached);
        return cached;
      }
    }
    // Not written to the disk cache: it costs milliseconds, and each save of `lattice dev` is one.
    const reused = await this.reuse.reuse(bytes);
    if (reused) return reused;
    const out = await this.jobs.run(bytes);
    await this.reuse.remember(bytes, out);
    if (entry) await this.write(entry, out).catch(() => undefined); // a cache that cannot be written is no cache
    return out;
  }

  /** Stop the worker (a transpile in progress fails). */
  close(): Promise<void> {
    return this.jobs.close();
  }

  private async read(entry: string): Promise<Transpiled> {
    const meta = JSON.parse(await readFile(join(entry, "meta.json"), "utf8")) as Meta;
    const files: Record<string, Uint8Array> = {};
    for (const name of meta.files) {
      // A view, not a copy: a read file's Buffer has an ArrayBuffer of its own.
      const b = await readFile(join(entry, name));
      files[name] = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
    return { files, imports: meta.imports, exports: meta.exports };
  }

  private async write(entry: string, t: Transpiled): Promise<void> {
    const tmp = `${entry}.${process.pid}.${this.nextTmp++}.tmp`;
    await mkdir(tmp, { recursive: true });
    try {
      for (const [name, data] of Object.entries(t.files)) await writeFile(join(tmp, name), data);
      const meta: Meta = { imports: t.imports, exports: t.exports, files: Object.keys(t.files) };
      await writeFile(join(tmp, "meta.json"), JSON.stringify(meta));
      await rename(tmp, entry).catch((e: NodeJS.ErrnoException) => {
        // Another process wrote the same digest first: theirs is as good.
        if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}

/** The transpile thread (transpile-worker.ts): it keeps the process alive only while jobs wait. */
function spawnThread(events: TranspileWorkerEvents): TranspileWorker {
  const w = new Worker(new URL("./transpile-worker.js", import.meta.url));
  w.on("message", (a: TranspileAnswer) => events.answer(a));
  let dead = false;
  const died = (why: string) => {
    if (dead) return;
    dead = true;
    events.died(why);
  };
  w.on("error", (e) => died(e.message));
  w.on("exit", (code) => died(`it exited (${code})`));
  return {
    post: (job) => w.postMessage(job),
    busy: (on) => (on ? w.ref() : w.unref()),
    terminate: () => w.terminate().then(() => undefined),
  };
}
