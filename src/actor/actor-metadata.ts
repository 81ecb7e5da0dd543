/**
 * What a host reads from a component's own custom sections to decide how to run it: the
 * `lattice-actor` section that `lattice build` writes (JSON), and the standard `producers`
 * section that names the tools that made it. Pure byte work, browser-safe.
 */
import { customSections, readLeb, withCustomSection } from "./wasm-sections.js";

export const ACTOR_METADATA_SECTION = "lattice-actor";

/** Whether an instance serves `wasi:http/incoming-handler` calls one after another, or one only. */
export type HttpInstances = "reuse" | "fresh";
export const HTTP_INSTANCE_MODES: readonly HttpInstances[] = ["reuse", "fresh"];

export interface ActorMetadata {
  /** How its HTTP handler may be called: `reuse` when one instance serves many requests. */
  http?: HttpInstances;
}

/** The bytes with `meta` as their `lattice-actor` section. */
export function withActorMetadata(bytes: Uint8Array, meta: ActorMetadata): Uint8Array {
  return withCustomSection(bytes, ACTOR_METADATA_SECTION, new TextEncoder().encode(JSON.stringify(meta)));
}

/** The component's `lattice-actor` metadata; empty when it has none (or one that is not JSON). */
export function actorMetadata(bytes: Uint8Array): ActorMetadata {
  const found = customSections(bytes, ACTOR_METADATA_SECTION);
  if (found.length !== 1) return {};
  try {
    const v = JSON.parse(new TextDecoder().decode(found[0])) as unknown;
    if (typeof v !== "object" || v === null) return {};
    const http = (v as { http?: unknown }).http;
    return HTTP_INSTANCE_MODES.includes(http as HttpInstances) ? { http: http as HttpInstances } : {};
  } catch {
    return {};
  }
}

/** The tool names of the `processed-by` field of the component's top-level `producers` section. */
export function processedBy(bytes: Uint8Array): string[] {
  const names: string[] = [];
  const utf8 = new TextDecoder();
  for (const content of customSections(bytes, "producers")) {
    const str = (at: number): [string, number] => {
      const [len, from] = readLeb(content, at);
      return [utf8.decode(content.subarray(from, from + len)), from + len];
    };
    let [fields, at] = readLeb(content, 0);
    for (; fields > 0; fields--) {
      let field: string;
      [field, at] = str(at);
      const [count, next] = readLeb(content, at);
      at = next;
      for (let values = count; values > 0; values--) {
        let name: string;
        [name, at] = str(at);
        [, at] = str(at); // the version
        if (field === "processed-by") names.push(name);
      }
    }
  }
  return names;
}

/**
 * How a component's HTTP handler is run, and why: as its metadata says; else one request per
 * instance for a component componentize-js made without lattice's handler layer (its engine's
 * fetch-event shim cannot answer a second request: StarlingMonkey#247); else reused, which is
 * what wasi:http allows any handler.
 */
export function httpInstancesOf(bytes: Uint8Array): { mode: HttpInstances; why: string } {
  const meta = actorMetadata(bytes);
  if (meta.http) return { mode: meta.http, why: `its ${ACTOR_METADATA_SECTION} section says ${meta.http}` };
  if (processedBy(bytes).includes("ComponentizeJS")) {
    return { mode: "fresh", why: "componentize-js built it without lattice's HTTP handler layer, and its engine's fetch-event shim answers one request per instance" };
  }
  return { mode: "reuse", why: "a wasi:http handler may serve many requests" };
}
