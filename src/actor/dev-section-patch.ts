/**
 * Redoing a Wasm rewrite by patching sections, for `lattice dev`'s build server. Two steps of
 * componentize-js rewrite the pre-initialised engine after wizer has run the actor's JavaScript:
 * the splicer stubs its unused WASI imports (~0.5 s) and jco's wasm-tools encodes it as a
 * component (~0.5 s). Builds for the same WIT world feed them the same engine code; what the
 * JavaScript changes is the memory snapshot: the data section (measured: the only section that
 * differs between two builds of different sources).
 *
 * So, given a rewrite done in full once (`prevIn` → `prevOut`) and a new input: when the new
 * input has the same sections as `prevIn` except some, and each of those appears in `prevOut`
 * exactly once, byte for byte as it was in `prevIn` (the rewrite copied it through untouched),
 * the new output is `prevOut` with those copies replaced by the new input's sections. Anything
 * else (another section changed, a section rewritten, found twice or not at all) answers
 * `undefined` and the caller runs the rewrite in full. The one assumption is that the rewrite
 * of the other sections does not depend on those sections' bytes: true of an import stub and of
 * a component wrapper, neither of which reads data segments. The build server can check every
 * patch against the full rewrite (LATTICE_DEV_VERIFY=1, which the tests set).
 */
import { concat, encodeLeb, readLeb, sections } from "./wasm-sections.js";

const HEADER = 8;
const CORE_MODULE = 1;

interface Piece {
  id: number;
  name?: string;
  start: number;
  end: number;
}

/** The output of `rewrite(nextIn)` from a full `rewrite(prevIn) = prevOut`, when patching can give it. */
export function patchModule(prevIn: Uint8Array, prevOut: Uint8Array, nextIn: Uint8Array): Uint8Array | undefined {
  const changed = changedSections(prevIn, nextIn);
  if (!changed) return undefined;
  if (changed.length === 0) return prevOut;
  const replaced = replaceCopies(prevOut, prevIn, nextIn, changed);
  return replaced ? assemble(prevOut.subarray(0, HEADER), replaced) : undefined;
}

/**
 * The same for a rewrite whose output is a component holding the module (jco's componentNew):
 * the copies are looked for inside one of its top-level core modules.
 */
export function patchComponent(prevIn: Uint8Array, prevOut: Uint8Array, nextIn: Uint8Array): Uint8Array | undefined {
  const changed = changedSections(prevIn, nextIn);
  if (!changed) return undefined;
  if (changed.length === 0) return prevOut;
  const top = sections(prevOut);
  let patched: Uint8Array[] | undefined;
  for (let i = 0; i < top.length; i++) {
    const s = top[i]!;
    if (s.id !== CORE_MODULE) continue;
    const contentAt = readLeb(prevOut, s.start + 1)[1];
    const module = prevOut.subarray(contentAt, s.end);
    const replaced = replaceCopies(module, prevIn, nextIn, changed);
    if (!replaced) continue;
    // The copies must be in one module only.
    if (patched) return undefined;
    const newModule = assemble(module.subarray(0, HEADER), replaced);
    patched = top.map((t, j) => (j === i ? concat([Uint8Array.of(CORE_MODULE), Uint8Array.from(encodeLeb(newModule.length)), newModule]) : prevOut.subarray(t.start, t.end)));
  }
  return patched ? concat([prevOut.subarray(0, HEADER), ...patched]) : undefined;
}

/** Indices of the sections that differ, when both have the same sections in the same order. */
function changedSections(a: Uint8Array, b: Uint8Array): number[] | undefined {
  let sa: Piece[];
  let sb: Piece[];
  try {
    sa = sections(a);
    sb = sections(b);
  } catch {
    return undefined;
  }
  if (sa.length !== sb.length) return undefined;
  const changed: number[] = [];
  for (let i = 0; i < sa.length; i++) {
    const x = sa[i]!;
    const y = sb[i]!;
    if (x.id !== y.id || x.name !== y.name) return undefined;
    if (!equal(a.subarray(x.start, x.end), b.subarray(y.start, y.end))) changed.push(i);
  }
  return changed;
}

/** `out`'s sections, each unique copy of a changed section of `prevIn` swapped for `nextIn`'s. */
function replaceCopies(out: Uint8Array, prevIn: Uint8Array, nextIn: Uint8Array, changed: number[]): Uint8Array[] | undefined {
  let outSections: Piece[];
  try {
    outSections = sections(out);
  } catch {
    return undefined;
  }
  const inSections = sections(prevIn);
  const nextSections = sections(nextIn);
  const parts = outSections.map((s) => out.subarray(s.start, s.end));
  for (const i of changed) {
    const old = prevIn.subarray(inSections[i]!.start, inSections[i]!.end);
    const at = outSections.flatMap((s, j) => (s.end - s.start === old.length && equal(out.subarray(s.start, s.end), old) ? [j] : []));
    if (at.length !== 1) return undefined;
    parts[at[0]!] = nextIn.subarray(nextSections[i]!.start, nextSections[i]!.end);
  }
  return parts;
}

function assemble(header: Uint8Array, parts: Uint8Array[]): Uint8Array {
  return concat([header, ...parts]);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
