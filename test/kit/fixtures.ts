/**
 * Components for tests: the example actors and the test's own actors (test/fixtures/actors/),
 * built once and cached across runs, and tiny hand-written WAT components that take milliseconds
 * to make.
 *
 * An actor is cached by a hash of its sources, its WIT, how it is built, the componentize-js
 * version and the build's own files (build.ts, its child, the HTTP handler layer), under
 * node_modules/.cache/lattice/fixtures/. Test processes share the cache: one builds while the
 * others wait on its lock file, and every write is a rename.
 */
import { randomBytes, createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { cp, mkdir, mkdtemp, open, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "@bytecodealliance/jco-transpile/wasm-tools";
import { BUILD_FILES, COMPONENTIZE_JS_VERSION, buildActor, type HttpHandler } from "../../src/actor/build.js";

export type ExampleName = "echo" | "http-hello" | "counter" | "http-counter" | "messaging-echo";
/** The examples, and actors of the tests' own. */
export type ActorName = ExampleName | "http-hello-engine" | "http-echo" | "http-state" | "http-own";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const EXAMPLES_DIR = join(ROOT, "examples");
const TEST_ACTORS_DIR = join(ROOT, "test", "fixtures", "actors");
export const FIXTURE_CACHE_DIR = join(ROOT, "node_modules", ".cache", "lattice", "fixtures");
/** The standard WASI packages the HTTP examples use: the WIT deps of the tests' HTTP actors. */
const HTTP_DEPS = join(EXAMPLES_DIR, "http-hello", "wit", "deps");

interface ActorSpec {
  /** The actor's directory: its source and `wit/`. */
  dir: string;
  source: string;
  world: string;
  /** WIT packages to put under `wit/deps/` when the directory has none of its own. */
  deps?: string;
  httpHandler?: HttpHandler;
}

/** What `lattice build` is given for each actor. */
export const ACTORS: Record<ActorName, ActorSpec> = {
  echo: { dir: join(EXAMPLES_DIR, "echo"), source: "echo.ts", world: "echo-actor" },
  "http-hello": { dir: join(EXAMPLES_DIR, "http-hello"), source: "http-hello.ts", world: "http-hello" },
  counter: { dir: join(EXAMPLES_DIR, "counter"), source: "counter.ts", world: "counter-actor" },
  "http-counter": { dir: join(EXAMPLES_DIR, "http-counter"), source: "http-counter.ts", world: "http-counter" },
  "messaging-echo": { dir: join(EXAMPLES_DIR, "messaging-echo"), source: "messaging-echo.ts", world: "messaging-echo" },
  /** http-hello built with the engine's fetch-event shim: one request per instance. */
  "http-hello-engine": { dir: join(EXAMPLES_DIR, "http-hello"), source: "http-hello.ts", world: "http-hello", httpHandler: "engine" },
  "http-echo": { dir: join(TEST_ACTORS_DIR, "http-echo"), source: "http-echo.js", world: "http-echo", deps: HTTP_DEPS },
  "http-state": { dir: join(TEST_ACTORS_DIR, "http-state"), source: "http-state.js", world: "http-state", deps: HTTP_DEPS },
  "http-own": { dir: join(TEST_ACTORS_DIR, "http-own"), source: "http-own.js", world: "http-own", deps: HTTP_DEPS },
};

/** A build that takes longer than this holds a stale lock (its process died). */
const LOCK_STALE_MS = 180_000;

const built = new Map<ActorName, Promise<string>>();

/** The actor's component bytes, built on first use. */
export async function exampleComponent(name: ActorName): Promise<Uint8Array> {
  return new Uint8Array(await readFile(await exampleComponentPath(name)));
}

/** The path of the actor's component in the cache, built on first use. */
export function exampleComponentPath(name: ActorName): Promise<string> {
  let p = built.get(name);
  if (!p) {
    p = cachedBuild(name);
    built.set(name, p);
    p.catch(() => built.delete(name));
  }
  return p;
}

/** The example's source, WIT directory and world, as absolute paths (for tests of the build itself). */
export function exampleInputs(name: ExampleName): { source: string; witDir: string; world: string } {
  const a = ACTORS[name];
  return { source: join(a.dir, a.source), witDir: join(a.dir, "wit"), world: a.world };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

/** Everything the component depends on: a change to any of it rebuilds. */
function cacheKey(name: ActorName): string {
  const h = createHash("sha256");
  const a = ACTORS[name];
  h.update(`componentize-js ${COMPONENTIZE_JS_VERSION}\n${JSON.stringify({ ...a, dir: relative(ROOT, a.dir), deps: a.deps && relative(ROOT, a.deps) })}\n`);
  for (const dir of [a.dir, ...(a.deps ? [a.deps] : [])]) {
    for (const f of filesUnder(dir).filter((f) => !f.endsWith(".md"))) h.update(`${relative(dir, f)}\n`).update(readFileSync(f));
  }
  for (const f of BUILD_FILES) h.update(readFileSync(f));
  return h.digest("hex").slice(0, 16);
}

/** Build an actor into `out`; one with `deps` gets them under its WIT in a copy of its directory. */
async function build(a: ActorSpec, out: string): Promise<void> {
  if (!a.deps) {
    await buildActor({ source: join(a.dir, a.source), witDir: join(a.dir, "wit"), world: a.world, out, ...(a.httpHandler ? { httpHandler: a.httpHandler } : {}) });
    return;
  }
  const work = await mkdtemp(join(tmpdir(), "lattice-fixture-"));
  try {
    await cp(a.dir, work, { recursive: true });
    await cp(a.deps, join(work, "wit", "deps"), { recursive: true });
    await buildActor({ source: join(work, a.source), witDir: join(work, "wit"), world: a.world, out, ...(a.httpHandler ? { httpHandler: a.httpHandler } : {}) });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function cachedBuild(name: ActorName): Promise<string> {
  await mkdir(FIXTURE_CACHE_DIR, { recursive: true });
  const key = cacheKey(name);
  const file = join(FIXTURE_CACHE_DIR, `${name}-${key}.wasm`);
  const lock = `${file}.lock`;
  for (;;) {
    if (existsSync(file)) return file;
    const held = await tryLock(lock);
    if (held) {
      try {
        if (existsSync(file)) return file; // built by another process between the check and the lock
        const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
        try {
          await build(ACTORS[name], tmp);
          await rename(tmp, file);
        } finally {
          await rm(tmp, { force: true });
        }
        prune(name, file);
        return file;
      } finally {
        await unlink(lock).catch(() => undefined);
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Take the build lock, or break it if its holder has been at it for too long. */
async function tryLock(lock: string): Promise<boolean> {
  try {
    const fd = await open(lock, "wx");
    await fd.writeFile(String(process.pid));
    await fd.close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    const since = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (since > LOCK_STALE_MS) await unlink(lock).catch(() => undefined);
    return false;
  }
}

/** Drop components built from older sources of this example. */
function prune(name: ActorName, keep: string): void {
  for (const f of readdirSync(FIXTURE_CACHE_DIR)) {
    const path = join(FIXTURE_CACHE_DIR, f);
    const old = f.startsWith(`${name}-`) && f.endsWith(".wasm") && path !== keep && /^[0-9a-f]{16}$/.test(f.slice(name.length + 1, -5));
    if (old && statSync(path).mtimeMs < Date.now() - 60_000) void rm(path, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// WAT components

const wat = new Map<string, Promise<Uint8Array>>();
function fromWat(key: string, text: string): Promise<Uint8Array> {
  let p = wat.get(key);
  if (!p) {
    p = parse(text);
    wat.set(key, p);
  }
  return p;
}

/**
 * A bump allocator whose memory grows on demand and is reset after each call (post-return), so
 * a 200 KB string costs 200 KB once, not on every call. `realloc` with an old block copies it.
 */
const ALLOCATOR = `
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32) (local $end i32) (local $have i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $p) (local.get $size)))
      (local.set $have (i32.shl (memory.size) (i32.const 16)))
      (if (i32.gt_u (local.get $end) (local.get $have))
        (then
          (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535)) (i32.const 16)))
                      (i32.const -1))
            (then unreachable))))
      (if (local.get $old) (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
      (global.set $bump (local.get $end))
      (local.get $p))
    (func (export "cabi_post_reset") (param i32) (global.set $bump (i32.const 1024)))`;

/**
 * `acme:demo/echo` with `echo: func(s: string) -> string`, `add: func(a: u64, b: u64) -> u64`,
 * `trap: func()` (unreachable) and `spin: func()` (loops forever). No imports.
 */
export function watEcho(): Promise<Uint8Array> {
  return fromWat(
    "echo",
    `(component
  (core module $m
    ${ALLOCATOR}
    (func (export "echo") (param $ptr i32) (param $len i32) (result i32)
      (i32.store (i32.const 0) (local.get $ptr))
      (i32.store (i32.const 4) (local.get $len))
      (i32.const 0))
    (func (export "add") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
    (func (export "trap") unreachable)
    (func (export "spin") (loop $l (br $l))))
  (core instance $i (instantiate $m))
  (func $echo (param "s" string) (result string)
    (canon lift (core func $i "echo") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))
      (post-return (core func $i "cabi_post_reset"))))
  (func $add (param "a" u64) (param "b" u64) (result u64) (canon lift (core func $i "add")))
  (func $trap (canon lift (core func $i "trap")))
  (func $spin (canon lift (core func $i "spin")))
  (instance $inst
    (export "echo" (func $echo))
    (export "add" (func $add))
    (export "trap" (func $trap))
    (export "spin" (func $spin)))
  (export "acme:demo/echo" (instance $inst)))`,
  );
}

/** A plain core module (not a component): what a host must refuse with a clear reason. */
export function watCoreModule(): Promise<Uint8Array> {
  return fromWat("core", `(module (func (export "hello") (result i32) (i32.const 42)))`);
}

/**
 * A component importing `acme:nowhere/thing` (`ping: func() -> u32`), which nothing serves, and
 * exporting `acme:demo/relay` (`call: func() -> u32`, which calls `ping`).
 */
export function watNeedsImport(): Promise<Uint8Array> {
  return fromWat(
    "needs-import",
    `(component
  (import "acme:nowhere/thing" (instance $thing (export "ping" (func (result u32)))))
  (core func $ping (canon lower (func $thing "ping")))
  (core module $m
    (import "thing" "ping" (func $ping (result i32)))
    (func (export "call") (result i32) (call $ping)))
  (core instance $i (instantiate $m (with "thing" (instance (export "ping" (func $ping))))))
  (func $call (result u32) (canon lift (core func $i "call")))
  (instance $inst (export "call" (func $call)))
  (export "acme:demo/relay" (instance $inst)))`,
  );
}

/** A component exporting `acme:nowhere/thing` whose `ping` answers `n`: a link target for watNeedsImport. */
export function watThing(n: number): Promise<Uint8Array> {
  return fromWat(
    `thing-${n}`,
    `(component
  (core module $m (func (export "ping") (result i32) (i32.const ${n})))
  (core instance $i (instantiate $m))
  (func $ping (result u32) (canon lift (core func $i "ping")))
  (instance $inst (export "ping" (func $ping)))
  (export "acme:nowhere/thing" (instance $inst)))`,
  );
}

/**
 * A component importing `wasi:logging/logging` and exporting `acme:demo/logger` with
 * `say: func(msg: string)` (logs `msg` at info, context `logger`) and `flood: func(n: u32)` (logs
 * `n` warn records in a loop, context `flood`, message `again`).
 */
export function watLogger(): Promise<Uint8Array> {
  return fromWat(
    "logger",
    `(component
  (import "wasi:logging/logging@0.1.0-draft" (instance $logging
    (type $l (enum "trace" "debug" "info" "warn" "error" "critical"))
    (export "level" (type $level (eq $l)))
    (export "log" (func (param "level" $level) (param "context" string) (param "message" string)))))
  (core module $mem (memory (export "memory") 1))
  (core instance $mi (instantiate $mem))
  (core func $log (canon lower (func $logging "log") (memory (core memory $mi "memory"))))
  (core module $m
    (import "env" "memory" (memory 1))
    (import "env" "log" (func $log (param i32 i32 i32 i32 i32)))
    (global $bump (mut i32) (i32.const 1024))
    (data (i32.const 0) "loggerfloodagain")
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (local.get $p) (i32.add (local.get 3) (i32.const 7))))
      (local.get $p))
    (func (export "say") (param $ptr i32) (param $len i32)
      (call $log (i32.const 2) (i32.const 0) (i32.const 6) (local.get $ptr) (local.get $len))
      (global.set $bump (i32.const 1024)))
    (func (export "flood") (param $n i32)
      (block $done (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (call $log (i32.const 3) (i32.const 6) (i32.const 5) (i32.const 11) (i32.const 5))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))))
  (core instance $i (instantiate $m (with "env" (instance (export "memory" (memory $mi "memory")) (export "log" (func $log))))))
  (func $say (param "msg" string) (canon lift (core func $i "say") (memory (core memory $mi "memory")) (realloc (core func $i "cabi_realloc"))))
  (func $flood (param "n" u32) (canon lift (core func $i "flood")))
  (instance $inst (export "say" (func $say)) (export "flood" (func $flood)))
  (export "acme:demo/logger" (instance $inst)))`,
  );
}
