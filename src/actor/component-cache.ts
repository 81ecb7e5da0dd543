/**
 * Components ready to instantiate, by digest: transpiled once (transpiler.ts) and their core
 * modules compiled once, then shared by every instance on this host (a WebAssembly.Module can be
 * posted to any worker). A second start of the same bytes costs a hash and a map lookup.
 */
import { ErrorCode, LatticeError, messageOf } from "../protocol/index.js";
import { httpInstancesOf, type HttpInstances } from "./actor-metadata.js";
import { CallChecker } from "./call-check.js";
import { exportedFunctions } from "./component-exports.js";
import type { Transpiled } from "./jco-transpile.js";
import { assertComponent, digestOf } from "../nats/wasm-binary.js";

export interface CompiledComponent {
  digest: string;
  size: number;
  /** The jco instantiation module (ES module source, `instantiate(getCoreModule, imports)`). */
  js: string;
  modules: Record<string, WebAssembly.Module>;
  /** Interfaces the component imports, unversioned (as jco names them). */
  imports: string[];
  /** Exported interfaces and functions, as jco names them. */
  exports: Array<[string, "function" | "instance"]>;
  /** How its `wasi:http/incoming-handler` calls are served by default, and why (actor-metadata.ts). */
  http: { mode: HttpInstances; why: string };
  /** Checks calls against its exports' signatures; absent when they could not be read from the binary. */
  calls?: CallChecker;
}

/** Where the cache gets its glue and core modules (Node: transpiler.ts, a page: a transpile worker). */
export interface ComponentTranspiler {
  transpile(bytes: Uint8Array, digest: string): Promise<Transpiled>;
}

export interface CacheOptions {
  /**
   * Compiled components kept, by the bytes of their components (compiled code and its copy of the
   * wire bytes grow with them); the least recently used beyond it are dropped (default: no bound).
   * One that actors still run stays in memory through them; a start after it was dropped fetches
   * and compiles again.
   */
  maxCompiledBytes?: number;
}

/**
 * Digests kept compiled at most, besides any byte bound: without one a host would keep every
 * version it ever ran (each save of `lattice dev` is one, ~25 MB).
 */
const MAX_DIGESTS = 8;

export class ComponentCache {
  /** In order of use, most recent last. */
  private readonly byDigest = new Map<string, Promise<CompiledComponent>>();
  private readonly sizes = new Map<string, number>();
  /** Components compiled (not found here) so far. */
  compiles = 0;

  constructor(
    private readonly transpiler: ComponentTranspiler,
    private readonly opts: CacheOptions = {},
  ) {}

  /** Compile (or reuse) a component; `what` names the bytes in errors (a path, an artifact ref). */
  async load(bytes: Uint8Array, what: string): Promise<CompiledComponent> {
    assertComponent(bytes, what);
    const digest = await digestOf(bytes);
    let entry = this.get(digest);
    if (!entry) {
      this.compiles++;
      entry = this.compile(bytes, digest, what);
      this.byDigest.set(digest, entry);
      this.sizes.set(digest, bytes.length);
      // A failed compile is not cached: the same bytes fail the same way, but a retry must be honest.
      const failed = entry;
      failed.catch(() => this.byDigest.get(digest) === failed && this.forget(digest));
      this.bound(digest);
    }
    return entry;
  }

  has(digest: string): boolean {
    return this.byDigest.has(digest);
  }

  get(digest: string): Promise<CompiledComponent> | undefined {
    const entry = this.byDigest.get(digest);
    if (entry) {
      // Most recently used last.
      this.byDigest.delete(digest);
      this.byDigest.set(digest, entry);
    }
    return entry;
  }

  /** Drop the least recently used beyond the bounds (bytes, MAX_DIGESTS), never `keep` (the one just asked for). */
  private bound(keep: string): void {
    const max = this.opts.maxCompiledBytes ?? Infinity;
    let total = [...this.sizes.values()].reduce((n, s) => n + s, 0);
    for (const digest of [...this.byDigest.keys()]) {
      if (total <= max && this.byDigest.size <= MAX_DIGESTS) break;
      if (digest === keep) continue;
      total -= this.sizes.get(digest) ?? 0;
      this.forget(digest);
    }
  }

  private forget(digest: string): void {
    this.byDigest.delete(digest);
    this.sizes.delete(digest);
  }

  private async compile(bytes: Uint8Array, digest: string, what: string): Promise<CompiledComponent> {
    let out: Transpiled;
    try {
      out = await this.transpiler.transpile(bytes, digest);
    } catch (e) {
      throw new LatticeError(ErrorCode.BadRequest, `${what} is not a valid component: ${firstLine(e)}`);
    }
    const js = out.files["actor.js"];
    if (!js) throw new LatticeError(ErrorCode.Internal, `transpiling ${what} produced no JavaScript`);
    const modules: Record<string, WebAssembly.Module> = {};
    for (const [name, file] of Object.entries(out.files)) {
      if (name.endsWith(".wasm")) modules[name] = await WebAssembly.compile(file as Uint8Array<ArrayBuffer>);
    }
    const signatures = exportedFunctions(bytes);
    return {
      digest,
      size: bytes.length,
      js: new TextDecoder().decode(js),
      modules,
      imports: out.imports,
      exports: out.exports,
      http: httpInstancesOf(bytes),
      ...(signatures ? { calls: new CallChecker(signatures) } : {}),
    };
  }
}

function firstLine(e: unknown): string {
  const msg = messageOf(e);
  return msg.split("\n")[0]?.slice(0, 500) ?? msg;
}
