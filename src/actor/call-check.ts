/**
 * A call's arguments checked against the signature of the function it calls, where the call is
 * served, so that every caller gets the same answer: a wrong number of arguments, or one that is
 * not of its WIT type, is refused with the function, the argument's name and its type, before an
 * instance sees it (jco's glue drops extra arguments silently, and coerces or rejects wrong ones
 * without saying which).
 *
 * Values are checked as jco lowers them: records as objects with camelCase fields, variants and
 * results as `{ tag, val }`, enums as strings, flags as objects, an option as its value or null,
 * 32-bit and smaller integers as numbers, 64-bit ones as numbers or BigInts, lists as arrays (or
 * typed arrays: `list<u8>` as bytes). Resources, streams and futures pass unchecked. A check is a
 * map lookup and a walk of the arguments that allocates nothing unless it fails.
 */
import { HTTP_HANDLE, HTTP_INCOMING_HANDLER } from "../protocol/http.js";
import { unversioned } from "../protocol/links.js";
import type { ExportedFunctions } from "./component-exports.js";
import { paramList, witName, type FuncSig, type WitType } from "./wit-types.js";

const INT_RANGES: Record<string, readonly [number, number]> = {
  s8: [-128, 127],
  u8: [0, 255],
  s16: [-32768, 32767],
  u16: [0, 65535],
  s32: [-2147483648, 2147483647],
  u32: [0, 4294967295],
};
const BIG_RANGES: Record<string, readonly [bigint, bigint]> = {
  s64: [-(2n ** 63n), 2n ** 63n - 1n],
  u64: [0n, 2n ** 64n - 1n],
};
const NUMERIC = new Set(["s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32", "f64"]);

/** Where in an argument a value misses its type, and what it is instead. */
interface Mismatch {
  path: string;
  type: WitType;
  got: string;
}

function camel(kebab: string): string {
  return kebab.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The object keys jco reads a record's fields from, made once per record type. */
const recordKeys = new WeakMap<object, string[]>();
function keysOf(t: Extract<WitType, { kind: "record" }>): string[] {
  let keys = recordKeys.get(t);
  if (!keys) recordKeys.set(t, (keys = t.fields.map((f) => camel(f.name))));
  return keys;
}

export class CallChecker {
  /** By interface (as exported, and unversioned), then function (kebab and camel case). */
  private readonly byIface = new Map<string, Map<string, FuncSig>>();

  constructor(exports: ExportedFunctions) {
    for (const [iface, fns] of exports) {
      const byName = new Map<string, FuncSig>();
      for (const [fn, sig] of fns) {
        // Served from an HttpRequest value, which the worker checks itself.
        if (unversioned(iface) === HTTP_INCOMING_HANDLER && fn === HTTP_HANDLE) continue;
        byName.set(fn, sig);
        byName.set(camel(fn), sig);
      }
      this.byIface.set(iface, byName);
      if (!this.byIface.has(unversioned(iface))) this.byIface.set(unversioned(iface), byName);
    }
  }

  /** Why `args` cannot be passed to `iface.fn`, or undefined when they can (or its signature is unknown). */
  problem(iface: string, fn: string, args: readonly unknown[]): string | undefined {
    const sig = (this.byIface.get(iface) ?? this.byIface.get(unversioned(iface)))?.get(fn);
    if (!sig) return undefined;
    const params = sig.params;
    if (args.length > params.length || (args.length < params.length && !params.slice(args.length).every((p) => p.type.kind === "option"))) {
      return `${callName(iface, fn)} ${takes(sig)}, got ${args.length}`;
    }
    for (let i = 0; i < args.length; i++) {
      const p = params[i]!;
      const miss = mismatch(args[i], p.type, p.name);
      if (!miss) continue;
      const where = `argument ${i + 1} (${p.name}) of ${callName(iface, fn)}`;
      const what = `must be ${expected(miss.type)} (WIT ${witName(miss.type)}), got ${miss.got}`;
      return miss.path === p.name ? `${where} ${what}` : `${where}: ${miss.path} ${what}`;
    }
    return undefined;
  }
}

function callName(iface: string, fn: string): string {
  return iface ? `${iface}.${fn}` : fn;
}

function takes(sig: FuncSig): string {
  const n = sig.params.length;
  if (n === 0) return "takes no arguments";
  return `takes ${n} argument${n === 1 ? "" : "s"} (${paramList(sig)})`;
}

/** How `v` misses `t`, if it does; `path` names where `v` sits in the argument. */
function mismatch(v: unknown, t: WitType, path: string): Mismatch | undefined {
  switch (t.kind) {
    case "bool":
      return typeof v === "boolean" ? undefined : { path, type: t, got: describe(v) };
    case "s8":
    case "u8":
    case "s16":
    case "u16":
    case "s32":
    case "u32": {
      const [min, max] = INT_RANGES[t.kind]!;
      if (typeof v !== "number") return { path, type: t, got: describe(v) };
      return Number.isInteger(v) && v >= min && v <= max ? undefined : { path, type: t, got: String(v) };
    }
    case "s64":
    case "u64": {
      const [min, max] = BIG_RANGES[t.kind]!;
      if (typeof v === "bigint") return v >= min && v <= max ? undefined : { path, type: t, got: String(v) };
      if (typeof v !== "number") return { path, type: t, got: describe(v) };
      return Number.isInteger(v) && v >= Number(min) && v <= Number(max) ? undefined : { path, type: t, got: String(v) };
    }
    case "f32":
    case "f64":
      return typeof v === "number" ? undefined : { path, type: t, got: describe(v) };
    case "char":
      return typeof v === "string" && (v.length === 1 || (v.length === 2 && v.codePointAt(0)! > 0xffff)) ? undefined : { path, type: t, got: describe(v) };
    case "string":
      return typeof v === "string" ? undefined : { path, type: t, got: describe(v) };
    case "list": {
      if (NUMERIC.has(t.of.kind) && ArrayBuffer.isView(v)) return t.length === undefined || (v as Uint8Array).length === t.length ? undefined : { path, type: t, got: describe(v) };
      if (!Array.isArray(v) || (t.length !== undefined && v.length !== t.length)) return { path, type: t, got: describe(v) };
      for (let i = 0; i < v.length; i++) {
        const m = mismatch(v[i], t.of, `${path}[${i}]`);
        if (m) return m;
      }
      return undefined;
    }
    case "tuple": {
      if (!Array.isArray(v) || v.length !== t.of.length) return { path, type: t, got: describe(v) };
      for (let i = 0; i < v.length; i++) {
        const m = mismatch(v[i], t.of[i]!, `${path}[${i}]`);
        if (m) return m;
      }
      return undefined;
    }
    case "record": {
      if (!isObject(v)) return { path, type: t, got: describe(v) };
      const keys = keysOf(t);
      for (let i = 0; i < keys.length; i++) {
        const f = t.fields[i]!;
        const m = mismatch((v as Record<string, unknown>)[keys[i]!], f.type, `${path}.${f.name}`);
        if (m) return m;
      }
      return undefined;
    }
    case "variant": {
      const c = isObject(v) ? t.cases.find((c) => c.name === (v as { tag?: unknown }).tag) : undefined;
      if (!c) return { path, type: t, got: describe(v) };
      return c.type ? mismatch((v as { val?: unknown }).val, c.type, `${path}.val`) : undefined;
    }
    case "enum":
      return typeof v === "string" && t.cases.includes(v) ? undefined : { path, type: t, got: typeof v === "string" ? JSON.stringify(v) : describe(v) };
    case "flags":
      return isObject(v) ? undefined : { path, type: t, got: describe(v) };
    case "option": {
      // A nested option is `{ tag, val }` in jco; not followed.
      if (v === null || v === undefined || t.of.kind === "option") return undefined;
      const m = mismatch(v, t.of, path);
      return m && m.path === path ? { path, type: t, got: m.got } : m;
    }
    case "result": {
      const tag = isObject(v) ? (v as { tag?: unknown }).tag : undefined;
      if (tag !== "ok" && tag !== "err") return { path, type: t, got: describe(v) };
      const inner = tag === "ok" ? t.ok : t.err;
      return inner ? mismatch((v as { val?: unknown }).val, inner, `${path}.val`) : undefined;
    }
    default:
      return undefined; // resources, streams, futures, error contexts: not checked here
  }
}

function isObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** What a value of `t` is, for a person. */
function expected(t: WitType): string {
  switch (t.kind) {
    case "bool":
      return "true or false";
    case "s8":
    case "u8":
    case "s16":
    case "u16":
    case "s32":
    case "u32":
      return `an integer from ${INT_RANGES[t.kind]![0]} to ${INT_RANGES[t.kind]![1]}`;
    case "s64":
    case "u64":
      return `an integer from ${BIG_RANGES[t.kind]![0]} to ${BIG_RANGES[t.kind]![1]}`;
    case "f32":
    case "f64":
      return "a number";
    case "char":
      return "a single character";
    case "string":
      return "a string";
    case "list":
      if (t.of.kind === "u8") return t.length === undefined ? "bytes" : `${t.length} bytes`;
      return t.length === undefined ? "a list" : `a list of ${t.length}`;
    case "tuple":
      return `a list of ${t.of.length} values`;
    case "record":
      return `an object with fields ${t.fields.map((f) => camel(f.name)).join(", ")}`;
    case "variant":
      return `{ tag, val } with tag one of ${t.cases.map((c) => JSON.stringify(c.name)).join(", ")}`;
    case "enum":
      return `one of ${t.cases.map((c) => JSON.stringify(c)).join(", ")}`;
    case "flags":
      return "an object of flags";
    case "option":
      return `null or ${expected(t.of)}`;
    case "result":
      return '{ tag: "ok" or "err", val }';
    default:
      return "a value";
  }
}

/** What a value is, for a person: "a number", "a list of 2", "null". */
function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `${v.byteLength} bytes`;
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "bigint":
      return "a BigInt";
    case "boolean":
      return "a boolean";
    case "object":
      return "an object";
    default:
      return typeof v;
  }
}
