/** The `lattice` command as a user runs it: help, errors, up/down, events, inventory. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostInfo, HostInventory } from "../src/protocol/index.js";
import { freePort } from "../src/nats/node/free-port.js";
import { isPidAlive } from "../src/nats/node/server-launcher.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { Cleanup, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

describe("lattice CLI", () => {
  const cleanup = new Cleanup();
  after(cleanup.run);

  it("every command has --help with --nats-url and --lattice", async () => {
    for (const cmd of [["up"], ["down"], ["host"], ["get", "hosts"], ["get", "inventory"], ["events"]]) {
      const r = await runCli([...cmd, "--help"]);
      assert.equal(r.code, 0, cmd.join(" "));
      assert.match(r.stdout, /--nats-url/, cmd.join(" "));
      assert.match(r.stdout, /LATTICE_NATS_URL/, cmd.join(" "));
      assert.match(r.stdout, /--lattice/, cmd.join(" "));
    }
    const top = await runCli(["--help"]);
    for (const c of ["up", "down", "host", "get", "events"]) assert.match(top.stdout, new RegExp(`^  ${c}`, "m"));
  });

  it("says which NATS it could not reach and how to start one, in one line, exit non-zero", async () => {
    const port = await freePort();
    const r = await runCli(["get", "hosts", "--nats-url", `nats://127.0.0.1:${port}`]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, new RegExp(`cannot reach NATS at nats://127.0.0.1:${port}`));
    assert.match(r.stderr, /lattice up/);
    const viaEnv = await runCli(["get", "hosts"], { LATTICE_NATS_URL: `nats://127.0.0.1:${port}` });
    assert.match(viaEnv.stderr, new RegExp(`127.0.0.1:${port}`));
  });

  it("refuses bad arguments with a clear message", async () => {
    const bad = [
      { args: ["get", "hosts", "--lattice", "a.b"], re: /invalid lattice name/ },
      { args: ["get", "hosts", "-o", "yaml"], re: /Allowed choices are text, json/ },
      { args: ["up", "--heartbeat", "soon"], re: /expected a duration/ },
      { args: ["host", "--label", "novalue"], re: /key=value/ },
      { args: ["get", "inventory", "NOT-A-HOST", "--nats-url", "nats://127.0.0.1:1"], re: /cannot reach NATS/ },
    ];
    for (const { args, re } of bad) {
      const r = await runCli(args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, re, args.join(" "));
    }
  });

  it("up explains in one line why the embedded NATS cannot start", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "lattice-up-"));
    cleanup.add(() => rmSync(stateDir, { recursive: true, force: true }));
    const busy = await natsServer(cleanup);
    const clash = await runCli(["up", "--nats-port", String(busy.port), "--ws-port", "0"], { LATTICE_STATE_DIR: stateDir });
    assert.equal(clash.code, 1);
    assert.equal(clash.stderr.trim().split("\n").length, 1, clash.stderr);
    assert.match(clash.stderr, new RegExp(`127.0.0.1:${busy.port}.*address already in use`));
    const missing = await runCli(["up", "--detach", "--nats-port", "0", "--ws-port", "0"], { LATTICE_STATE_DIR: stateDir, LATTICE_NATS_SERVER: "/nonexistent/nats-server" });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /LATTICE_NATS_SERVER is set to "\/nonexistent\/nats-server", which is not an executable file/);
  });

  it("get inventory of all hosts and of one; an unknown host is not_found", async () => {
    const nats = await natsServer(cleanup);
    const h = await host(cleanup, nats.clientUrl, { name: "inv" });
    const all = await cliJson<HostInventory[]>(["get", "inventory", "--nats-url", nats.clientUrl]);
    assert.equal(all.length, 1);
    assert.deepEqual(all[0]?.actors, []);
    assert.equal(all[0]?.host.id, h.id);
    const one = await cliJson<HostInventory>(["get", "inventory", h.id, "--nats-url", nats.clientUrl]);
    assert.equal(one.host.name, "inv");
    const other = `N${"A".repeat(55)}`;
    const missing = await runCli(["get", "inventory", other, "--nats-url", nats.clientUrl]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not_found: host N[A]+ is not in lattice default/);
    const badId = await runCli(["get", "inventory", "xyz", "--nats-url", nats.clientUrl]);
    assert.match(badId.stderr, /invalid host id/);
  });

  it("events streams CloudEvents as JSON lines", async () => {
    const nats = await natsServer(cleanup);
    const ev = new CliProcess(["events", "--nats-url", nats.clientUrl, "-o", "json", "--type", "host_started", "host_stopped", "--count", "2"]);
    cleanup.add(() => ev.stop("SIGKILL"));
    await ev.stderrIncludes("listening for events");
    const h = await host(cleanup, nats.clientUrl, { name: "evented" });
    await h.stop("bye");
    const [started, stopped] = await ev.jsonLines<{ type: string; source: string; specversion: string; data: { name?: string; reason?: string } }>(2);
    assert.equal(started?.type, "lattice.host_started");
    assert.equal(started?.specversion, "1.0");
    assert.equal(started?.source, h.id);
    assert.equal(started?.data.name, "evented");
    assert.equal(stopped?.type, "lattice.host_stopped");
    assert.equal(stopped?.data.reason, "bye");
    assert.equal(await until(() => ev.child.exitCode ?? undefined, 5_000, "exit after --count"), 0);
  });

  it("up --leaf-remote joins another site's lattice with one command", async () => {
    const hubDir = mkdtempSync(join(tmpdir(), "lattice-hub-"));
    const edgeDir = mkdtempSync(join(tmpdir(), "lattice-edge-"));
    cleanup.add(() => rmSync(hubDir, { recursive: true, force: true }));
    cleanup.add(() => rmSync(edgeDir, { recursive: true, force: true }));
    const ports = ["--nats-port", "0", "--ws-port", "0", "--leaf-port", "0"];
    const hub = await runCli(["up", "--detach", ...ports, "--name", "cloud", "-o", "json"], { LATTICE_STATE_DIR: hubDir });
    assert.equal(hub.code, 0, hub.stderr);
    const hubRec = JSON.parse(hub.stdout) as { pid: number; natsPid: number; natsUrl: string; leafUrl: string };
    cleanup.add(() => runCli(["down"], { LATTICE_STATE_DIR: hubDir }));
    assert.match(hubRec.leafUrl, /^nats-leaf:\/\/127\.0\.0\.1:\d+$/);
    const edge = await runCli(["up", "--detach", ...ports, "--name", "laptop", "--leaf-remote", hubRec.leafUrl, "-o", "json"], { LATTICE_STATE_DIR: edgeDir });
    assert.equal(edge.code, 0, edge.stderr);
    const edgeRec = JSON.parse(edge.stdout) as { natsUrl: string; leafRemote: string[] };
    cleanup.add(() => runCli(["down"], { LATTICE_STATE_DIR: edgeDir }));
    assert.deepEqual(edgeRec.leafRemote, [hubRec.leafUrl]);
    for (const url of [hubRec.natsUrl, edgeRec.natsUrl]) {
      const names = await until(async () => {
        const hosts = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", url]);
        return hosts.length === 2 ? hosts.map((h) => h.name) : undefined;
      }, 10_000, `both hosts seen from ${url}`);
      assert.deepEqual(names, ["cloud", "laptop"]);
    }
    // The laptop's lattice state is the cloud's: a link written at the edge is read at the hub.
    const put = await runCli(["link", "put", "a", "b", "acme:x/y", "--nats-url", edgeRec.natsUrl, "--js-domain", "lattice"]);
    assert.equal(put.code, 0, put.stderr);
    const links = await cliJson<Array<{ source: string }>>(["get", "links", "--nats-url", hubRec.natsUrl]);
    assert.deepEqual(links.map((l) => l.source), ["a"]);
  });

  it("up --nats-cluster 3 runs a local cluster that survives losing a server; down stops all of it", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "lattice-cluster-"));
    cleanup.add(() => rmSync(stateDir, { recursive: true, force: true }));
    const env = { LATTICE_STATE_DIR: stateDir };
    const up = await runCli(["up", "--detach", "--nats-port", "0", "--ws-port", "0", "--leaf-port", "0", "--nats-cluster", "3", "--name", "c", "-o", "json"], env);
    assert.equal(up.code, 0, up.stderr);
    const rec = JSON.parse(up.stdout) as { pid: number; natsPids: number[]; natsUrl: string };
    cleanup.add(() => {
      for (const pid of [rec.pid, ...rec.natsPids]) if (isPidAlive(pid)) process.kill(pid, "SIGKILL");
    });
    assert.equal(rec.natsPids.length, 3);
    const urls = rec.natsUrl.split(",");
    assert.equal(urls.length, 3);
    process.kill(rec.natsPids[0]!, "SIGKILL");
    const names = await until(async () => {
      const hosts = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", urls[2]!]);
      return hosts.length === 1 ? hosts.map((h) => h.name) : undefined;
    }, 15_000, "the host answering through a surviving server");
    assert.deepEqual(names, ["c"]);
    const down = await runCli(["down"], env);
    assert.equal(down.code, 0, down.stderr);
    for (const pid of [rec.pid, ...rec.natsPids]) assert.ok(!isPidAlive(pid), `pid ${pid} gone`);
  });

  it("up --detach starts NATS and a host, records pids; down stops them cleanly", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "lattice-up-"));
    cleanup.add(() => rmSync(stateDir, { recursive: true, force: true }));
    const env = { LATTICE_STATE_DIR: stateDir };
    const up = await runCli(["up", "--detach", "--nats-port", "0", "--ws-port", "0", "--name", "main", "--label", "env=test", "-o", "json"], env);
    assert.equal(up.code, 0, up.stderr);
    const rec = JSON.parse(up.stdout) as { pid: number; natsPid: number; natsUrl: string; websocketUrl: string; hostId: string };
    cleanup.add(() => {
      for (const pid of [rec.pid, rec.natsPid]) if (isPidAlive(pid)) process.kill(pid, "SIGKILL");
    });
    assert.ok(isPidAlive(rec.pid) && isPidAlive(rec.natsPid));
    assert.match(rec.websocketUrl, /^ws:\/\/127\.0\.0\.1:\d+$/);
    const recorded = JSON.parse(readFileSync(join(stateDir, "default", "up.json"), "utf8")) as { pid: number };
    assert.equal(recorded.pid, rec.pid);

    const hosts = await cliJson<HostInfo[]>(["get", "hosts", "--nats-url", rec.natsUrl]);
    assert.deepEqual(hosts.map((h) => [h.id, h.name, h.labels]), [[rec.hostId, "main", { env: "test" }]]);

    const again = await runCli(["up", "--detach", "--nats-port", "0", "--ws-port", "0"], env);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already up/);

    // Watch for the goodbye while stopping.
    const ev = new CliProcess(["events", "--nats-url", rec.natsUrl, "-o", "json", "--type", "host_stopped", "--count", "1"]);
    cleanup.add(() => ev.stop("SIGKILL"));
    await ev.stderrIncludes("listening for events");
    const down = await runCli(["down"], env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /lattice default stopped/);
    assert.ok(!isPidAlive(rec.pid), "lattice process gone");
    assert.ok(!isPidAlive(rec.natsPid), "nats-server gone");
    assert.ok(!existsSync(join(stateDir, "default", "up.json")), "record removed");
    const [bye] = await ev.jsonLines<{ source: string }>(1);
    assert.equal(bye?.source, rec.hostId, "the host said goodbye before NATS stopped");

    const nothing = await runCli(["down"], env);
    assert.equal(nothing.code, 0);
    assert.match(nothing.stderr, /nothing to stop/);
  });
});
