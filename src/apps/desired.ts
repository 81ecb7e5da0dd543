/**
 * What a manifest asks of lattice state besides running components: its links, and a named
 * config per link that carries inline values. Pure.
 */
import { DEFAULT_LINK_NAME, type Link, type Manifest, type ManifestLink, type OwnedResources } from "../protocol/index.js";
import { canonical } from "./app-store.js";

export interface DesiredState {
  links: Array<Omit<Link, "updatedAt">>;
  /** Named configs to create, by name. */
  configs: Map<string, Record<string, string>>;
  owned: OwnedResources;
}

export const NOTHING: OwnedResources = { actors: [], providers: [], links: [], configs: [] };

export function desiredState(m: Manifest | undefined): DesiredState {
  if (!m) return { links: [], configs: new Map(), owned: NOTHING };
  const configs = new Map<string, Record<string, string>>();
  const links = (m.links ?? []).map((l) => {
    const name = l.name ?? DEFAULT_LINK_NAME;
    const config: string[] = [];
    if (l.config) {
      const configName = linkConfigName(m.name, l, name);
      configs.set(configName, l.config);
      config.push(configName);
    }
    return { source: l.source, target: l.target, interface: l.interface, name, config };
  });
  return {
    links,
    configs,
    owned: {
      actors: m.components.filter((c) => c.actor !== undefined).map((c) => c.id),
      providers: m.components.filter((c) => c.provider !== undefined).map((c) => c.id),
      links: links.map((l) => ({ source: l.source, interface: l.interface, name: l.name })),
      configs: [...configs.keys()],
    },
  };
}

/** `<app>-<8 hex>`: stable for a link's source, interface and name, so versions reuse it. */
export function linkConfigName(app: string, l: ManifestLink, name: string): string {
  return `${app}-${fnv1a(`${l.source} ${l.interface} ${name}`)}`;
}

/** Everything in either set, each once. */
export function union(a: OwnedResources, b: OwnedResources): OwnedResources {
  const links = new Map([...a.links, ...b.links].map((l) => [`${l.source} ${l.interface} ${l.name}`, l]));
  return {
    actors: [...new Set([...a.actors, ...b.actors])].sort(),
    providers: [...new Set([...a.providers, ...b.providers])].sort(),
    links: [...links.values()].sort((x, y) => canonical(x).localeCompare(canonical(y))),
    configs: [...new Set([...a.configs, ...b.configs])].sort(),
  };
}

/** What `had` holds and `keep` does not: to be removed. */
export function minus(had: OwnedResources, keep: OwnedResources): OwnedResources {
  const kept = new Set(keep.links.map((l) => `${l.source} ${l.interface} ${l.name}`));
  return {
    actors: had.actors.filter((x) => !keep.actors.includes(x)),
    providers: had.providers.filter((x) => !keep.providers.includes(x)),
    links: had.links.filter((l) => !kept.has(`${l.source} ${l.interface} ${l.name}`)),
    configs: had.configs.filter((x) => !keep.configs.includes(x)),
  };
}

export function isEmpty(o: OwnedResources): boolean {
  return o.actors.length + o.providers.length + o.links.length + o.configs.length === 0;
}

/** 32-bit FNV-1a as 8 hex digits: a short, stable name part (not a security digest). */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** A digest of a component's ref and config: when it changes, the component is re-applied. */
export async function specOf(ref: string, config: Record<string, string> | undefined): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical({ ref, config: config ?? {} }))));
  return [...bytes.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
