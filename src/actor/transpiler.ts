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
import { ErrorCode, LatticeError } from "../protocol/index.js";
import type { ComponentTranspiler } from "./component-cache.js";
import type { TranspileAnswer, TranspileJob, Transpiled } from "./jco-transpile.js";

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
  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (t: Transpiled) => void; reject: (e: Error) => void }>();
  private readonly dir?: string;

  /** `cacheDir` false: no disk cache. */
  constructor(cacheDir: string | false = defaultTranspileCacheDir()) {
    if (cacheDir !== false) this.dir = join(cacheDir, `jco-${JCO_VERSION}`);
  }

  /** Transpile `bytes` (whose digest is `digest`, `sha256:<hex>`), from the cache when it is there. */
  async transpile(bytes: Uint8Array, digest: string): Promise<Transpiled> {
    const entry = this.dir && join(this.dir, digest.replace(/^sha256:/, ""));
    if (entry && existsSync(join(entry, "meta.json"))) {
      const cached = await this.read(entry).catch(() => undefined);
      if (cached) return cached;
    }
    const out = await this.inWorker(bytes);
    if (entry) await this.write(entry, out).catch(() => undefined); // a cache that cannot be written is no cache
    return out;
  }

  /** Stop the worker (a transpile in progress fails). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private async read(entry: string): Promise<Transpiled> {
    const meta = JSON.parse(await readFile(join(entry, "meta.json"), "utf8")) as Meta;
    const files: Record<string, Uint8Array> = {};
    for (const name of meta.files) files[name] = new Uint8Array(await readFile(join(entry, name)));
    return { files, imports: meta.imports, exports: meta.exports };
  }

  private async write(entry: string, t: Transpiled): Promise<void> {
    const tmp = `${entry}.${process.pid}.${this.nextId++}.tmp`;
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

  private inWorker(bytes: Uint8Array): Promise<Transpiled> {
    if (!this.worker) {
      const w = new Worker(new URL("./transpile-worker.js", import.meta.url));
      w.on("message", (a: TranspileAnswer) => {
        const p = this.waiting.get(a.id);
        if (!p) return;
        this.waiting.delete(a.id);
        if (this.waiting.size === 0) w.unref();
        if (a.ok) p.resolve({ files: a.files, imports: a.imports, exports: a.exports });
        else p.reject(new LatticeError(ErrorCode.BadRequest, a.message));
      });
      const fail = (e: Error) => {
        if (this.worker === w) this.worker = undefined;
        for (const p of this.waiting.values()) p.reject(new LatticeError(ErrorCode.Internal, `the transpiler thread failed: ${e.message}`));
        this.waiting.clear();
      };
      w.on("error", fail);
      w.on("exit", (code) => fail(new Error(`it exited (${code})`)));
      this.worker = w;
    }
    const id = this.nextId++;
    this.worker.ref();
    const job: TranspileJob = { id, bytes };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage(job);
    });
  }
}
