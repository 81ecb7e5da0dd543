/**
 * Building actors: the examples become components with the imports and exports their worlds
 * say, and every way a build can go wrong is one readable line. Example builds go through the
 * fixture cache (6-10 s each when cold); every failure here is caught before or just after
 * componentize-js starts, so they cost about a second at most.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { componentWit, componentWitMetadataForWorld } from "@bytecodealliance/jco-transpile/wasm-tools";
import { ActorBuildError, buildActor, type BuildActorOptions } from "../src/actor/build.js";
import { wasmKind } from "../src/nats/wasm-binary.js";
import { buildCommand } from "../src/cli/commands/build.js";
import { CliError } from "../src/cli/errors.js";
import { runCli } from "./kit/cli.js";
import { exampleComponent, exampleInputs, watCoreModule, watEcho, watNeedsImport, type ExampleName } from "./kit/fixtures.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ECHO_WIT = exampleInputs("echo").witDir;

/** The failure of a build, which must be an ActorBuildError with a one-line message. */
async function buildError(opts: BuildActorOptions): Promise<string> {
  try {
    await buildActor(opts);
  } catch (e) {
    assert.ok(e instanceof ActorBuildError, `expected an ActorBuildError, got ${String(e)}`);
    assert.ok(!e.message.includes("\n"), `message is one line: ${e.message}`);
    return e.message;
  }
  assert.fail("the build succeeded");
}

describe("example actors", () => {
  const wit = new Map<ExampleName, string>();
  const bytes = new Map<ExampleName, Uint8Array>();

  before(async () => {
    // Cold, the three build side by side; warm, this is three file reads.
    await Promise.all(
      (["echo", "http-hello", "counter"] as const).map(async (name) => {
        const b = await exampleComponent(name);
        bytes.set(name, b);
        wit.set(name, await componentWit(b));
      }),
    );
  });

  it("are components", () => {
    for (const [name, b] of bytes) assert.equal(wasmKind(b), "component", name);
  });

  it("echo exports acme:demo/echo and imports no capability", () => {
    const w = wit.get("echo") ?? "";
    assert.match(w, /^\s*export acme:demo\/echo;$/m);
    assert.doesNotMatch(w, /import (acme|wasi:keyvalue|wasi:logging)/);
  });

  it("http-hello exports the wasi:http incoming handler at the engine's version", () => {
    assert.match(wit.get("http-hello") ?? "", /^\s*export wasi:http\/incoming-handler@0\.2\.10;$/m);
  });

  it("counter imports wasi:keyvalue store and atomics @0.2.0-draft and exports acme:demo/counter", () => {
    const w = wit.get("counter") ?? "";
    assert.match(w, /^\s*import wasi:keyvalue\/store@0\.2\.0-draft;$/m);
    assert.match(w, /^\s*import wasi:keyvalue\/atomics@0\.2\.0-draft;$/m);
    assert.match(w, /^\s*export acme:demo\/counter;$/m);
  });
});

describe("WAT fixtures", () => {
  it("are what they say", async () => {
    assert.equal(wasmKind(await watEcho()), "component");
    assert.equal(wasmKind(await watCoreModule()), "module");
    assert.match(await componentWit(await watEcho()), /^\s*export acme:demo\/echo;$/m);
    const needs = await componentWit(await watNeedsImport());
    assert.match(needs, /^\s*import acme:nowhere\/thing;$/m);
    assert.match(needs, /^\s*export acme:demo\/relay;$/m);
  });
});

describe("the project's WIT", () => {
  it("resolves, with wasi:logging from deps/", async () => {
    // The WIT parser reads files through WASI: let it see the repository. (TypeScript picks the
    // shim's browser typings, whose _setPreopens takes file contents, hence the cast.)
    const shim = (await import("@bytecodealliance/preview2-shim/filesystem")) as unknown as { _setPreopens(p: Record<string, string>): void };
    shim._setPreopens({ [ROOT]: ROOT });
    const world = await componentWitMetadataForWorld({ tag: "path", val: join(ROOT, "wit") }, "host");
    assert.deepEqual(
      world.imports.map((i) => `${i.namespace}:${i.package}/${i.interface}`),
      ["lattice:actor/config", "wasi:logging/logging"],
    );
  });
});

describe("build failures", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lattice-build-test-"));
    await writeFile(join(dir, "broken.js"), "export const echo = { echo(msg) { return msg; }\n");
    await writeFile(join(dir, "broken.ts"), "export const echo = {\n  echo(msg: string): string { return msg; \n};\n");
    await writeFile(join(dir, "outside.ts"), "export const x = 1;\n");
    await writeFile(join(dir, "notes.txt"), "not a module\n");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("a missing source file", async () => {
    assert.equal(await buildError({ source: join(dir, "nope.ts"), witDir: ECHO_WIT, world: "echo-actor" }), `source not found: ${join(dir, "nope.ts")}`);
  });

  it("a source that is not a module", async () => {
    assert.match(await buildError({ source: join(dir, "notes.txt"), witDir: ECHO_WIT, world: "echo-actor" }), /^source must be a JavaScript or TypeScript module/);
  });

  it("a missing WIT directory", async () => {
    assert.equal(await buildError({ ...exampleInputs("echo"), witDir: join(dir, "wit") }), `WIT directory not found: ${join(dir, "wit")}`);
  });

  it("an unknown world, naming the ones there are", async () => {
    assert.equal(await buildError({ ...exampleInputs("echo"), world: "nope" }), 'world "nope" not found in package acme:demo (worlds there: echo-actor)');
  });

  it("an unknown engine feature", async () => {
    assert.match(await buildError({ ...exampleInputs("echo"), disableFeatures: ["stdio", "bogus"] }), /^unknown engine feature "bogus" \(features: stdio, random/);
  });

  it("a JavaScript syntax error, with its line and column", async () => {
    assert.match(await buildError({ source: join(dir, "broken.js"), witDir: ECHO_WIT, world: "echo-actor" }), /broken\.js:2:1: '}' expected\.$/);
  });

  it("a TypeScript syntax error, with its line and column", async () => {
    assert.match(await buildError({ source: join(dir, "broken.ts"), witDir: ECHO_WIT, world: "echo-actor" }), /broken\.ts:3:2: ',' expected\.$/);
  });

  it("a TypeScript import from outside the entry's directory", async () => {
    const sub = await mkdtemp(join(dir, "actor-"));
    await writeFile(join(sub, "main.ts"), 'import { x } from "../outside.js";\nexport const echo = { echo: (m: string) => m + String(x) };\n');
    assert.match(await buildError({ source: join(sub, "main.ts"), witDir: ECHO_WIT, world: "echo-actor" }), /main\.ts imports \.\.\/outside\.js, which is outside .*: an actor's modules must be under the directory of its entry$/);
  });

  it("the build command turns them into one-line CLI errors", async () => {
    const run = (args: string[]) => buildCommand().exitOverride().parseAsync(args, { from: "user" });
    await assert.rejects(run([join(dir, "nope.ts")]), (e) => e instanceof CliError && e.message === `source not found: ${join(dir, "nope.ts")}`);
    await assert.rejects(run([join(dir, "broken.ts"), "--wit", ECHO_WIT]), (e) => e instanceof CliError && /broken\.ts:3:2: ',' expected\.$/.test(e.message));
  });

  // The one test through the compiled `lattice` binary. It skips itself until `build` is
  // registered in src/cli/main.ts; after that it must pass.
  it("lattice build exits non-zero with one line on stderr", async (t) => {
    const help = await runCli(["build", "--help"]);
    if (!help.stdout.includes("Usage: lattice build")) return t.skip("`lattice build` is not registered in src/cli/main.ts yet");
    const r = await runCli(["build", join(dir, "nope.ts"), "--wit", ECHO_WIT, "--world", "echo-actor", "-o", join(dir, "out.wasm")]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `lattice: source not found: ${join(dir, "nope.ts")}\n`);
  });
});
