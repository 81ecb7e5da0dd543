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

/**
 * Digests kept compiled, the most recently loaded last. A running actor holds its own component,
 * so dropping one from here only means compiling it again on a later start of those bytes; without
 * a bound a host would keep every version it ever ran (each save of `lattice dev` is one, ~25 MB).
 */
const MAX_DIGESTS = 8;

export class ComponentCache {
  private readonly byDigest = new Map<string, Promise<CompiledComponent>>();

  constructor(private readonly transpiler: ComponentTranspiler) {}

  /** Compile (or reuse) a component; `what` names the bytes in errors (a path, an artifact ref). */
  async load(bytes: Uint8Array, what: string): Promise<CompiledComponent> {
    assertComponent(bytes, what);
    const digest = await digestOf(bytes);
    let entry = this.byDigest.get(digest);
    if (entry) {
      this.byDigest.delete(digest);
      this.byDigest.set(digest, entry);
    } else {
      entry = this.compile(bytes, digest, what);
      this.byDigest.set(digest, entry);
      // A failed compile is not cached: the same bytes fail the same way, but a retry must be honest.
      const failed = entry;
      failed.catch(() => {
        if (this.byDigest.get(digest) === failed) this.byDigest.delete(digest);
      });
      for (const old of this.byDigest.keys()) {
        if (this.byDigest.size <= MAX_DIGESTS) break;
        this.byDigest.delete(old);
      }
    }
    return entry;
  }

  has(digest: string): boolean {
    return this.byDigest.has(digest);
  }

  get(digest: string): Promise<CompiledComponent> | undefined {
    return this.byDigest.get(digest);
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
