/**
 * Building an actor from JavaScript or TypeScript: componentize-js behind one call (Node only).
 *
 * componentize-js runs in a child process, for two reasons: its wizer step is a `spawnSync` that
 * would block this event loop for the whole 6-10 s build (a worker thread cannot host it: wizer's
 * stdio must be real file descriptors); and it needs WASI preopens set on the process-global
 * preview2-shim filesystem (`/` → `/`, see DESIGN.md), which must not leak into actors that the
 * same process runs with that shim.
 *
 * The entry and every module it reaches by relative import are staged into a directory (TypeScript
 * stripped with `typescript`'s `transpileModule`, JavaScript checked for syntax and copied), so an
 * actor may span several files under its entry's directory. For a world that exports
 * `wasi:http/incoming-handler`, the staged module is wrapped in lattice's HTTP handler layer
 * (guest/http-handler.js, see build-child.ts) unless it exports `incomingHandler` itself, and the
 * component is marked (actor-metadata.ts) so that hosts reuse its instances.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type TS from "typescript";
import { withActorMetadata } from "./actor-metadata.js";
import type { ChildJob, ChildResult, HttpHandlerMode } from "./build-child.js";
import { digestOf } from "../nats/wasm-binary.js";

/** The engine features componentize-js can leave out (each drops the WASI imports it needs). */
export const ENGINE_FEATURES = ["stdio", "random", "clocks", "http", "fetch-event"] as const;
export type EngineFeature = (typeof ENGINE_FEATURES)[number];

export interface BuildActorOptions {
  /** The entry module: `.js`, `.mjs`, `.ts` or `.mts`. */
  source: string;
  /** A WIT directory (with `deps/` for the packages it uses) or a single `.wit` file. */
  witDir: string;
  /** The world of that WIT the actor targets; may be left out when the WIT package has only one. */
  world?: string;
  /** Where to write the component; nothing is written when absent. */
  out?: string;
  /** Engine features to leave out: see {@link ENGINE_FEATURES}. */
  disableFeatures?: string[];
  /**
   * For a world exporting `wasi:http/incoming-handler` whose module handles `fetch` events (or
   * default-exports `{ fetch }`): `layer` (default) compiles in lattice's handler layer, and one
   * instance serves request after request; `engine` leaves it to the engine's own fetch-event
   * shim, which serves one request per instance. A module that exports `incomingHandler` is
   * built as it is, either way.
   */
  httpHandler?: HttpHandler;
  /**
   * Cancels the build: componentize-js is killed, with every process under it, and the work
   * directory removed; the build rejects with the signal's reason. Without a signal the build's
   * processes stay in this process's group, so a Ctrl-C in a terminal reaches them too.
   */
  signal?: AbortSignal;
  /** Told each step as it begins, for progress reports: componentizing takes most of the time. */
  onStep?: (step: BuildStep) => void;
  /** Runs componentize-js for the job; by default a child process per build (`lattice dev` keeps one up). */
  componentizer?: Componentizer;
}

/**
 * Runs one componentize-js job (build-child.ts) with `tmp` as its TMPDIR (made by the caller).
 * A failure of the build itself rejects with a {@link ComponentizeFailure} holding its report.
 */
export type Componentizer = (job: ChildJob, tmp: string, signal: AbortSignal | undefined) => Promise<ChildResult>;

export type BuildStep = "staging" | "componentizing" | "writing";

export const HTTP_HANDLERS = ["layer", "engine"] as const;
export type HttpHandler = (typeof HTTP_HANDLERS)[number];

export interface BuiltActor {
  bytes: Uint8Array;
  /** The absolute path written, when `out` was given. */
  out?: string;
  /** `sha256:<hex>` of the bytes. */
  digest: string;
  /** Wall-clock build time. */
  ms: number;
  /** How its `wasi:http/incoming-handler` export was made, when its world has one. */
  http?: HttpHandlerMode;
}

/** A build that failed for a reason the author can fix; `message` is one line, `detail` the full text. */
export class ActorBuildError extends Error {
  override readonly name = "ActorBuildError";
  constructor(
    message: string,
    readonly detail: string = message,
  ) {
    super(message);
  }
}

const COMPONENTIZE_URL = import.meta.resolve("@bytecodealliance/componentize-js");
const CHILD_PATH = fileURLToPath(new URL("./build-child.js", import.meta.url));

/** The componentize-js version in use: part of any cache key for built actors. */
export const COMPONENTIZE_JS_VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", COMPONENTIZE_URL), "utf8")) as { version: string }
).version;

/** The files of the build itself (besides componentize-js): part of any cache key for built actors. */
export const BUILD_FILES: readonly string[] = [
  fileURLToPath(import.meta.url),
  CHILD_PATH,
  fileURLToPath(new URL("../../../guest/http-handler.js", import.meta.url)),
  fileURLToPath(new URL("../../../guest/lattice-http.wit", import.meta.url)),
];

const TS_EXT = /\.m?ts$/;
const SOURCE_EXT = /\.(m?js|m?ts)$/;

/** Build a component from a JS/TS source and a WIT world. Throws {@link ActorBuildError}. */
export async function buildActor(opts: BuildActorOptions): Promise<BuiltActor> {
  const started = performance.now();
  const source = resolve(opts.source);
  const witDir = resolve(opts.witDir);
  checkInputs(opts, source, witDir);
  const features = opts.disableFeatures ?? [];
  for (const f of features) {
    if (!(ENGINE_FEATURES as readonly string[]).includes(f)) {
      throw new ActorBuildError(`unknown engine feature "${f}" (features: ${ENGINE_FEATURES.join(", ")})`);
    }
  }

  const httpHandler = opts.httpHandler ?? "layer";
  if (!(HTTP_HANDLERS as readonly string[]).includes(httpHandler)) {
    throw new ActorBuildError(`unknown HTTP handler "${String(httpHandler)}" (${HTTP_HANDLERS.join(" or ")})`);
  }

  const signal = opts.signal;
  signal?.throwIfAborted();
  const work = await mkdtemp(join(tmpdir(), "lattice-build-"));
  try {
    opts.onStep?.("staging");
    const stageDir = join(work, "src");
    const entry = await stageSources(source, stageDir);
    signal?.throwIfAborted();
    opts.onStep?.("componentizing");
    const componentize = opts.componentizer ?? componentizeInChild;
    await mkdir(join(work, "tmp"));
    const result = await componentize({
      entry,
      stageDir,
      witPath: witDir,
      worldName: opts.world,
      disableFeatures: features,
      httpHandler: (await exportsIncomingHandler(source)) ? "own" : httpHandler,
      wasmPath: join(work, "out.wasm"),
      resultPath: join(work, "result.json"),
      errorPath: join(work, "error.txt"),
    }, join(work, "tmp"), signal).catch(async (e: unknown) => {
      throw await explain(e, { source, entry, witDir, world: opts.world });
    });
    signal?.throwIfAborted();
    opts.onStep?.("writing");
    let bytes: Uint8Array = new Uint8Array(await readFile(join(work, "out.wasm")));
    // The engine's shim answers once per instance; a handler of the module's own or the layer, many times.
    if (result.http) bytes = withActorMetadata(bytes, { http: result.http === "engine" ? "fresh" : "reuse" });
    const digest = await digestOf(bytes);
    let out: string | undefined;
    if (opts.out !== undefined) {
      out = resolve(opts.out);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, bytes);
    }
    return { bytes, ...(out !== undefined ? { out } : {}), digest, ms: Math.round(performance.now() - started), ...(result.http ? { http: result.http } : {}) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function checkInputs(opts: BuildActorOptions, source: string, witDir: string): void {
  const sourceStat = statSync(source, { throwIfNoEntry: false });
  if (!sourceStat) throw new ActorBuildError(`source not found: ${opts.source}`);
  if (!sourceStat.isFile()) throw new ActorBuildError(`source is not a file: ${opts.source}`);
  if (!SOURCE_EXT.test(source)) {
    throw new ActorBuildError(`source must be a JavaScript or TypeScript module (.js, .mjs, .ts, .mts): ${opts.source}`);
  }
  if (!existsSync(witDir)) throw new ActorBuildError(`WIT directory not found: ${opts.witDir}`);
  if (opts.world?.trim() === "") throw new ActorBuildError("empty world name: name the WIT world the actor targets");
}

// ---------------------------------------------------------------------------------------------
// TypeScript

let typescript: Promise<typeof TS> | undefined;
function loadTypeScript(): Promise<typeof TS> {
  typescript ??= import("typescript").then((m) => m.default);
  return typescript;
}

/**
 * Copy the entry and every module it reaches by relative import into `stageDir`, TypeScript
 * stripped and JavaScript checked for syntax, keeping their layout relative to the entry's
 * directory. Returns the staged entry.
 */
async function stageSources(entry: string, stageDir: string): Promise<string> {
  const ts = await loadTypeScript();
  const root = dirname(entry);
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(file, "utf8");
    // For JavaScript this is the syntax check only: the engine's own parser says just how many
    // errors it found, TypeScript's says where.
    const result = ts.transpileModule(text, {
      fileName: file,
      reportDiagnostics: true,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        rewriteRelativeImportExtensions: true,
      },
    });
    const error = result.diagnostics?.find((d) => d.category === ts.DiagnosticCategory.Error);
    if (error) throw new ActorBuildError(formatDiagnostic(ts, error));
    const code = TS_EXT.test(file) ? result.outputText : text;
    const staged = join(stageDir, stagedName(relative(root, file)));
    await mkdir(dirname(staged), { recursive: true });
    await writeFile(staged, code);

    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!spec.startsWith("./") && !spec.startsWith("../")) continue;
      const target = resolveRelative(file, spec);
      // Unresolvable imports are left for the engine, whose error names the module.
      if (target === undefined) continue;
      const rel = relative(root, target);
      if (rel.startsWith("..") || isAbsolute(rel)) {
        throw new ActorBuildError(
          `${shown(file)} imports ${spec}, which is outside ${shown(root)}: an actor's modules must be under the directory of its entry`,
        );
      }
      queue.push(target);
    }
  }
  return join(stageDir, stagedName(basename(entry)));
}

function stagedName(rel: string): string {
  return rel.replace(/\.ts$/, ".js").replace(/\.mts$/, ".mjs");
}

/** `./x.js` may name `x.ts` (the NodeNext convention), `x.js`, or be written `./x.ts`. */
export function resolveRelative(from: string, spec: string): string | undefined {
  const p = resolve(dirname(from), spec);
  const ext = extname(p);
  const candidates =
    ext === ".js" ? [p.slice(0, -3) + ".ts", p] : ext === ".mjs" ? [p.slice(0, -4) + ".mts", p] : ext === "" ? [p + ".ts", p + ".js"] : [p];
  return candidates.find((c) => statSync(c, { throwIfNoEntry: false })?.isFile() === true);
}

function formatDiagnostic(ts: typeof TS, d: TS.Diagnostic): string {
  const text = ts.flattenDiagnosticMessageText(d.messageText, " ");
  if (!d.file || d.start === undefined) return text;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${shown(d.file.fileName)}:${line + 1}:${character + 1}: ${text}`;
}

/** A path as the user would like to read it: relative to the working directory when under it. */
/** A path as messages show it: relative to the working directory when under it. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

// ---------------------------------------------------------------------------------------------
// componentize-js in a child process

/** Raw failure text from componentize-js (or the child), before it is made readable. */
export class ComponentizeFailure extends Error {}

/**
 * Run componentize-js in a child process. `tmp` becomes the child's TMPDIR: componentize-js makes
 * its own work directory there, so removing ours removes that too, however the build ends.
 */
async function componentizeInChild(job: ChildJob, tmp: string, cancel: AbortSignal | undefined): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CHILD_PATH, JSON.stringify(job)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, TMPDIR: tmp },
      // A group of its own, so that cancelling kills wizer too, which componentize-js runs
      // under the child with spawnSync (the child cannot pass a signal on while it waits).
      detached: cancel !== undefined,
    });
    const killAll = () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group is gone already.
      }
    };
    cancel?.addEventListener("abort", killAll, { once: true });
    // Whatever ends this process ends the build with it.
    if (cancel) process.once("exit", killAll);
    // What the actor's top-level code prints while it is pre-initialized, and any crash report.
    let output = "";
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8_000));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      cancel?.removeEventListener("abort", killAll);
      process.off("exit", killAll);
      if (cancel?.aborted) return reject(abortReason(cancel));
      if (code === 0) return resolvePromise(JSON.parse(readFileSync(job.resultPath, "utf8")) as ChildResult);
      const reported = existsSync(job.errorPath) ? readFileSync(job.errorPath, "utf8") : "";
      const why = reported || `componentize-js exited ${signal ?? code}${output ? `: ${output.trim()}` : ""}`;
      reject(new ComponentizeFailure(why));
    });
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new ActorBuildError("the build was cancelled");
}

/** Whether the module exports `incomingHandler` (then it implements wasi:http itself). */
async function exportsIncomingHandler(file: string): Promise<boolean> {
  const ts = await loadTypeScript();
  const sf = ts.createSourceFile(file, await readFile(file, "utf8"), ts.ScriptTarget.ES2022, false);
  const exported = (n: TS.Node) => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st) && exported(st)) {
      if (st.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === "incomingHandler")) return true;
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && exported(st)) {
      if (st.name?.text === "incomingHandler") return true;
    } else if (ts.isExportDeclaration(st) && st.exportClause && ts.isNamedExports(st.exportClause)) {
      if (st.exportClause.elements.some((e) => e.name.text === "incomingHandler")) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Errors

interface Context {
  source: string;
  entry: string;
  witDir: string;
  world: string | undefined;
}

/** Turn componentize-js's multi-line reports into one line, keeping the full text as detail. */
async function explain(e: unknown, ctx: Context): Promise<Error> {
  if (!(e instanceof ComponentizeFailure)) return e instanceof Error ? e : new Error(String(e));
  const raw = e.message;
  const src = shown(ctx.source);

  // oxc's parse failure says only how many errors there were: ask TypeScript where.
  if (raw.startsWith("failed to parse JS source")) {
    const located = await locateSyntaxError(ctx.entry);
    return new ActorBuildError(located ?? `${src}: syntax error (${raw})`, raw);
  }
  const unknownWorld = /^World `([^`]+)` not found in package `([^`]+)`/.exec(raw);
  if (unknownWorld) {
    const worlds = await worldsIn(ctx.witDir);
    const known = worlds.length > 0 ? ` (worlds there: ${worlds.join(", ")})` : "";
    return new ActorBuildError(`world "${unknownWorld[1]}" not found in package ${unknownWorld[2]}${known}`, raw);
  }
  const severalWorlds = /^There are multiple worlds in `([^`]+)`/.exec(raw);
  if (severalWorlds) {
    const worlds = (await worldsIn(ctx.witDir)).join(", ");
    return new ActorBuildError(`the WIT package ${severalWorlds[1]} has several worlds (${worlds}): name the one the actor targets`, raw);
  }
  const missingImport = /Error loading module "((?!node:)[a-z][\w-]*:[\w-]+\/[^"]+)"/.exec(raw);
  if (missingImport) {
    return new ActorBuildError(`${src} imports ${missingImport[1]}, which its world${ctx.world !== undefined ? ` "${ctx.world}"` : ""} does not import: add it to the world or fix the name`, raw);
  }
  if (raw.startsWith("Failed to initialize component")) {
    // componentize-js runs the module's top level once at build time and snapshots the result.
    const threw = raw.includes(TOP_LEVEL_EXCEPTION);
    const what = threw ? "its top-level code failed when run at build time" : "pre-initializing it failed";
    return new ActorBuildError(`${src}: ${what}: ${oneLine(raw)}`, raw);
  }
  return new ActorBuildError(`cannot build ${src}: ${oneLine(raw)}`, raw);
}

const TOP_LEVEL_EXCEPTION = "Exception while evaluating top-level script";

/** Join a report's lines, dropping the noise: process paths, "Caused by", stacks, rejection echoes. */
function oneLine(raw: string): string {
  const parts: string[] = [];
  for (const line of raw.split("\n")) {
    const t = line
      .trim()
      .replace(/^\d+: /, "")
      .replace(/^Error: /, "");
    if (t === "" || t === "Caused by:" || t === TOP_LEVEL_EXCEPTION || /^Failed to initialize component \(/.test(t)) continue;
    if (/^(Additionally, some promises|Stack:)/.test(t)) break;
    parts.push(t);
  }
  return parts.reduce((acc, p) => (acc === "" ? p : /[:.]$/.test(acc) ? `${acc} ${p}` : `${acc}: ${p}`), "");
}

async function locateSyntaxError(file: string): Promise<string | undefined> {
  const ts = await loadTypeScript();
  const result = ts.transpileModule(await readFile(file, "utf8"), { fileName: file, reportDiagnostics: true });
  const error = result.diagnostics?.find((d) => d.category === ts.DiagnosticCategory.Error);
  return error && formatDiagnostic(ts, error);
}

/** The worlds the top-level `.wit` files of a WIT directory declare: a hint, not a parser. */
async function worldsIn(witPath: string): Promise<string[]> {
  const files = statSync(witPath).isDirectory()
    ? (await readdir(witPath)).filter((f) => f.endsWith(".wit")).map((f) => join(witPath, f))
    : [witPath];
  const names: string[] = [];
  for (const f of files) {
    for (const m of (await readFile(f, "utf8")).matchAll(/^\s*world\s+([a-z][\w-]*)\s*\{/gm)) if (m[1]) names.push(m[1]);
  }
  return names.sort();
}
