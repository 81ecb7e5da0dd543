// Bundles the browser parts (src/web/) for `lattice ui` to serve: every `src/web/*.page.ts` and
// `*.worker.ts` becomes `dist/web/<name>.js`, and the files of `src/web/static/` are copied beside
// them. `npm run build` runs it after tsc. esbuild resolves packages' "browser" conditions, so
// the bundles get the WebSocket and WebCrypto sides of the libraries, never node:*.
//
//   node scripts/build-web.mjs           build once
//   node scripts/build-web.mjs --watch   rebuild on change
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const SRC = "src/web";
const OUT = "dist/web";

const entries = readdirSync(SRC).filter((f) => /\.(page|worker)\.ts$/.test(f));
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
cpSync(join(SRC, "static"), OUT, { recursive: true });
// jco's bindings generator (bundled into transpile.worker.js) fetches its core modules from
// `new URL("./js-component-bindgen-component.core*.wasm", import.meta.url)`, which esbuild leaves
// as it is: they are copied beside the bundles under the same names.
const JCO_OBJ = fileURLToPath(new URL("../obj/", import.meta.resolve("jco-1.15")));
// Its version names what the page keeps in IndexedDB (src/web/transpile-store.ts).
const JCO_VERSION = JSON.parse(readFileSync(join(JCO_OBJ, "../package.json"), "utf8")).version;
for (const f of readdirSync(JCO_OBJ).filter((f) => /^js-component-bindgen-component\.core\d*\.wasm$/.test(f))) cpSync(join(JCO_OBJ, f), join(OUT, f));

/** @type {import("esbuild").BuildOptions} */
const options = {
  entryPoints: Object.fromEntries(entries.map((f) => [f.replace(/\.ts$/, ""), join(SRC, f)])),
  outdir: OUT,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "chrome120",
  sourcemap: "linked",
  minify: true,
  // Wasm the bundles load at run time (`new URL("x.wasm", import.meta.url)`) sits beside them.
  loader: { ".wasm": "file" },
  assetNames: "[name]-[hash]",
  // Libraries that pick node:crypto only when they run in Node (@nats-io/obj's sha256) keep that
  // import; our own code reaches no node: module (test/layers.test.ts).
  external: ["node:*"],
  define: { LATTICE_JCO_VERSION: JSON.stringify(JCO_VERSION) },
  logLevel: "warning",
  legalComments: "none",
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`watching ${SRC} → ${OUT}`);
} else {
  const result = await esbuild.build({ ...options, metafile: true });
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([name]) => name.endsWith(".js"))
    .map(([name, o]) => `${name.slice(OUT.length + 1)} ${(o.bytes / 1024).toFixed(0)} KiB`);
  if (process.argv.includes("--verbose")) console.log(bytes.join("\n"));
}
