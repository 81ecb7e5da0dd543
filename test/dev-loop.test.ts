/**
 * `lattice dev` as a developer runs it: on a copy of the echo actor in a temporary directory, it
 * starts a lattice of its own (nats-server and a host, in processes), builds and starts the
 * actor, and each edit goes live on the instances while calls keep coming, none failing; a broken
 * edit is one readable error and the previous version keeps answering; Ctrl-C stops the actor and
 * the lattice it started. No timing here: the save→live figure is in the bench (`--only dev`).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LatticeClient } from "../src/ctl/index.js";
import { isPidAlive } from "../src/nats/node/server-launcher.js";
import { CliProcess, runCli } from "./kit/cli.js";
import { EXAMPLES_DIR } from "./kit/fixtures.js";
import { Cleanup, connection } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

interface DevEvent {
  event: string;
  version?: number;
  stage?: string;
  message?: string;
  natsUrl?: string;
  pid?: number;
  natsPid?: number;
  ref?: string;
}

const ECHO = "acme:demo/echo";

/** The echo actor answering `prefix + msg`. */
function echoSource(prefix: string): string {
  return `export const echo = {\n  echo(msg: string): string {\n    return ${JSON.stringify(prefix)} + msg;\n  },\n};\n`;
}

describe("lattice dev", () => {
  const cleanup = new Cleanup();
  let dir = "";
  let dev: CliProcess;
  let client: LatticeClient;
  let lattice: DevEvent;

  const events = (): DevEvent[] =>
    dev.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as DevEvent);
  const untilEvent = (what: string, match: (e: DevEvent) => boolean, timeoutMs = 180_000): Promise<DevEvent> =>
    until(
      () => {
        const e = events().find(match);
        if (e) return e;
        if (dev.child.exitCode !== null) throw new Error(`lattice dev exited ${dev.child.exitCode}: ${dev.stderr}`);
        return undefined;
      },
      timeoutMs,
      `${what} from lattice dev (events: ${dev.stdout.slice(-2_000)}; stderr: ${dev.stderr.slice(-2_000)})`,
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "lattice-dev-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(EXAMPLES_DIR, "echo"), join(dir, "echo"), { recursive: true });
    writeFileSync(join(dir, "echo", "echo.ts"), echoSource("v1:"));
    // With a tsconfig.json above it, the actor is type-checked too.
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022"], types: [] } }));
    dev = new CliProcess(["dev", join(dir, "echo", "echo.ts"), "--nats-port", "0", "--state-dir", join(dir, "state"), "-o", "json"], {
      LATTICE_CACHE_DIR: join(dir, "cache"),
      // Every patched build step is checked against the step run in full (dev-section-patch.ts).
      LATTICE_DEV_VERIFY: "1",
    });
    cleanup.add(() => dev.stop("SIGKILL"));
    lattice = await untilEvent("the lattice", (e) => e.event === "lattice", 60_000);
    await untilEvent("version 1 live", (e) => e.event === "live" && e.version === 1);
    const nc = await connection(cleanup, lattice.natsUrl!);
    client = new LatticeClient(nc, "default");
  });

  after(cleanup.run);

  it("under a steady call load, three edits in a row go live with zero failed calls", async () => {
    const answers = new Map<string, number>();
    const failures: string[] = [];
    let running = true;
    // Four callers, each calling one after another, for as long as the edits take.
    const callers = Array.from({ length: 4 }, async () => {
      while (running) {
        try {
          const r = String(await client.call("echo", ECHO, "echo", ["x"], { timeoutMs: 10_000 }));
          answers.set(r, (answers.get(r) ?? 0) + 1);
        } catch (e) {
          failures.push(e instanceof Error ? e.message : String(e));
        }
      }
    });
    try {
      await until(() => answers.has("v1:x"), 30_000, "an answer of version 1");
      for (const v of [2, 3, 4]) {
        writeFileSync(join(dir, "echo", "echo.ts"), echoSource(`v${v}:`));
        await until(() => answers.has(`v${v}:x`), 180_000, `an answer of version ${v} (events: ${dev.stdout.slice(-1_500)}; stderr: ${dev.stderr.slice(-1_500)})`);
        const seen = answers.get(`v${v}:x`)!;
        // Still answering after the switch, by the new version.
        await until(() => (answers.get(`v${v}:x`) ?? 0) > seen + 10, 30_000, `more answers of version ${v}`);
        // Its instances answer before dev has seen every host take it and says so.
        await untilEvent(`version ${v} live`, (e) => e.event === "live" && e.version === v);
      }
    } finally {
      running = false;
      await Promise.all(callers);
    }
    assert.deepEqual(failures, [], "no call failed");
    for (const v of [1, 2, 3, 4]) assert.ok((answers.get(`v${v}:x`) ?? 0) > 0, `version ${v} answered (${JSON.stringify([...answers])})`);
    const live = events().filter((e) => e.event === "live").map((e) => e.version);
    assert.deepEqual(live, [1, 2, 3, 4]);
  });

  it("a broken edit (a syntax error, a type error, a missing import) prints one readable error and the previous version keeps answering", async () => {
    const before = events().length;
    writeFileSync(join(dir, "echo", "echo.ts"), "export const echo = {\n  echo(msg: string): string {\n    return 'v5:' + msg\n  ,\n};\n");
    const error = await untilEvent("the build error", (e) => e.event === "error");
    assert.equal(error.stage, "build");
    assert.match(error.message!, /echo\.ts:\d+:\d+: /, "file:line:column first");
    assert.ok(!error.message!.includes("\n"), `one line: ${error.message}`);
    assert.doesNotMatch(error.message!, /\bat [\w.]+ \(|node_modules|componentize/, "no stack, no build tool");
    assert.equal(await client.call("echo", ECHO, "echo", ["x"]), "v4:x");
    // One error for the one save, and nothing went live.
    const since = events().slice(before);
    assert.equal(since.filter((e) => e.event === "error").length, 1, JSON.stringify(since));
    assert.equal(since.filter((e) => e.event === "live").length, 0);

    // A type error: the same, from the type check.
    const beforeTypes = events().length;
    writeFileSync(join(dir, "echo", "echo.ts"), "export const echo = {\n  echo(msg: string): string {\n    return msg.length;\n  },\n};\n");
    const typeError = await untilEvent("the type error", (e) => e.event === "error" && e.stage === "typecheck");
    assert.match(typeError.message!, /echo\.ts:3:5: Type 'number' is not assignable to type 'string'/);
    assert.equal(await client.call("echo", ECHO, "echo", ["x"]), "v4:x");
    const sinceTypes = events().slice(beforeTypes);
    assert.equal(sinceTypes.filter((e) => e.event === "error").length, 1, JSON.stringify(sinceTypes));
    assert.equal(sinceTypes.filter((e) => e.event === "live").length, 0);

    // An import the world does not have: the same, from the build.
    const beforeImport = events().length;
    writeFileSync(join(dir, "echo", "echo.ts"), 'import { ping } from "acme:nowhere/thing";\nexport const echo = {\n  echo(msg: string): string {\n    return String(ping()) + msg;\n  },\n};\n');
    const importError = await until(() => events().slice(beforeImport).find((e) => e.event === "error"), 180_000, "the import error");
    assert.equal(importError.stage, "build");
    assert.match(importError.message!, /echo\.ts imports acme:nowhere\/thing, which its world does not import/);
    assert.equal(await client.call("echo", ECHO, "echo", ["x"]), "v4:x");

    // Fixed again, it goes live.
    writeFileSync(join(dir, "echo", "echo.ts"), echoSource("v6:"));
    await until(async () => (await client.call("echo", ECHO, "echo", ["x"])) === "v6:x", 180_000, "the fixed version to answer");
  });

  it("Ctrl-C stops the actor and the lattice it started", async () => {
    assert.ok(lattice.pid !== undefined && lattice.natsPid !== undefined, JSON.stringify(lattice));
    assert.ok(isPidAlive(lattice.pid) && isPidAlive(lattice.natsPid));
    assert.equal(await dev.stop("SIGINT"), 0, dev.stderr);
    const stopped = events().find((e) => e.event === "stopped");
    assert.ok(stopped, dev.stdout.slice(-500));
    await until(() => !isPidAlive(lattice.pid!) && !isPidAlive(lattice.natsPid!), 20_000, "the lattice's processes to be gone");
  });

  it("`lattice dev --help` says what it takes", async () => {
    const r = await runCli(["dev", "--help"]);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ["--wit", "--world", "--id", "--scale", "--nats-port", "-o, --output"]) assert.ok(r.stdout.includes(flag), `${flag} in: ${r.stdout}`);
  });
});
