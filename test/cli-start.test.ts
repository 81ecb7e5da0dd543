/**
 * The command tree loads only what it needs to parse and to show help: commander and the
 * schema-free modules, never the protocol's schemas (typebox), NATS, the host or the actor
 * runtime; an action loads those when it runs (see src/cli/program.ts). No timing here: the
 * times are in the bench (`node dist/bench/run.js --only cli`).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CLI } from "./kit/cli.js";

let dir = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "lattice-cli-start-"));
  // Module hooks run apart from the program: each module loaded is appended to the file named in the environment.
  writeFileSync(join(dir, "hooks.mjs"), `import { appendFileSync } from "node:fs";\nexport async function load(url, context, next) {\n  appendFileSync(process.env.LOADED_LOG, url + "\\n");\n  return next(url, context);\n}\n`);
  writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});\n`);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** The modules `lattice …args` loads (it must exit with `status`): packages by name, the project's own by path under src/. */
function loaded(args: string[], status = 0): { packages: string[]; own: string[] } {
  const log = join(dir, `${args.join("_").replace(/\W/g, "")}.log`);
  const r = spawnSync(process.execPath, ["--import", pathToFileURL(join(dir, "register.mjs")).href, CLI, ...args], {
    env: { ...process.env, LOADED_LOG: log },
    encoding: "utf8",
  });
  assert.equal(r.status, status, r.stderr);
  const urls = readFileSync(log, "utf8").split("\n");
  const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((p) => p !== undefined));
  const own = urls.map((u) => /\/dist\/src\/([^]+)$/.exec(u)?.[1]).filter((p) => p !== undefined);
  return { packages: [...packages], own };
}

describe("lattice CLI start", () => {
  for (const args of [["--version"], ["--help"], ["get", "hosts", "--help"]]) {
    it(`\`lattice ${args.join(" ")}\` loads commander and the command tree, nothing heavier`, () => {
      const { packages, own } = loaded(args);
      assert.deepEqual(packages, ["commander"]);
      assert.ok(own.includes("cli/program.js"), own.join(", "));
      const heavy = own.filter((p) => p.startsWith("cli/actions/") || p === "protocol/index.js" || p === "cli/connect.js" || p === "cli/host-runner.js" || p.startsWith("ctl/"));
      assert.deepEqual(heavy, []);
    });
  }

  it("an action loads what it uses when it runs", () => {
    // Refused before it connects: the action's module is loaded all the same.
    const { packages, own } = loaded(["delete", "artifact", "no-version", "--nats-url", "nats://127.0.0.1:1"], 1);
    assert.ok(own.includes("cli/actions/artifacts.js"), own.join(", "));
    assert.ok(packages.includes("@nats-io/nats-core") && packages.includes("@sinclair/typebox"), packages.join(", "));
  });
});
