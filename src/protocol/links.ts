/**
 * Links and named config: lattice state, kept in a JetStream KV bucket per lattice
 * (`lattice_<L>_state`). A link says where calls from `source` on `interface` go; re-pointing
 * it changes the next call, with nothing rebuilt or restarted.
 *
 *   link.<source>.<interface with ':' as '='>.<name>   → Link
 *   config.<name>                                      → NamedConfig
 */
import { Type, type Static } from "@sinclair/typebox";
import {
  CONFIG_NAME_PATTERN,
  DEFAULT_LINK_NAME,
  LINK_INTERFACE_PATTERN,
  LINK_NAME_PATTERN,
  TARGET_ID_PATTERN,
  assertConfigName,
  assertLinkInterface,
  assertLinkName,
} from "./names.js";

/** Link and config names: patterns and checks in names.ts, which the CLI loads without the schemas. */
export { LINK_INTERFACE_PATTERN, LINK_NAME_PATTERN, CONFIG_NAME_PATTERN, DEFAULT_LINK_NAME, assertLinkInterface, assertLinkName, assertConfigName };

export const Link = Type.Object({
  source: Type.String({ pattern: TARGET_ID_PATTERN }),
  target: Type.String({ pattern: TARGET_ID_PATTERN }),
  interface: Type.String({ pattern: LINK_INTERFACE_PATTERN }),
  name: Type.String({ pattern: LINK_NAME_PATTERN }),
  /** Named configs merged in order (later wins), read when the link is used. */
  config: Type.Array(Type.String({ pattern: CONFIG_NAME_PATTERN }), { maxItems: 32 }),
  updatedAt: Type.String({ format: "date-time", maxLength: 64 }),
});
export type Link = Static<typeof Link>;

export const NamedConfig = Type.Object({
  name: Type.String({ pattern: CONFIG_NAME_PATTERN }),
  values: Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 16 * 1024 }), { maxProperties: 256 }),
  updatedAt: Type.String({ format: "date-time", maxLength: 64 }),
});
export type NamedConfig = Static<typeof NamedConfig>;

/** The KV key of a link. KV keys hold no ':', and interfaces hold no '='. */
export function linkKey(source: string, iface: string, name: string): string {
  return `link.${source}.${iface.replace(":", "=")}.${name}`;
}

export function configKey(name: string): string {
  return `config.${name}`;
}

export const LINK_KEY_PREFIX = "link.";
export const CONFIG_KEY_PREFIX = "config.";

/** An import name without its version: `wasi:keyvalue/store@0.2.0-draft` → `wasi:keyvalue/store`. */
export function unversioned(iface: string): string {
  const at = iface.indexOf("@");
  return at < 0 ? iface : iface.slice(0, at);
}

/**
 * The link that serves `source`'s calls on `iface`: one for exactly that interface first, else
 * one for its whole package (`wasi:keyvalue` serves `wasi:keyvalue/store` and `.../atomics`).
 */
export function findLink(links: Iterable<Link>, source: string, iface: string, name = DEFAULT_LINK_NAME): Link | undefined {
  const exact = unversioned(iface);
  const pkg = exact.slice(0, exact.indexOf("/") < 0 ? exact.length : exact.indexOf("/"));
  let byPackage: Link | undefined;
  for (const l of links) {
    if (l.source !== source || l.name !== name) continue;
    if (l.interface === exact) return l;
    if (l.interface === pkg) byPackage = l;
  }
  return byPackage;
}
