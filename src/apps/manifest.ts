/**
 * Reading an app manifest (YAML, or JSON which is YAML too): parse, check against the schema,
 * then check what a schema cannot say (one of actor/provider, unique ids…). Every problem is
 * reported at once, each with its path and, when known, its line.
 */
import { LineCounter, isMap, isScalar, parseDocument, type Document } from "yaml";
import {
  ErrorCode,
  LATEST,
  LatticeError,
  MAX_MANIFEST_BYTES,
  Manifest,
  assertLabel,
  formatArtifactRef,
  isLatticeError,
  messageOf,
  parseArtifactRef,
  schemaProblems,
  type ArtifactRef,
  type Labels,
  type ManifestComponent,
} from "../protocol/index.js";

export interface ManifestProblem {
  /** Where, as `components[1].placement.spread.instances` (`/` for the whole document). */
  path: string;
  message: string;
  /** 1-based line in the file, when the path points at something in it. */
  line?: number;
}

/** A manifest that cannot be deployed: every problem found, in document order. */
export class ManifestError extends LatticeError {
  constructor(
    readonly problems: ManifestProblem[],
    source = "manifest",
  ) {
    super(ErrorCode.BadRequest, `invalid ${source}:\n${problems.map((p) => `  ${p.line ? `line ${p.line}: ` : ""}${p.path}: ${p.message}`).join("\n")}`);
    this.payload = { problems };
  }
}

/**
 * Checks of what a manifest names against what the lattice has, for `lattice app validate` and
 * `deploy` (the reconciler finds these only when it tries to start the component).
 */
export interface LatticeChecks {
  /** The providers built into hosts (`keyvalue`…): any other provider ref must name a module file. */
  builtinProviders?: readonly string[];
  /** The versions in the lattice's artifact store, and the lattice's name: every actor's artifact must be there. */
  artifacts?: { lattice: string; stored: ReadonlyArray<{ name: string; version: string }> };
}

/** Parse and check a manifest's text; throws ManifestError listing every problem. */
export function parseManifest(text: string, source = "manifest", checks: LatticeChecks = {}): Manifest {
  const size = new TextEncoder().encode(text).length;
  if (size > MAX_MANIFEST_BYTES) throw new ManifestError([{ path: "/", message: `${size} bytes, over the limit of ${MAX_MANIFEST_BYTES}` }], source);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ManifestError(
      doc.errors.map((e) => ({ path: "/", message: e.message.split("\n")[0]!, line: lines.linePos(e.pos[0]).line })),
      source,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ManifestError([{ path: "/", message: messageOf(e) }], source);
  }
  const problems = checkManifest(value, checks);
  if (problems.length > 0) {
    throw new ManifestError(
      problems.map((p) => ({ ...p, path: dotted(p.path), line: lineOf(doc, lines, p.path) })),
      source,
    );
  }
  return value as Manifest;
}

/** Problems of a manifest value, with JSON-pointer paths; empty when it is deployable. */
export function checkManifest(value: unknown, checks: LatticeChecks = {}): Array<{ path: string; message: string }> {
  const problems = schemaProblems(Manifest, value);
  if (problems.length > 0) return dedupe(problems);
  const m = value as Manifest;
  const out: Array<{ path: string; message: string }> = [];
  const ids = new Map<string, number>();
  m.components.forEach((c, i) => {
    const at = `/components/${i}`;
    const seen = ids.get(c.id);
    if (seen !== undefined) out.push({ path: `${at}/id`, message: `id ${c.id} is also used by components[${seen}]` });
    else ids.set(c.id, i);
    out.push(...checkComponent(c, at), ...checkAgainstLattice(c, at, checks));
  });
  const links = new Map<string, number>();
  (m.links ?? []).forEach((l, i) => {
    const key = `${l.source} ${l.interface} ${l.name ?? "default"}`;
    const seen = links.get(key);
    if (seen !== undefined) out.push({ path: `/links/${i}`, message: `links[${seen}] already links ${l.source} on ${l.interface} (name ${l.name ?? "default"})` });
    else links.set(key, i);
  });
  return out;
}

function checkComponent(c: ManifestComponent, at: string): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  if ((c.actor === undefined) === (c.provider === undefined)) {
    out.push({ path: at, message: "give exactly one of `actor` (an artifact reference) or `provider` (a provider name or module)" });
  }
  if (c.actor !== undefined) {
    try {
      parseArtifactRef(c.actor);
    } catch (e) {
      out.push({ path: `${at}/actor`, message: isLatticeError(e) ? e.message : String(e) });
    }
  }
  const p = c.placement;
  if (p?.spread && p.daemon) out.push({ path: `${at}/placement`, message: "give one of `spread` or `daemon`, not both" });
  if (p?.labels) out.push(...labelProblems(p.labels, `${at}/placement/labels`));
  if (p?.daemon?.instances !== undefined && c.provider !== undefined) {
    out.push({ path: `${at}/placement/daemon/instances`, message: "a provider runs once per host; `instances` is for actors" });
  }
  const weights = p?.spread?.weights;
  if (weights) {
    for (const selector of Object.keys(weights)) {
      try {
        parseSelector(selector);
      } catch (e) {
        out.push({ path: `${at}/placement/spread/weights/${selector}`, message: isLatticeError(e) ? e.message : String(e) });
      }
    }
    if (p.spread!.instances > 0 && Object.values(weights).every((w) => w === 0)) {
      out.push({ path: `${at}/placement/spread/weights`, message: "at least one weight must be above 0" });
    }
  }
  return out;
}

function checkAgainstLattice(c: ManifestComponent, at: string, checks: LatticeChecks): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  const builtins = checks.builtinProviders;
  // A module is loaded by the host from a .js or .mjs file (see provider/node-launcher.ts).
  if (builtins && c.provider !== undefined && !builtins.includes(c.provider) && !/\.m?js$/.test(c.provider)) {
    out.push({ path: `${at}/provider`, message: `${c.provider} is neither a built-in provider (${builtins.join(", ")}) nor a provider module (the path of a .js or .mjs file on the host)` });
  }
  const artifacts = checks.artifacts;
  if (artifacts && c.actor !== undefined) {
    let ref: ArtifactRef;
    try {
      ref = parseArtifactRef(c.actor);
    } catch {
      return out; // reported by checkComponent
    }
    // `name` (`name:latest`) follows the newest version pushed under that name.
    const stored = artifacts.stored.some((a) => a.name === ref.name && (ref.version === LATEST || a.version === ref.version));
    if (!stored) {
      const name = formatArtifactRef(ref);
      out.push({ path: `${at}/actor`, message: `artifact ${name} is not in lattice ${artifacts.lattice}'s artifact store: push it first (\`lattice push FILE --name ${name}\`)` });
    }
  }
  return out;
}

function labelProblems(labels: Labels, at: string): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  for (const [k, v] of Object.entries(labels)) {
    try {
      assertLabel(k, v);
    } catch (e) {
      out.push({ path: `${at}/${k}`, message: isLatticeError(e) ? e.message : String(e) });
    }
  }
  return out;
}

/** `region=eu,cloud=aws` → `{ region: "eu", cloud: "aws" }`. */
export function parseSelector(selector: string): Labels {
  const labels: Labels = {};
  for (const part of selector.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new LatticeError(ErrorCode.BadRequest, `invalid label selector ${JSON.stringify(selector)}: expected key=value[,key=value…]`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    assertLabel(key, value);
    labels[key] = value;
  }
  return labels;
}

/** TypeBox reports a union miss once per branch; one line per path and message is enough. */
function dedupe(problems: Array<{ path: string; message: string }>) {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path} ${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** `/components/1/placement` → `components[1].placement`. */
function dotted(pointer: string): string {
  if (pointer === "/" || pointer === "") return "/";
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((s, t) => (/^\d+$/.test(t) ? `${s}[${t}]` : s === "" ? t : `${s}.${t}`), "");
}

function lineOf(doc: Document, lines: LineCounter, pointer: string): number | undefined {
  const path = pointer === "/" ? [] : pointer.slice(1).split("/").map((t) => (/^\d+$/.test(t) ? Number(t) : t.replace(/~1/g, "/").replace(/~0/g, "~")));
  // The deepest node that exists (a missing property is reported at its parent); for a map
  // entry, the line of its key.
  for (let n = path.length; n >= 0; n--) {
    const parent: unknown = n <= 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const last = path[n - 1];
    const node: unknown =
      n === 0 ? doc.contents : isMap(parent) ? parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last))?.key : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return undefined;
}
