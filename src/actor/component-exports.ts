/**
 * The signatures of the functions a component exports, read from its binary: each parameter's
 * name and WIT type, which the host checks a call's arguments against before an instance sees
 * them (call-check.ts). Read once per component; pure byte work, browser-safe.
 *
 * Only the component layer is read: core modules, nearly all of a component's bytes, are skipped
 * by their size. Types, imports, exports, aliases, instances, canonical definitions and nested
 * components are followed as far as they type the exports, whether an interface is exported as
 * the instance of a shim component (how wit-component gives an interface's functions and types
 * their names) or of inline exports (a hand-written component), with or without an ascribed type.
 * Anything this reader does not know (a newer binary format), or a section that does not end
 * where its size says, ends the reading: the component then gets no checks, never an error, and
 * never a wrong signature.
 */
import type { FuncSig, WitPrimitive, WitType } from "./wit-types.js";

/** Exported functions by interface as exported (`acme:demo/echo`, "" for the world's own), then name. */
export type ExportedFunctions = Map<string, Map<string, FuncSig>>;

/** What a type index names. */
type TypeDef = { t: "val"; v: WitType } | { t: "func"; sig: FuncSig } | { t: "instance"; exports: Exports } | { t: "component" };

/** An exported (or imported) item, as far as its type matters here. */
type Item = { sort: "func"; sig?: FuncSig } | { sort: "type"; def?: TypeDef } | { sort: "instance"; exports?: Exports } | { sort: "component"; exports?: Exports } | { sort: "other" };
type Exports = Map<string, Item>;
type Sort = Item["sort"];

/** A component, or a component or instance type: its own index spaces. */
interface Scope {
  parent?: Scope;
  types: Array<TypeDef | undefined>;
  funcs: Array<FuncSig | undefined>;
  instances: Array<Exports | undefined>;
  components: Array<Exports | undefined>;
  exports: Exports;
}

class Unsupported extends Error {}

const COMPONENT_VERSION = 0x0d;
const utf8 = new TextDecoder("utf-8", { fatal: true });

const PRIMITIVES: Record<number, WitPrimitive> = {
  0x7f: "bool",
  0x7e: "s8",
  0x7d: "u8",
  0x7c: "s16",
  0x7b: "u16",
  0x7a: "s32",
  0x79: "u32",
  0x78: "s64",
  0x77: "u64",
  0x76: "f32",
  0x75: "f64",
  0x74: "char",
  0x73: "string",
  0x64: "error-context",
};
/** One shared object per primitive used inline (a named alias of one gets its own). */
const PRIMITIVE_TYPES = new Map<number, WitType>(Object.entries(PRIMITIVES).map(([code, kind]) => [Number(code), { kind }]));
const UNKNOWN: WitType = { kind: "unknown" };

class Reader {
  constructor(
    private readonly b: Uint8Array,
    public at: number,
    readonly end: number,
  ) {}

  byte(): number {
    if (this.at >= this.end) throw new Unsupported("truncated");
    return this.b[this.at++]!;
  }

  u32(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Unsupported("u32 longer than 5 bytes");
  }

  /** A signed LEB128 of up to 33 bits (a valtype: a type index, or a negative primitive code). */
  s33(): number {
    let value = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    if (b & 0x80) throw new Unsupported("s33 longer than 5 bytes");
    return b & 0x40 ? value - 2 ** shift : value;
  }

  name(): string {
    const n = this.u32();
    if (this.at + n > this.end) throw new Unsupported("name past the end");
    const s = utf8.decode(this.b.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }

  sub(size: number): Reader {
    if (this.at + size > this.end) throw new Unsupported("section past the end");
    const r = new Reader(this.b, this.at, this.at + size);
    this.at += size;
    return r;
  }

  /** The end of a section: what was read must be all of it. */
  done(): void {
    if (this.at !== this.end) throw new Unsupported("section not read to its end");
  }
}

function vec(r: Reader, each: () => void): void {
  for (let n = r.u32(); n > 0; n--) each();
}

/** The exported functions' signatures; undefined when the binary holds what this reader does not know. */
export function exportedFunctions(bytes: Uint8Array): ExportedFunctions | undefined {
  try {
    const top = component(new Reader(bytes, 0, bytes.length), undefined);
    const out: ExportedFunctions = new Map();
    const world = new Map<string, FuncSig>();
    for (const [name, item] of top.exports) {
      if (item.sort === "func" && item.sig) world.set(name, item.sig);
      if (item.sort !== "instance" || !item.exports) continue;
      const fns = new Map<string, FuncSig>();
      for (const [fn, f] of item.exports) if (f.sort === "func" && f.sig) fns.set(fn, f.sig);
      out.set(name, fns);
    }
    if (world.size > 0) out.set("", world);
    return out;
  } catch {
    // Unsupported, or bytes a real component would not have: no checks rather than wrong ones.
    return undefined;
  }
}

function component(r: Reader, parent: Scope | undefined): Scope {
  const magic = [0x00, 0x61, 0x73, 0x6d];
  for (const m of magic) if (r.byte() !== m) throw new Unsupported("not WebAssembly");
  if (r.byte() !== COMPONENT_VERSION || r.byte() !== 0 || r.byte() !== 1 || r.byte() !== 0) throw new Unsupported("component binary version");
  const s: Scope = { parent, types: [], funcs: [], instances: [], components: [], exports: new Map() };
  while (r.at < r.end) {
    const id = r.byte();
    const sec = r.sub(r.u32());
    switch (id) {
      case 4:
        s.components.push(component(sec, s).exports);
        break;
      case 5:
        vec(sec, () => instance(sec, s));
        break;
      case 6:
        vec(sec, () => alias(sec, s));
        break;
      case 7:
        vec(sec, () => s.types.push(deftype(sec, s)));
        break;
      case 8:
        vec(sec, () => canon(sec, s));
        break;
      case 10:
        vec(sec, () => importDecl(sec, s));
        break;
      case 11:
        vec(sec, () => exportDef(sec, s));
        break;
      default:
        // Custom sections, core modules, core instances and types, start, values: nothing that types an export.
        continue;
    }
    sec.done();
  }
  return s;
}

function sort(r: Reader): Sort | "core" {
  const b = r.byte();
  switch (b) {
    case 0x00:
      r.byte();
      return "core";
    case 0x01:
      return "func";
    case 0x02:
      return "other"; // value
    case 0x03:
      return "type";
    case 0x04:
      return "component";
    case 0x05:
      return "instance";
    default:
      throw new Unsupported(`sort ${b}`);
  }
}

function itemAt(s: Scope, what: Sort | "core", idx: number): Item {
  switch (what) {
    case "func":
      return { sort: "func", sig: s.funcs[idx] };
    case "type":
      return { sort: "type", def: s.types[idx] };
    case "instance":
      return { sort: "instance", exports: s.instances[idx] };
    case "component":
      return { sort: "component", exports: s.components[idx] };
    default:
      return { sort: "other" };
  }
}

/** Add an item to its index space (imports, exports and aliases all make a new index). */
function push(s: Scope, item: Item | undefined, as: Sort | "core"): void {
  switch (as) {
    case "func":
      s.funcs.push(item?.sort === "func" ? item.sig : undefined);
      break;
    case "type":
      s.types.push(item?.sort === "type" ? item.def : undefined);
      break;
    case "instance":
      s.instances.push(item?.sort === "instance" ? item.exports : undefined);
      break;
    case "component":
      s.components.push(item?.sort === "component" ? item.exports : undefined);
      break;
    default:
      break; // core items and values are not followed
  }
}

/** An import or export name, past its attributes. */
function externName(r: Reader): string {
  const kind = r.byte();
  const name = r.name();
  if (kind === 0x02) {
    vec(r, () => {
      const attr = r.byte();
      if (attr > 0x02) throw new Unsupported(`name attribute ${attr}`);
      r.name();
    });
  } else if (kind > 0x01) throw new Unsupported(`name kind ${kind}`);
  return name;
}

function instance(r: Reader, s: Scope): void {
  const kind = r.byte();
  if (kind === 0x00) {
    const c = r.u32();
    vec(r, () => {
      r.name();
      sort(r);
      r.u32();
    });
    // The instance exports what the component does, typed as it types them.
    s.instances.push(s.components[c]);
  } else if (kind === 0x01) {
    const exports: Exports = new Map();
    vec(r, () => {
      const name = externName(r);
      const item = itemAt(s, sort(r), r.u32());
      named(item, name);
      exports.set(name, item);
    });
    s.instances.push(exports);
  } else throw new Unsupported(`instance kind ${kind}`);
}

function alias(r: Reader, s: Scope): void {
  const as = sort(r);
  const target = r.byte();
  if (target === 0x00) {
    const i = r.u32();
    push(s, s.instances[i]?.get(r.name()), as);
  } else if (target === 0x01) {
    r.u32();
    r.name(); // a core export: core index spaces are not followed
  } else if (target === 0x02) {
    let outer: Scope | undefined = s;
    for (let ct = r.u32(); ct > 0 && outer; ct--) outer = outer.parent;
    const idx = r.u32();
    push(s, outer && itemAt(outer, as, idx), as);
  } else throw new Unsupported(`alias target ${target}`);
}

function valtype(r: Reader, s: Scope): WitType {
  const v = r.s33();
  if (v < 0) {
    const t = PRIMITIVE_TYPES.get(0x80 + v);
    if (!t) throw new Unsupported(`primitive ${v}`);
    return t;
  }
  const def = s.types[v];
  return def?.t === "val" ? def.v : UNKNOWN;
}

function optional<T>(r: Reader, read: () => T): T | undefined {
  const flag = r.byte();
  if (flag === 0x00) return undefined;
  if (flag === 0x01) return read();
  throw new Unsupported(`option flag ${flag}`);
}

function labels(r: Reader): string[] {
  const out: string[] = [];
  vec(r, () => out.push(r.name()));
  return out;
}

function deftype(r: Reader, s: Scope): TypeDef | undefined {
  const op = r.byte();
  const prim = PRIMITIVES[op];
  if (prim) return { t: "val", v: { kind: prim } };
  switch (op) {
    case 0x72: {
      const fields: Array<{ name: string; type: WitType }> = [];
      vec(r, () => fields.push({ name: r.name(), type: valtype(r, s) }));
      return { t: "val", v: { kind: "record", fields } };
    }
    case 0x71: {
      const cases: Array<{ name: string; type?: WitType }> = [];
      vec(r, () => {
        const name = r.name();
        const type = optional(r, () => valtype(r, s));
        optional(r, () => r.u32()); // `refines`, in older binaries; 0x00 now
        cases.push(type ? { name, type } : { name });
      });
      return { t: "val", v: { kind: "variant", cases } };
    }
    case 0x70:
      return { t: "val", v: { kind: "list", of: valtype(r, s) } };
    case 0x67: {
      const of = valtype(r, s);
      return { t: "val", v: { kind: "list", of, length: r.u32() } };
    }
    case 0x6f: {
      const of: WitType[] = [];
      vec(r, () => of.push(valtype(r, s)));
      return { t: "val", v: { kind: "tuple", of } };
    }
    case 0x6e:
      return { t: "val", v: { kind: "flags", flags: labels(r) } };
    case 0x6d:
      return { t: "val", v: { kind: "enum", cases: labels(r) } };
    case 0x6b:
      return { t: "val", v: { kind: "option", of: valtype(r, s) } };
    case 0x6a: {
      const ok = optional(r, () => valtype(r, s));
      const err = optional(r, () => valtype(r, s));
      return { t: "val", v: { kind: "result", ...(ok ? { ok } : {}), ...(err ? { err } : {}) } };
    }
    case 0x69:
    case 0x68: {
      const res = s.types[r.u32()];
      return { t: "val", v: { kind: op === 0x69 ? "own" : "borrow", resource: res?.t === "val" ? res.v : UNKNOWN } };
    }
    case 0x66:
    case 0x65: {
      const of = optional(r, () => valtype(r, s));
      return { t: "val", v: { kind: op === 0x66 ? "stream" : "future", ...(of ? { of } : {}) } };
    }
    case 0x63:
      valtype(r, s);
      valtype(r, s);
      return { t: "val", v: UNKNOWN }; // map<k, v>: not checked
    case 0x3f:
      r.byte(); // the representation (i32)
      optional(r, () => r.u32()); // the destructor
      return { t: "val", v: { kind: "resource" } };
    case 0x40:
    case 0x43:
      return { t: "func", sig: functype(r, s) };
    case 0x41:
      decls(r, s, true);
      return { t: "component" };
    case 0x42:
      return { t: "instance", exports: decls(r, s, false) };
    default:
      throw new Unsupported(`type ${op}`);
  }
}

function functype(r: Reader, s: Scope): FuncSig {
  const params: FuncSig["params"] = [];
  vec(r, () => params.push({ name: r.name(), type: valtype(r, s) }));
  const results = r.byte();
  if (results === 0x00) valtype(r, s);
  else if (results === 0x01) {
    vec(r, () => {
      r.name(); // named results, in older binaries (none now)
      valtype(r, s);
    });
  }
  else throw new Unsupported(`result list ${results}`);
  return { params };
}

/** The declarations of a component or instance type, in a scope of their own; the exports they declare. */
function decls(r: Reader, parent: Scope, isComponent: boolean): Exports {
  const s: Scope = { parent, types: [], funcs: [], instances: [], components: [], exports: new Map() };
  vec(r, () => {
    const kind = r.byte();
    if (kind === 0x00) throw new Unsupported("core type in a type declaration");
    else if (kind === 0x01) s.types.push(deftype(r, s));
    else if (kind === 0x02) alias(r, s);
    else if (kind === 0x03 && isComponent) externDecl(r, s, false);
    else if (kind === 0x04) externDecl(r, s, true);
    else throw new Unsupported(`declaration ${kind}`);
  });
  return s.exports;
}

/** What an externtype describes, as an item (a `type (sub resource)` is a fresh resource). */
function externtype(r: Reader, s: Scope): Item {
  const kind = r.byte();
  switch (kind) {
    case 0x00:
      r.byte();
      r.u32();
      return { sort: "other" };
    case 0x01: {
      const def = s.types[r.u32()];
      return { sort: "func", sig: def?.t === "func" ? def.sig : undefined };
    }
    case 0x02:
      if (r.byte() === 0x00) r.u32();
      else valtype(r, s);
      return { sort: "other" };
    case 0x03: {
      const bound = r.byte();
      if (bound === 0x00) return { sort: "type", def: s.types[r.u32()] };
      if (bound === 0x01) return { sort: "type", def: { t: "val", v: { kind: "resource" } } };
      throw new Unsupported(`type bound ${bound}`);
    }
    case 0x04:
      r.u32();
      return { sort: "component" };
    case 0x05: {
      const def = s.types[r.u32()];
      return { sort: "instance", exports: def?.t === "instance" ? def.exports : undefined };
    }
    default:
      throw new Unsupported(`externtype ${kind}`);
  }
}

/** An import or export declaration: a new index in its space; an export is also recorded. */
function externDecl(r: Reader, s: Scope, isExport: boolean): void {
  const name = externName(r);
  const item = externtype(r, s);
  named(item, name, isExport);
  push(s, item, item.sort);
  if (isExport) s.exports.set(name, item);
}

function importDecl(r: Reader, s: Scope): void {
  externDecl(r, s, false);
}

function exportDef(r: Reader, s: Scope): void {
  const name = externName(r);
  const as = sort(r);
  let item = itemAt(s, as, r.u32());
  const ascribed = optional(r, () => externtype(r, s));
  // An ascribed type says what the export is seen as; a type export keeps its definition.
  if (ascribed && ascribed.sort === item.sort && item.sort !== "type") item = ascribed;
  named(item, name, true);
  push(s, item, as);
  s.exports.set(name, item);
}

/** Name a type exported or imported under a name: a later export's name wins over an import's. */
function named(item: Item, name: string, isExport = true): void {
  if (item.sort !== "type" || item.def?.t !== "val") return;
  const v = item.def.v;
  if (v.kind === "record" || v.kind === "variant" || v.kind === "enum" || v.kind === "flags" || v.kind === "resource") {
    if (isExport || v.name === undefined) v.name = name;
  }
}

function canon(r: Reader, s: Scope): void {
  const op = r.byte();
  switch (op) {
    case 0x00: {
      if (r.byte() !== 0x00) throw new Unsupported("canon lift of a non-func");
      r.u32();
      opts(r);
      const def = s.types[r.u32()];
      s.funcs.push(def?.t === "func" ? def.sig : undefined);
      return;
    }
    case 0x01:
      if (r.byte() !== 0x00) throw new Unsupported("canon lower of a non-func");
      r.u32();
      opts(r);
      return; // a core function
    case 0x02:
    case 0x03:
    case 0x04:
      r.u32(); // resource.new/drop/rep: core functions
      return;
    default:
      throw new Unsupported(`canon ${op}`);
  }
}

function opts(r: Reader): void {
  vec(r, () => {
    const opt = r.byte();
    if (opt === 0x03 || opt === 0x04 || opt === 0x05 || opt === 0x07) r.u32();
    else if (opt > 0x07) throw new Unsupported(`canon option ${opt}`);
  });
}
