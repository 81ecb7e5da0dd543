/** `lattice events` as a person reads it: no heartbeat flood, known types only, actors named, a lost connection said. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../src/nats/node/free-port.js";
import { CliProcess, runCli } from "./kit/cli.js";
import { watEcho } from "./kit/fixtures.js";
import { Cleanup, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

type Event = { type: string; data: { name?: string; reason?: string } };

describe("lattice events", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  function events(args: string[]): CliProcess {
    const ev = new CliProcess(["events", ...args]);
    cleanup.add(() => ev.stop("SIGKILL"));
    return ev;
  }

  it("leaves heartbeats out unless --type asks for them", async () => {
    const nats = await natsServer(cleanup);
    const all = events(["--nats-url", nats.clientUrl, "-o", "json"]);
    const beats = events(["--nats-url", nats.clientUrl, "-o", "json", "--type", "host_heartbeat", "--count", "2"]);
    await all.stderrIncludes("listening for events");
    await beats.stderrIncludes("listening for events");
    const h = await host(cleanup, nats.clientUrl, { name: "beating", heartbeatMs: 200 });
    const [beat] = await beats.jsonLines<Event>(2);
    assert.equal(beat?.type, "lattice.host_heartbeat");
    await until(() => beats.child.exitCode === 0, 5_000, "exit after two heartbeats");
    await h.stop("bye");
    const lines = await all.jsonLines<Event>(2);
    assert.deepEqual(lines.map((e) => e.type), ["lattice.host_started", "lattice.host_stopped"]);
  });

  it("refuses an unknown --type before connecting, naming the types there are", async () => {
    const r = await runCli(["events", "--type", "host_strated", "--nats-url", `nats://127.0.0.1:${await freePort()}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^lattice: option '--type <type\.\.\.>' argument 'host_strated' is invalid\. Allowed choices are host_started, host_heartbeat, host_stopped, actor_scaled,/);
    assert.doesNotMatch(r.stderr, /cannot reach NATS/);
  });

  it("names the actor and its instance counts", async () => {
    const nats = await natsServer(cleanup, { jetstream: {} });
    await host(cleanup, nats.clientUrl, { name: "runner" });
    const dir = mkdtempSync(join(tmpdir(), "lattice-events-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const wasm = join(dir, "echo.wasm");
    writeFileSync(wasm, await watEcho());
    const ev = events(["--nats-url", nats.clientUrl, "--type", "actor_scaled", "--count", "2"]);
    await ev.stderrIncludes("listening for events");
    const start = await runCli(["start", "actor", wasm, "--id", "echo", "--scale", "2", "--nats-url", nats.clientUrl]);
    assert.equal(start.code, 0, start.stderr);
    const stop = await runCli(["stop", "actor", "echo", "--nats-url", nats.clientUrl]);
    assert.equal(stop.code, 0, stop.stderr);
    await until(() => ev.child.exitCode === 0, 10_000, `two actor_scaled lines (stdout: ${ev.stdout})`);
    const lines = ev.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /\bactor_scaled\s+N[A-Z0-9]{55}\s+actor echo \(echo:[^)]+\): 0 -> 2 instances on this host$/);
    assert.match(lines[1] ?? "", /\bactor_scaled\s+N[A-Z0-9]{55}\s+actor echo \(echo:[^)]+\): 2 -> 0 instances on this host$/);
  });

  it("says when it loses NATS and when it is back, and goes on streaming", async () => {
    const nats = await natsServer(cleanup);
    const ev = events(["--nats-url", nats.clientUrl, "-o", "json", "--type", "host_started", "--count", "1"]);
    await ev.stderrIncludes("listening for events");
    await nats.restart();
    await ev.stderrIncludes(`lattice: warning: lost the connection to NATS at ${nats.clientUrl.replace("nats://", "")}`);
    await ev.stderrIncludes("reconnected to NATS");
    await host(cleanup, nats.clientUrl, { name: "after" });
    const [started] = await ev.jsonLines<Event>(1);
    assert.equal(started?.data.name, "after");
  });
});
