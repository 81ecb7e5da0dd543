/**
 * Reusing a transpile for a component that differs from one transpiled before only inside its
 * core modules: a new build of a JavaScript actor for the same WIT world (each save of
 * `lattice dev`, a new version of an app) is the same engine with another memory snapshot, in
 * the same component skeleton. jco's glue is made from the skeleton (types, canonical functions,
 * instances, the core modules' imports and exports) and the core modules are copied out as
 * files, so the glue of the earlier transpile serves with the new core modules in place of the
 * old. jco 1.15 takes ~6 s on a JavaScript actor (transpiler.ts says why it is that version);
 * this takes milliseconds.
 *
 * It checks itself rather than trusting jco's layout: an entry is remembered only when every
 * `.wasm` file jco wrote is, byte for byte, one of the component's top-level core modules; core
 * modules jco inlined in the glue (small ones, as base64) stay part of the skeleton, so any change
 * to them is a different skeleton. Browser-safe (pure byte work, Web Crypto).
 */
import type { Transpiled } from "./jco-transpile.js";
import { readLeb, sections } from "./wasm-sections.js";

/** Top-level section ids: a core module in a component; imports and exports in a core module. */
const CORE_MODULE = 1;
const CORE_IMPORTS = 2;
const CORE_EXPORTS = 7;

/** Skeletons remembered (each holds its glue, not its core modules): the most recent last. */
const MAX_ENTRIES = 2;

interface Entry {
  /** Core module index in the component → the file jco wrote it to. */
  files: Map<number, string>;
  /** The transpile without those files: a reuse puts the new component's modules in their place. */
  transpiled: Transpiled;
}

export class TranspileReuse {
  private readonly entries = new Map<string, Entry>();

  /** The transpile of a component with the same skeleton as one remembered, with these bytes' core modules. */
  async reuse(bytes: Uint8Array): Promise<Transpiled | undefined> {
    let modules: Uint8Array[];
    try {
      modules = coreModules(bytes);
    } catch {
      return undefined;
    }
    for (const [key, entry] of this.entries) {
      if ((await skeletonKey(bytes, entry.files)) !== key) continue;
      const files = { ...entry.transpiled.files };
      for (const [index, name] of entry.files) files[name] = modules[index]!.slice();
      return { files, imports: entry.transpiled.imports, exports: entry.transpiled.exports };
    }
    return undefined;
  }

  /** Remember a full transpile of `bytes`, if its files are the component's core modules as they are. */
  async remember(bytes: Uint8Array, out: Transpiled): Promise<void> {
    let modules: Uint8Array[];
    try {
      modules = coreModules(bytes);
    } catch {
      return;
    }
    const files = new Map<number, string>();
    for (const [name, data] of Object.entries(out.files)) {
      if (!name.endsWith(".wasm")) continue;
      const index = modules.findIndex((m, i) => !files.has(i) && equal(m, data));
      // A file that is not one of the modules as it is: jco made it; nothing to reuse safely.
      if (index < 0) return;
      files.set(index, name);
    }
    const key = await skeletonKey(bytes, files);
    // Not the core modules themselves (a JavaScript actor's engine is ~12 MB): every reuse replaces them.
    const glue = Object.fromEntries(Object.entries(out.files).filter(([name]) => !name.endsWith(".wasm")));
    this.entries.delete(key);
    this.entries.set(key, { files, transpiled: { ...out, files: glue } });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** Where a section's content starts: after its id byte and size. */
function contentStart(bytes: Uint8Array, sectionStart: number): number {
  return readLeb(bytes, sectionStart + 1)[1];
}

/** The component's top-level core modules, in order. */
function coreModules(bytes: Uint8Array): Uint8Array[] {
  return sections(bytes)
    .filter((s) => s.id === CORE_MODULE)
    .map((s) => bytes.subarray(contentStart(bytes, s.start), s.end));
}

/**
 * A digest of the component with each core module that jco writes as a file (`files`) reduced to
 * its index, imports and exports; every other byte counts as it is.
 */
async function skeletonKey(bytes: Uint8Array, files: Map<number, string>): Promise<string> {
  const parts: Uint8Array[] = [];
  let index = 0;
  for (const s of sections(bytes)) {
    if (s.id !== CORE_MODULE) {
      parts.push(bytes.subarray(s.start, s.end));
      continue;
    }
    const module = bytes.subarray(contentStart(bytes, s.start), s.end);
    if (files.has(index)) {
      parts.push(new TextEncoder().encode(`core module ${index}:${files.get(index)}\0`));
      for (const inner of sections(module)) if (inner.id === CORE_IMPORTS || inner.id === CORE_EXPORTS) parts.push(module.subarray(inner.start, inner.end));
    } else {
      parts.push(module);
    }
    index++;
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
