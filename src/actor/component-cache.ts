/**
 * Components ready to instantiate, by digest: transpiled by jco once and their core modules
 * compiled once, then shared by every instance on this host (a WebAssembly.Module can be posted
 * to any worker). A second start of the same bytes costs a hash and a map lookup.
 *
 * The transpiler is jco 1.15 (the `jco-1.15` alias), not the jco 1.35 that componentize-js builds
 * with: from jco 1.17 on, the generated glue creates a component-model async task and subtask for
 * every call into and out of the guest, even for synchronous functions. A JavaScript actor's
 * engine calls its imports (the monotonic clock above all) dozens of times per request, and that
 * glue doubled the CPU of a call (measured: 565 → 328 µs per HTTP request into a reused instance,
 * 130 → 86 µs per echo call; docs/benchmarks.md). Nothing the runtime uses needs a newer glue.
 */
import { transpile } from "jco-1.15";
import { ErrorCode, LatticeError } from "../protocol/index.js";
import { httpInstancesOf, type HttpInstances } from "./actor-metadata.js";
import { assertComponent, digestOf } from "./wasm-binary.js";

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
}

export class ComponentCache {
  private readonly byDigest = new Map<string, Promise<CompiledComponent>>();

  /** Compile (or reuse) a component; `what` names the bytes in errors (a path, an artifact ref). */
  async load(bytes: Uint8Array, what: string): Promise<CompiledComponent> {
    assertComponent(bytes, what);
    const digest = await digestOf(bytes);
    let entry = this.byDigest.get(digest);
    if (!entry) {
      entry = compile(bytes, digest, what);
      this.byDigest.set(digest, entry);
      // A failed compile is not cached: the same bytes fail the same way, but a retry must be honest.
      entry.catch(() => this.byDigest.delete(digest));
    }
    return entry;
  }

  has(digest: string): boolean {
    return this.byDigest.has(digest);
  }

  get(digest: string): Promise<CompiledComponent> | undefined {
    return this.byDigest.get(digest);
  }
}

/** What jco's `transpile` answers (its package declares no types for it). */
interface Transpiled {
  files: Record<string, Uint8Array>;
  imports: string[];
  exports: Array<[string, "function" | "instance"]>;
}
const transpileComponent = transpile as (bytes: Uint8Array, opts: Record<string, unknown>) => Promise<Transpiled>;

async function compile(bytes: Uint8Array, digest: string, what: string): Promise<CompiledComponent> {
  let out: Transpiled;
  try {
    out = await transpileComponent(bytes, { name: "actor", instantiation: "sync", noTypescript: true, quiet: true });
  } catch (e) {
    throw new LatticeError(ErrorCode.BadRequest, `${what} is not a valid component: ${firstLine(e)}`);
  }
  const js = out.files["actor.js"];
  if (!js) throw new LatticeError(ErrorCode.Internal, `transpiling ${what} produced no JavaScript`);
  const modules: Record<string, WebAssembly.Module> = {};
  for (const [name, file] of Object.entries(out.files)) {
    if (name.endsWith(".wasm")) modules[name] = await WebAssembly.compile(file as Uint8Array<ArrayBuffer>);
  }
  return { digest, size: bytes.length, js: new TextDecoder().decode(js), modules, imports: out.imports, exports: out.exports, http: httpInstancesOf(bytes) };
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0]?.slice(0, 500) ?? msg;
}
