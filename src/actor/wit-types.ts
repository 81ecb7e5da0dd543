/**
 * The WIT types of a component's exported functions, as read from its binary
 * (component-exports.ts) and checked against a call's arguments (call-check.ts). Pure.
 */

export type WitPrimitive = "bool" | "s8" | "u8" | "s16" | "u16" | "s32" | "u32" | "s64" | "u64" | "f32" | "f64" | "char" | "string" | "error-context";

export type WitType =
  | { kind: WitPrimitive }
  | { kind: "list"; of: WitType; length?: number }
  | { kind: "record"; fields: Array<{ name: string; type: WitType }>; name?: string }
  | { kind: "tuple"; of: WitType[] }
  | { kind: "variant"; cases: Array<{ name: string; type?: WitType }>; name?: string }
  | { kind: "enum"; cases: string[]; name?: string }
  | { kind: "flags"; flags: string[]; name?: string }
  | { kind: "option"; of: WitType }
  | { kind: "result"; ok?: WitType; err?: WitType }
  | { kind: "resource"; name?: string }
  | { kind: "own" | "borrow"; resource: WitType }
  | { kind: "stream" | "future"; of?: WitType }
  /** A type this reader could not make out: any value passes. */
  | { kind: "unknown" };

export interface WitParam {
  name: string;
  type: WitType;
}

export interface FuncSig {
  params: WitParam[];
}

/** The type as WIT writes it: `string`, `list<u8>`, `option<point>`, a named type by its name. */
export function witName(t: WitType): string {
  switch (t.kind) {
    case "list":
      return t.length === undefined ? `list<${witName(t.of)}>` : `list<${witName(t.of)}, ${t.length}>`;
    case "tuple":
      return `tuple<${t.of.map(witName).join(", ")}>`;
    case "option":
      return `option<${witName(t.of)}>`;
    case "result":
      return t.ok === undefined && t.err === undefined ? "result" : `result<${t.ok ? witName(t.ok) : "_"}${t.err ? `, ${witName(t.err)}` : ""}>`;
    case "record":
    case "variant":
    case "enum":
    case "flags":
      return t.name ?? t.kind;
    case "resource":
      return t.name ?? "resource";
    case "own":
      return witName(t.resource);
    case "borrow":
      return `borrow<${witName(t.resource)}>`;
    case "stream":
    case "future":
      return t.of ? `${t.kind}<${witName(t.of)}>` : t.kind;
    default:
      return t.kind;
  }
}

/** `name: type, …` of a signature's parameters. */
export function paramList(sig: FuncSig): string {
  return sig.params.map((p) => `${p.name}: ${witName(p.type)}`).join(", ");
}
