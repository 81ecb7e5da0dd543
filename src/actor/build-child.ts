/**
 * The child process of `lattice build` (build.ts says why there is one). It sets the WASI
 * preopens componentize-js needs, reads which interfaces the target world exports, wraps an HTTP
 * actor's module in lattice's handler layer (guest/http-handler.js) when the world exports
 * `wasi:http/incoming-handler` and the module handles `fetch` events, then runs componentize-js.
 *
 * A layered actor is built for a world of its own: the user's world included, plus the export
 * of `lattice:http/plain-handler` (guest/lattice-http.wit) that hosts call instead of the
 * wasi:http one. That world lives in a WIT directory made beside the staged sources: the user's
 * package and its deps moved under `deps/`, lattice's package added there.
 *
 * Its one argument is the job (JSON). It writes the component to `wasmPath` and what it made to
 * `resultPath` (a ChildResult), or the failure's text to `errorPath` and exits 2.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ErrorCode, LatticeError } from "../protocol/errors.js";

/** How a world's `wasi:http/incoming-handler` export is made: see `BuildActorOptions.httpHandler`. */
export type HttpHandlerMode = "layer" | "engine" | "own";

export interface ChildJob {
  /** The staged entry module, in `stageDir`. */
  entry: string;
  stageDir: string;
  witPath: string;
  worldName: string | undefined;
  disableFeatures: string[];
  /** What to do if the world exports the HTTP handler; `own`: the module exports `incomingHandler`. */
  httpHandler: HttpHandlerMode;
  wasmPath: string;
  resultPath: string;
  errorPath: string;
}

export interface ChildResult {
  /** How the HTTP handler export was made; absent when the world exports none. */
  http?: HttpHandlerMode;
}

interface InterfaceMetadata {
  namespace: string;
  package: string;
  interface: string;
  version?: { major: bigint; minor: bigint; patch: bigint; pre?: string };
}

const GUEST_DIR = fileURLToPath(new URL("../../../guest/", import.meta.url));
const LAYER_NAME = "__lattice_http_handler.js";
const WRAPPER_NAME = "__lattice_http_entry.js";
const PLAIN_HANDLER = "lattice:http/plain-handler@0.1.0";

const COMPONENTIZE_URL = import.meta.resolve("@bytecodealliance/componentize-js");
const WASM_TOOLS_URL = import.meta.resolve("@bytecodealliance/jco-transpile/wasm-tools");

/** The preview2-shim filesystem module a package loads, resolved from that package's own location. */
function shimFilesystemOf(packageUrl: string): string {
  return pathToFileURL(createRequire(fileURLToPath(packageUrl)).resolve("@bytecodealliance/preview2-shim/filesystem")).href;
}

function versionText(v: InterfaceMetadata["version"]): string {
  return v ? `@${v.major}.${v.minor}.${v.patch}${v.pre ? `-${v.pre}` : ""}` : "";
}

/** The version of `wasi:http/incoming-handler` the world exports ("" unversioned), if it does. */
async function exportedHttpHandler(job: ChildJob): Promise<string | undefined> {
  const { componentWitMetadataForWorld } = (await import(WASM_TOOLS_URL)) as {
    componentWitMetadataForWorld: (wit: { tag: "path"; val: string }, world: string | undefined) => Promise<{ exports: InterfaceMetadata[] }>;
  };
  const meta = await componentWitMetadataForWorld({ tag: "path", val: job.witPath }, job.worldName);
  const handler = meta.exports.find((e) => e.namespace === "wasi" && e.package === "http" && e.interface === "incoming-handler");
  return handler ? versionText(handler.version) : undefined;
}

/** Write the entry that wraps the module in the handler layer; returns its path. */
function wrap(job: ChildJob, version: string): string {
  copyFileSync(join(GUEST_DIR, "http-handler.js"), join(job.stageDir, LAYER_NAME));
  const wrapper = join(job.stageDir, WRAPPER_NAME);
  // Import order is evaluation order: the layer installs its `addEventListener` and `Response`
  // before the module's top level runs.
  writeFileSync(
    wrapper,
    [
      `import { incomingHandlerFor, plainHandlerFor } from "./${LAYER_NAME}";`,
      `import * as actor from "./${basename(job.entry)}";`,
      `import * as types from "wasi:http/types${version}";`,
      `export const incomingHandler = incomingHandlerFor(types, actor);`,
      `export const plainHandler = plainHandlerFor(actor);`,
      "",
    ].join("\n"),
  );
  return wrapper;
}

/** The top-level `.wit` files of a WIT path (a directory, or one file) and its `deps/`, if any. */
function witRoot(witPath: string): { files: string[]; deps?: string } {
  if (!statSync(witPath).isDirectory()) return { files: [witPath] };
  const files = readdirSync(witPath)
    .filter((f) => f.endsWith(".wit"))
    .map((f) => join(witPath, f));
  const deps = join(witPath, "deps");
  return existsSync(deps) ? { files, deps } : { files };
}

/**
 * A WIT directory whose world `actor` is the user's world plus the plain handler export, made in
 * `dir`. Failures read like componentize-js's own (build.ts explains those).
 */
function worldWithPlainHandler(job: ChildJob, dir: string): { witPath: string; worldName: string } {
  const root = witRoot(job.witPath);
  const text = root.files.map((f) => readFileSync(f, "utf8")).join("\n");
  const pkg = /^\s*package\s+([a-z][\w-]*:[a-z][\w-]*(?:@[\w.+-]+)?)\s*;/m.exec(text)?.[1];
  if (!pkg) throw new LatticeError(ErrorCode.BadRequest, `the WIT at ${job.witPath} declares no package`);
  const [name, version] = pkg.split("@") as [string, string | undefined];
  let world = job.worldName;
  if (world === undefined) {
    const worlds = [...text.matchAll(/^\s*world\s+([a-z][\w-]*)\s*\{/gm)].map((m) => m[1]!);
    if (worlds.length !== 1) throw new LatticeError(ErrorCode.BadRequest, `There are multiple worlds in \`${name}\``);
    world = worlds[0]!;
  }
  const qualified = world.includes("/") ? world : `${name}/${world}${version ? `@${version}` : ""}`;
  const deps = join(dir, "deps");
  mkdirSync(join(deps, "lattice-http"), { recursive: true });
  if (root.deps) cpSync(root.deps, deps, { recursive: true });
  const own = join(deps, `__actor-${name.replace(":", "-")}`);
  mkdirSync(own, { recursive: true });
  for (const f of root.files) copyFileSync(f, join(own, basename(f)));
  copyFileSync(join(GUEST_DIR, "lattice-http.wit"), join(deps, "lattice-http", "lattice-http.wit"));
  writeFileSync(join(dir, "actor.wit"), `package lattice:built-actor;\n\nworld actor {\n  include ${qualified};\n  export ${PLAIN_HANDLER};\n}\n`);
  return { witPath: dir, worldName: "actor" };
}

export async function run(job: ChildJob): Promise<void> {
  for (const url of new Set([shimFilesystemOf(COMPONENTIZE_URL), shimFilesystemOf(WASM_TOOLS_URL)])) {
    const { _setPreopens } = (await import(url)) as { _setPreopens: (p: Record<string, string>) => void };
    _setPreopens({ "/": "/" });
  }
  const version = await exportedHttpHandler(job);
  const result: ChildResult = version === undefined ? {} : { http: job.httpHandler };
  const layered = result.http === "layer";
  const sourcePath = layered ? wrap(job, version!) : job.entry;
  const world = layered ? worldWithPlainHandler(job, join(dirname(job.stageDir), "wit")) : { witPath: job.witPath, worldName: job.worldName };
  const { componentize } = (await import(COMPONENTIZE_URL)) as {
    componentize: (opts: Record<string, unknown>) => Promise<{ component: Uint8Array }>;
  };
  const { component } = await componentize({
    sourcePath,
    sourceName: basename(sourcePath),
    witPath: world.witPath,
    worldName: world.worldName,
    disableFeatures: job.disableFeatures,
  });
  writeFileSync(job.wasmPath, component);
  writeFileSync(job.resultPath, JSON.stringify(result));
}

/** The argument that makes this a build server for `lattice dev` (dev-build-server.ts) instead of a one-shot build. */
export const SERVE_FLAG = "--serve";

if (process.argv[2] === SERVE_FLAG) {
  await (await import("./dev-build-server.js")).serve(run);
} else {
  const job = JSON.parse(process.argv[2] ?? "{}") as ChildJob;
  try {
    await run(job);
  } catch (e) {
    writeFileSync(job.errorPath, String(e instanceof Error ? e.message : e));
    process.exitCode = 2;
  }
}
