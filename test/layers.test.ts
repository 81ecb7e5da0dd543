/**
 * Layers point down only: every static import under src/ goes to its own folder or to a layer
 * below it in the picture of docs/architecture.md. Folders side by side on one row of that
 * picture are peers: neither imports the other. The picture is read from the doc itself, so the
 * doc and this check cannot drift, and every folder of src/ must be in it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");

/** Folder → row of the picture, counted from the bottom (protocol/ is 0). */
function layersFromDoc(): Map<string, number> {
  const doc = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
  const picture = /^```\n([\s\S]*?)^```$/m.exec(doc)?.[1];
  assert.ok(picture, "docs/architecture.md has no layer picture (a ``` block)");
  // A row starts at the left margin with its folders (`host/`, `actor/   provider/`); indented
  // lines continue the row above's description.
  const rows = picture
    .split("\n")
    .filter((line) => /^\w/.test(line))
    .map((line) => /^(?:\w+\/\s*)+/.exec(line)?.[0].split(/\s+/).filter(Boolean).map((f) => f.slice(0, -1)) ?? []);
  const layers = new Map<string, number>();
  rows.reverse().forEach((folders, rank) => folders.forEach((f) => layers.set(f, rank)));
  return layers;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Relative specifiers of a file's static imports and re-exports, and of its `import("…")`s. */
function importsOf(text: string): string[] {
  const found = text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)"(\.{1,2}\/[^"]+)"/gm);
  return [...found].map((m) => m[1]!);
}

/** The src/ folder a path is in. */
function layerOf(path: string): string {
  return relative(SRC, path).split(/[\\/]/)[0]!;
}

describe("layers", () => {
  const layers = layersFromDoc();

  it("the picture in docs/architecture.md names every folder of src/, and only those", () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    assert.deepEqual([...layers.keys()].sort(), folders);
  });

  it("every import in src/ points to its own layer or one below it", () => {
    const upward: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = layerOf(file);
      for (const spec of importsOf(readFileSync(file, "utf8"))) {
        const to = layerOf(resolve(dirname(file), spec));
        if (to === from) continue;
        const a = layers.get(from);
        const b = layers.get(to);
        if (a === undefined || b === undefined || b >= a) {
          upward.push(`${relative(ROOT, file)} imports "${spec}" (${from}/ → ${to}/)`);
        }
      }
    }
    assert.deepEqual(upward, [], `imports that do not point down:\n  ${upward.join("\n  ")}`);
  });
});

/**
 * The entry points a browser page bundles: what they reach through value imports must not need
 * Node (`node:*` modules, or the Node edges kept behind their own entries).
 */
const BROWSER_ENTRIES = [
  ...["protocol/index.ts", "nats/index.ts", "actor/index.ts", "host/index.ts", "ctl/index.ts", "apps/index.ts"],
  // The pages and workers themselves (scripts/build-web.mjs bundles each).
  ...readdirSync(join(SRC, "web"))
    .filter((f) => /\.(page|worker)\.ts$/.test(f))
    .map((f) => `web/${f}`),
];

/** Specifiers of a file's value imports (type-only imports and re-exports are erased by tsc). */
function valueImportsOf(text: string): string[] {
  const found = text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^"';]*?\bfrom\s*)?"([^"]+)"|\bimport\s*\(\s*"([^"]+)"\s*\)/gm);
  return [...found].map((m) => (m[1] ?? m[2])!);
}

describe("browser-safe entry points", () => {
  it("reach no node: module through value imports", () => {
    const found: string[] = [];
    for (const entry of BROWSER_ENTRIES) {
      const seen = new Set<string>();
      const walk = (file: string, via: string[]) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const spec of valueImportsOf(readFileSync(file, "utf8"))) {
          if (spec.startsWith("node:")) found.push(`${[...via, relative(SRC, file)].join(" → ")} imports "${spec}"`);
          else if (spec.startsWith(".")) walk(resolve(dirname(file), spec).replace(/\.js$/, ".ts"), [...via, relative(SRC, file)]);
        }
      };
      walk(join(SRC, entry), []);
    }
    assert.deepEqual(found, [], `Node-only imports reachable from a browser entry:\n  ${found.join("\n  ")}`);
  });
});
