/**
 * The counter app deployed from a manifest on three host processes, every one of them a
 * reconciler candidate: it serves HTTP; a SIGKILLed host's instances come back on the living
 * hosts while requests keep being answered; a joining host gets the daemon component; v2 rolls
 * out under load with no failed request; undeploy leaves nothing of the app in any inventory.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsServer } from "../src/nats/node/index.js";
import { freePort } from "../src/nats/node/index.js";
import type { AppStatus, HostInfo, HostInventory } from "../src/protocol/index.js";
import { CliProcess, cliJson, runCli } from "./kit/cli.js";
import { exampleComponentPath, watEcho } from "./kit/fixtures.js";
import { Cleanup, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

function manifest(version: string, counterRef: string, port: number): string {
  return `
name: counter
version: ${version}
components:
  - id: http
    provider: http-server
    placement: { labels: { role: edge } }
  - id: counter
    actor: ${counterRef}
    placement: { spread: { instances: 3 } }
  - id: kv
    provider: keyvalue
    placement: { labels: { role: store } }
  - id: sidecar
    actor: sidecar:1
    placement: { labels: { role: worker }, daemon: {} }
links:
  - source: http
    target: counter
    interface: wasi:http/incoming-handler
    config: { address: "127.0.0.1:${port}", timeout: 20s }
  - source: counter
    target: kv
    interface: wasi:keyvalue
    config: { bucket: app_counter }
`;
}

describe("the counter app from a manifest", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let env: NodeJS.ProcessEnv;
  let port = 0;
  const procs = new Map<string, { proc: CliProcess; id: string }>();
  const files: string[] = [];

  const startHost = async (name: string, role: string) => {
    const proc = new CliProcess(["host", "--name", name, "--label", `role=${role}`, "--heartbeat", "500ms", "-o", "json", "--log-level", "warn"], env);
    cleanup.add(() => proc.stop("SIGKILL"));
    const id = (await proc.jsonLines<{ host: HostInfo }>(1))[0]!.host.id;
    procs.set(name, { proc, id });
    return id;
  };
  const inventories = () => cliJson<HostInventory[]>(["get", "inventory"], env);
  const status = async () => (await cliJson<{ status: AppStatus | null }>(["app", "status", "counter"], env)).status;
  const file = (name: string, text: string) => {
    const f = join(tmpdir(), `lattice-${process.pid}-${name}`);
    writeFileSync(f, text);
    files.push(f);
    return f;
  };
  const deploy = async (f: string) => {
    const r = await runCli(["app", "deploy", f, "--wait", "120s"], env, 150_000);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  /** GETs from `concurrency` loops until stopped; counts every answer that is not a 200. */
  function httpLoad(concurrency: number) {
    let stop = false;
    const r = { ok: 0, failed: [] as string[] };
    const loops = Array.from({ length: concurrency }, async () => {
      while (!stop) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/load`, { signal: AbortSignal.timeout(30_000) });
          const body = await res.text();
          if (res.status === 200) r.ok++;
          else r.failed.push(`${res.status} ${body.trim()}`);
        } catch (e) {
          r.failed.push(String(e));
        }
      }
    });
    return {
      result: r,
      stop: async () => {
        stop = true;
        await Promise.all(loops);
        return r;
      },
    };
  }

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    env = { LATTICE_NATS_URL: nats.clientUrl };
    port = await freePort();
    await startHost("edge", "edge");
    await startHost("store", "store");
    await startHost("worker", "worker");
    const counter = await exampleComponentPath("http-counter");
    for (const v of ["1.0", "2.0"]) assert.equal((await runCli(["push", counter, "--name", `http-counter:${v}`], env)).code, 0);
    assert.equal((await runCli(["push", file("sidecar.wasm", ""), "--name", "sidecar:1"], env)).code, 1, "an empty file is not a component");
    writeFileSync(files[files.length - 1]!, await watEcho());
    assert.equal((await runCli(["push", files[files.length - 1]!, "--name", "sidecar:1"], env)).code, 0);
    cleanup.add(() => files.forEach((f) => rmSync(f, { force: true })));
  });
  after(cleanup.run);

  it("deploys from the CLI and serves HTTP, counting in the key-value provider", async () => {
    const out = await deploy(file("v1.yaml", manifest("v1", "http-counter:1.0", port)));
    assert.match(out, /app counter v1 deployed; running as declared/);
    // The http-server opens its listener when it sees its link, moments after the link is written.
    await until(async () => (await fetch(`http://127.0.0.1:${port}/warmup`).catch(() => undefined))?.status === 200, 30_000, "the app serving HTTP");
    const first = Number((await (await fetch(`http://127.0.0.1:${port}/visits`)).text()).trim());
    const second = Number((await (await fetch(`http://127.0.0.1:${port}/visits`)).text()).trim());
    assert.equal(second, first + 1);
    const inv = await inventories();
    const counters = Object.fromEntries(inv.map((h) => [h.host.name, h.actors.find((a) => a.id === "counter")?.instances ?? 0]));
    assert.deepEqual(counters, { edge: 1, store: 1, worker: 1 });
    assert.deepEqual(inv.filter((h) => h.actors.some((a) => a.id === "sidecar")).map((h) => h.host.name), ["worker"]);
  });

  it("SIGKILL of a host: back at 3 instances on the living hosts within 5 s, no request lost", async () => {
    const load = httpLoad(4);
    await until(() => load.result.ok > 50, 20_000, "requests flowing");
    const victim = procs.get("worker")!;
    const killedAt = Date.now();
    await victim.proc.stop("SIGKILL");
    await until(async () => {
      const s = await status();
      const running = s?.components.find((c) => c.id === "counter")?.running ?? {};
      return s?.phase !== undefined && !(victim.id in running) && Object.values(running).reduce((n, x) => n + x, 0) === 3;
    }, 30_000, "counter back at 3 instances", 100);
    const tookMs = Date.now() - killedAt;
    const okBefore = load.result.ok;
    await until(() => load.result.ok > okBefore + 50, 20_000, "requests still flowing");
    const r = await load.stop();
    assert.deepEqual(r.failed, [], `${r.failed.length} failed of ${r.ok + r.failed.length}`);
    assert.ok(tookMs < 5_000, `converged in ${tookMs} ms`);
    const inv = await inventories();
    assert.equal(inv.reduce((n, h) => n + (h.actors.find((a) => a.id === "counter")?.instances ?? 0), 0), 3);
  });

  it("a joining host that matches gets the daemon component", async () => {
    const id = await startHost("worker2", "worker");
    const inv = await until(async () => {
      const inv = await inventories();
      return inv.find((h) => h.host.id === id)?.actors.some((a) => a.id === "sidecar") ? inv : undefined;
    }, 30_000, "sidecar on the new worker");
    assert.deepEqual(inv.filter((h) => h.actors.some((a) => a.id === "sidecar")).map((h) => h.host.name), ["worker2"]);
  });

  it("v2 rolls out under load with no failed request", async () => {
    const load = httpLoad(4);
    await until(() => load.result.ok > 20, 20_000, "requests flowing");
    await deploy(file("v2.yaml", manifest("v2", "http-counter:2.0", port)));
    const r = await load.stop();
    assert.deepEqual(r.failed, [], `${r.failed.length} failed of ${r.ok + r.failed.length}`);
    const refs = (await inventories()).flatMap((h) => h.actors.filter((a) => a.id === "counter").map((a) => a.ref));
    assert.deepEqual([...new Set(refs)], ["http-counter:2.0"]);
  });

  it("undeploy leaves nothing of the app in any inventory", async () => {
    const r = await runCli(["app", "undeploy", "counter", "--wait", "60s"], env, 90_000);
    assert.equal(r.code, 0, r.stderr);
    const inv = await inventories();
    assert.deepEqual(inv.flatMap((h) => [...h.actors.map((a) => a.id), ...h.providers.filter((p) => p.state !== "stopped").map((p) => p.id)]), []);
    const links = await cliJson<unknown[]>(["get", "links"], env);
    assert.deepEqual(links, []);
    assert.deepEqual(await cliJson<unknown[]>(["app", "list"], env), []);
  });
});
