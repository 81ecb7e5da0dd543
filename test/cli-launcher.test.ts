/**
 * The `lattice` launcher (bin/lattice, the package's `bin`): which node command line it execs. A
 * stand-in `node` first on PATH prints what it was given, so nothing starts; through a symlink, as
 * npm links it. A real small host's command line is checked in small-host.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CLI, LAUNCHER } from "./kit/cli.js";

const SMALL_FLAGS = ["--max-semi-space-size=1", "--liftoff-only", "--no-opt", "--expose-gc"];

describe("the lattice launcher", () => {
  const dir = mkdtempSync(join(tmpdir(), "lattice-launcher-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "node"), '#!/bin/sh\nprintf "%s\\n" "$@" "arena=${MALLOC_ARENA_MAX-unset}" "mmap=${MALLOC_MMAP_THRESHOLD_-unset}"\n');
  chmodSync(join(dir, "node"), 0o755);
  const linked = join(dir, "lattice");
  symlinkSync(LAUNCHER, linked);

  /** The lines the stand-in node printed: its arguments, then the two malloc variables. */
  function run(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
    const base: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}` };
    delete base.LATTICE_HOST_PROFILE;
    delete base.MALLOC_ARENA_MAX;
    delete base.MALLOC_MMAP_THRESHOLD_;
    const r = spawnSync(linked, args, { env: { ...base, ...env }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trimEnd().split("\n");
  }

  it("runs the CLI as it is when the small profile is not asked for", () => {
    assert.deepEqual(run(["host", "--profile", "default"]), [CLI, "host", "--profile", "default", "arena=unset", "mmap=unset"]);
    assert.deepEqual(run(["get", "hosts"]), [CLI, "get", "hosts", "arena=unset", "mmap=unset"]);
    assert.deepEqual(run(["host", "--profile", "small", "--profile", "default"]).slice(0, 1), [CLI], "the last --profile wins");
    assert.deepEqual(run(["host", "--profile", "default"], { LATTICE_HOST_PROFILE: "small" }).slice(0, 1), [CLI], "the option over the environment");
    assert.deepEqual(run(["actor", "--", "--profile", "small"]).slice(0, 1), [CLI], "nothing after --");
  });

  it("gives the small profile its start-time flags and malloc settings, keeping what the user set", () => {
    const small = [...SMALL_FLAGS, CLI, "host", "--profile", "small", "arena=2", "mmap=131072"];
    assert.deepEqual(run(["host", "--profile", "small"]), small);
    assert.deepEqual(run(["host", "--profile=small"]), [...SMALL_FLAGS, CLI, "host", "--profile=small", "arena=2", "mmap=131072"]);
    assert.deepEqual(run(["host"], { LATTICE_HOST_PROFILE: "small" }), [...SMALL_FLAGS, CLI, "host", "arena=2", "mmap=131072"]);
    assert.deepEqual(run(["host", "--profile", "small"], { MALLOC_ARENA_MAX: "1", MALLOC_MMAP_THRESHOLD_: "" }), [...small.slice(0, -2), "arena=1", "mmap="]);
  });
});
