/**
 * `lattice build` while it runs: progress on a terminal only, and Ctrl-C or a kill stops
 * componentize-js and leaves no temporary files behind. Each build here is stopped a few seconds
 * in, or fails at once: none runs to the end.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isPidAlive } from "../src/nats/node/server-launcher.js";
import { CLI, CliProcess, runCli } from "./kit/cli.js";
import { exampleInputs } from "./kit/fixtures.js";
import { Cleanup } from "./kit/lattice.js";
import { until } from "./kit/poll.js";
import { processTree } from "./kit/process-tree.js";

const echo = exampleInputs("echo");

/** The directories a build made in `tmp`, its TMPDIR: lattice-build-*, and componentize-js's own under it. */
function workDirs(tmp: string): string[] {
  return readdirSync(tmp).flatMap((d) => {
    const inner = join(tmp, d, "tmp");
    return [d, ...(existsSync(inner) ? readdirSync(inner).map((c) => join(d, "tmp", c)) : [])];
  });
}

/** Until componentize-js has made its work directory (12 hex digits): the long step has begun. */
function untilComponentizing(tmp: string): Promise<string[]> {
  return until(() => {
    const dirs = workDirs(tmp);
    return dirs.some((d) => /(^|\/)[0-9a-f]{12}$/.test(d)) ? dirs : undefined;
  }, 60_000, `componentize-js's work directory in ${tmp}`);
}

describe("lattice build", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  function dir(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    cleanup.add(() => rmSync(d, { recursive: true, force: true }));
    return d;
  }

  it("on a terminal shows its progress, and Ctrl-C stops it leaving nothing behind", async () => {
    const tmp = dir("lattice-build-tty-");
    const out = join(dir("lattice-build-out-"), "echo.wasm");
    const command = [process.execPath, CLI, "build", echo.source, "--wit", echo.witDir, "--world", echo.world, "-o", out].map((a) => `'${a}'`).join(" ");
    // script(1) runs the command on a pseudo-terminal; a ^C written to it is the terminal's Ctrl-C.
    const term = spawn("script", ["-qfec", `exec ${command}`, "/dev/null"], { env: { ...process.env, TMPDIR: tmp }, stdio: ["pipe", "pipe", "pipe"] });
    cleanup.add(() => term.kill("SIGKILL"));
    let screen = "";
    term.stdout.on("data", (d: Buffer) => (screen += d.toString()));
    const exited = new Promise<number | null>((resolve) => term.once("exit", (code) => resolve(code)));

    await untilComponentizing(tmp);
    await until(() => screen.includes("componentize-js"), 15_000, `progress on the terminal (so far: ${JSON.stringify(screen)})`);
    assert.match(screen, new RegExp(`building ${echo.source.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: componentize-js: compiling and pre-initializing \\(10-20 s\\) \\d+s`));
    const pids = processTree(term.pid!).slice(1);
    assert.ok(pids.length >= 2, `the CLI and componentize-js's process run (${pids.join(", ")})`);

    term.stdin.write("\x03");
    assert.equal(await exited, 130, screen);
    await until(() => pids.every((p) => !isPidAlive(p)), 10_000, `the build's processes (${pids.join(", ")}) to be gone`);
    assert.deepEqual(readdirSync(tmp), [], "no temporary files left");
    assert.ok(!existsSync(out), "no component written");
    assert.match(screen, /lattice: build of .*echo\.ts interrupted \(SIGINT\)/);
  });

  it("SIGTERM stops it too; off a terminal it shows no progress", async () => {
    const tmp = dir("lattice-build-term-");
    const out = join(dir("lattice-build-out-"), "echo.wasm");
    const build = new CliProcess(["build", echo.source, "--wit", echo.witDir, "--world", echo.world, "-o", out], { TMPDIR: tmp });
    cleanup.add(() => build.stop("SIGKILL"));
    await untilComponentizing(tmp);
    const pids = processTree(build.pid);
    assert.equal(await build.stop("SIGTERM"), 143);
    await until(() => pids.every((p) => !isPidAlive(p)), 10_000, `the build's processes (${pids.join(", ")}) to be gone`);
    assert.deepEqual(readdirSync(tmp), [], "no temporary files left");
    assert.equal(build.stderr, `lattice: build of ${echo.source} interrupted (SIGTERM)\n`);
  });

  it("a failed build leaves no temporary files either", async () => {
    const tmp = dir("lattice-build-fail-");
    const src = join(dir("lattice-build-src-"), "broken.ts");
    writeFileSync(src, "export const echo = {\n  echo(s: string): string { return s\n};\n");
    const r = await runCli(["build", src, "--wit", echo.witDir, "--world", echo.world, "-o", join(dir("lattice-build-out-"), "never.wasm")], { TMPDIR: tmp });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^lattice: .*broken\.ts:\d+:\d+: /);
    assert.deepEqual(readdirSync(tmp), []);
  });
});
