/**
 * Every command ends: after its error, even when NATS never answered, and quietly when the reader
 * of its output goes away (`| head -1`).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, runCli } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

/** NATS gives up on a silent server after 3 s (5 s for hosts and streams); the rest is start-up on a busy machine. */
const EXIT_BOUND_MS = 25_000;

/** Run `jobs` with at most `n` at a time (the machine has 2 cores). */
async function limited<T>(n: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]!();
      }
    }),
  );
  return results;
}

describe("lattice CLI exits", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("non-zero, promptly, with the error on stderr, when --nats-url is a port that speaks another protocol", async () => {
    // nats-server's WebSocket port accepts TCP and waits for an HTTP upgrade: a NATS client hears nothing.
    const nats = await natsServer(cleanup, { websocket: { port: 0 } });
    const url = nats.websocketUrl!.replace(/^ws:/, "nats:");
    const dir = mkdtempSync(join(tmpdir(), "lattice-exit-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const wasm = join(dir, "echo.wasm");
    writeFileSync(wasm, await watEcho());
    const commands = [
      ["get", "hosts"],
      ["get", "inventory"],
      ["get", "artifacts"],
      ["push", wasm, "--name", "echo:1.0"],
      ["link", "get"],
      ["call", "echo", "acme:demo/echo.echo", '["hi"]'],
      ["events"],
      ["logs"],
      ["host", "--log-level", "silent"],
      ["up", "--state-dir", dir, "--log-level", "silent"],
    ];
    const results = await limited(
      3,
      commands.map((args) => async () => {
        const started = Date.now();
        const r = await runCli([...args, "--nats-url", url], {}, EXIT_BOUND_MS);
        return { args, r, ms: Date.now() - started };
      }),
    );
    for (const { args, r, ms } of results) {
      const what = `lattice ${args.join(" ")} (${ms} ms): ${r.stderr}`;
      assert.notEqual(r.code, 0, what);
      assert.equal(r.stdout, "", what);
      assert.match(r.stderr, new RegExp(`^lattice: cannot reach NATS at ${url.replace(/[.:/]/g, "\\$&")}: timeout`, "m"), what);
    }
  });

  it("quietly, 141 as after SIGPIPE, when the reader of its output has gone away", async () => {
    const nats = await natsServer(cleanup);
    await host(cleanup, nats.clientUrl, { name: "piped" });
    for (const args of [
      ["get", "inventory", "--nats-url", nats.clientUrl],
      ["get", "hosts", "--nats-url", nats.clientUrl],
      ["get", "hosts", "--help"],
    ]) {
      const r = await runCli(args, {}, 30_000, { closedStdout: true });
      assert.equal(r.stderr, "", `lattice ${args.join(" ")}`);
      assert.equal(r.code, 141, `lattice ${args.join(" ")}`);
    }
  });

  it("quietly, after stopping as on Ctrl-C, when the reader of a stream goes away", async () => {
    const nats = await natsServer(cleanup);
    const ev = new CliProcess(["events", "--nats-url", nats.clientUrl, "--type", "host_started"]);
    cleanup.add(() => ev.stop("SIGKILL"));
    ev.child.stdout?.destroy();
    await ev.stderrIncludes("listening for events");
    await host(cleanup, nats.clientUrl, { name: "unheard" });
    const code = await until(() => ev.child.exitCode ?? undefined, 15_000, "events to exit once its first line found no reader");
    assert.equal(code, 141, ev.stderr);
    assert.doesNotMatch(ev.stderr, /EPIPE|Error/);
  });
});
