/**
 * Fault scenarios with real nats-server and host processes, each under a steady call load that
 * counts every call. `npm run chaos` runs them at full length and prints the table; the tests
 * run them shorter and assert on the same figures.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppStore, parseManifest } from "../src/apps/index.js";
import { Host } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { invoke } from "../src/nats/invocations.js";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { RESILIENT, parseServers } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node/index.js";
import { Subjects, parseArtifactRef, type AppStatus, type HostInfo } from "../src/protocol/index.js";
import { CliProcess, runCli } from "../test/kit/cli.js";
import { watEcho } from "../test/kit/fixtures.js";
import { type Cleanup, natsServer } from "../test/kit/lattice.js";
import { until } from "../test/kit/poll.js";
import { HUB_DOMAIN, topology } from "../test/kit/topology.js";
import { recoveredWithout } from "./converge.js";
import { steadyLoad, type LoadResult } from "./load.js";

export interface ScenarioResult {
  scenario: string;
  load: LoadResult;
  /** Fault → every view (of the observer) shows it. */
  detectMs?: number;
  /** Heal → the lattice is whole again. */
  convergeMs?: number;
}

export interface LoadShape {
  rate: number;
  durationMs: number;
  heartbeatMs: number;
}

const ECHO = { iface: "acme:demo/echo", fn: "echo" };
const subjects = new Subjects("default");

const DEADLINE_MS = 2_000;

/** One echo call as the scenarios make it: a 2 s deadline, sent again after 400 ms without an answer. */
function callEcho(nc: NatsConnection, target: string, deadline: number): Promise<unknown> {
  return invoke(nc, subjects, { target, ...ECHO, args: ["x"], source: "chaos", deadline, attemptTimeoutMs: 400 });
}

function echoLoad(nc: NatsConnection, target: string, rate: number, shape: LoadShape): Promise<LoadResult> {
  return steadyLoad((deadline) => callEcho(nc, target, deadline), rate, shape.durationMs, DEADLINE_MS);
}

async function echoFile(): Promise<string> {
  const file = join(tmpdir(), `lattice-chaos-${process.pid}-echo.wasm`);
  writeFileSync(file, await watEcho());
  return file;
}

async function hostProcess(cleanup: Cleanup, servers: string, name: string, heartbeatMs: number, jsDomain?: string): Promise<{ proc: CliProcess; id: string }> {
  const args = ["host", "--nats-url", servers, "--name", name, "--label", "role=worker", "--heartbeat", `${heartbeatMs}ms`, "-o", "json", "--log-level", "error"];
  const proc = new CliProcess(jsDomain ? [...args, "--js-domain", jsDomain] : args);
  cleanup.add(() => proc.stop("SIGKILL"));
  const [ready] = await proc.jsonLines<{ host: HostInfo }>(1);
  return { proc, id: ready!.host.id };
}

async function observer(cleanup: Cleanup, servers: string, heartbeatMs: number): Promise<Host> {
  const h = new Host({ servers, connect: connectNode, name: "observer", heartbeatMs });
  cleanup.add(() => h.stop());
  await h.start();
  return h;
}

/** SIGKILL one of three hosts running an actor, a third of the way through the load. */
export async function hostKill(cleanup: Cleanup, shape: LoadShape): Promise<ScenarioResult> {
  const nats = await natsServer(cleanup, { jetstream: {} });
  const env = { LATTICE_NATS_URL: nats.clientUrl };
  const hosts: Array<{ proc: CliProcess; id: string }> = [];
  for (const name of ["h1", "h2", "h3"]) hosts.push(await hostProcess(cleanup, nats.clientUrl, name, shape.heartbeatMs));
  const watch = await observer(cleanup, nats.clientUrl, shape.heartbeatMs);
  await watch.view.waitFor((v) => hosts.every((h) => v.has(h.id)), 10_000);
  const started = await runCli(["start", "actor", await echoFile(), "--id", "echo", "--scale", "3", "--constraint", "role=worker"], env);
  if (started.code !== 0) throw new Error(started.stderr);

  const caller = await connectNode({ ...RESILIENT, servers: nats.clientUrl });
  cleanup.add(() => caller.close());
  const victim = hosts[0]!;
  let killedAt = 0;
  let detectMs: number | undefined;
  const gone = watch.view.waitFor((v) => !v.has(victim.id), shape.durationMs + 10_000).then(() => (detectMs = Date.now() - killedAt));
  setTimeout(() => {
    killedAt = Date.now();
    void victim.proc.stop("SIGKILL");
  }, shape.durationMs / 3);
  const load = await echoLoad(caller, "echo", shape.rate, shape);
  await gone;
  return { scenario: "SIGKILL 1 of 3 hosts running the actor", load, detectMs };
}

/**
 * An app (the echo actor spread 3) on three host processes, all reconciler candidates; SIGKILL
 * the one holding the reconciler lease a third of the way through the load. Detect: another
 * host writes the app's status; converge: the status shows 3 instances again, all on living hosts.
 */
export async function reconcilerKill(cleanup: Cleanup, shape: LoadShape): Promise<ScenarioResult> {
  const nats = await natsServer(cleanup, { jetstream: {} });
  const hosts: Array<{ proc: CliProcess; id: string }> = [];
  for (const name of ["h1", "h2", "h3"]) hosts.push(await hostProcess(cleanup, nats.clientUrl, name, shape.heartbeatMs));
  const caller = await connectNode({ ...RESILIENT, servers: nats.clientUrl });
  cleanup.add(() => caller.close());
  await new ArtifactStore(caller, "default").put(parseArtifactRef("echo:1"), await watEcho());
  const store = new AppStore(caller, "default");
  await store.deploy(parseManifest("name: chaos\nversion: v1\ncomponents:\n  - id: echo\n    actor: echo:1\n    placement: { spread: { instances: 3 } }\n"));
  const leader = await until(async () => {
    const s = await store.status("chaos");
    return s?.phase === "deployed" && Object.keys(s.components[0]?.running ?? {}).length === 3 ? s.reconciler : undefined;
  }, 60_000, "the app deployed on all three hosts");
  const victim = hosts.find((h) => h.id === leader)!;

  let killedAt = 0;
  let detected: Promise<number> = Promise.resolve(0);
  let converged: Promise<number> = Promise.resolve(0);
  setTimeout(() => {
    killedAt = Date.now();
    void victim.proc.stop("SIGKILL");
    const poll = (done: (s: AppStatus) => boolean, what: string) =>
      until(async () => {
        const s = await store.status("chaos");
        return s && done(s) ? Date.now() : undefined;
      }, 60_000, what, 20);
    detected = poll((s) => s.reconciler !== victim.id, "another reconciler");
    converged = poll((s) => recoveredWithout(s, victim.id, 3), "the app back at 3 instances");
  }, shape.durationMs / 3);
  const load = await echoLoad(caller, "echo", shape.rate, shape);
  return { scenario: "SIGKILL the reconciler's host (app spread 3)", load, detectMs: (await detected) - killedAt, convergeMs: (await converged) - killedAt };
}

/** SIGKILL one server of a 3-server hub cluster a third of the way through the load. */
export async function serverKill(cleanup: Cleanup, shape: LoadShape): Promise<ScenarioResult> {
  const topo = await topology(cleanup, { hub: 3 });
  const servers = topo.url("hub");
  const env = { LATTICE_NATS_URL: servers, LATTICE_JS_DOMAIN: HUB_DOMAIN };
  const hosts: Array<{ proc: CliProcess; id: string }> = [];
  for (const name of ["h1", "h2", "h3"]) hosts.push(await hostProcess(cleanup, servers, name, shape.heartbeatMs, HUB_DOMAIN));
  const started = await runCli(["start", "actor", await echoFile(), "--id", "echo", "--scale", "3", "--constraint", "role=worker"], env);
  if (started.code !== 0) throw new Error(started.stderr);
  const watch = await observer(cleanup, servers, shape.heartbeatMs);
  await watch.view.waitFor((v) => hosts.every((h) => v.has(h.id)), 10_000);

  const caller = await connectNode({ ...RESILIENT, servers: parseServers(servers) });
  cleanup.add(() => caller.close());
  let killedAt = 0;
  let converged: Promise<number> = Promise.resolve(0);
  setTimeout(() => {
    killedAt = Date.now();
    void topo.hub[0]!.kill("SIGKILL");
    // Whole again: every host still in the view, heard from since the kill.
    converged = until(() => hosts.every((h) => (watch.view.get(h.id)?.lastSeen ?? 0) > killedAt) && Date.now(), 30_000, "every host heard from again");
  }, shape.durationMs / 3);
  const load = await echoLoad(caller, "echo", shape.rate, shape);
  const convergeMs = (await converged) - killedAt;
  return { scenario: "SIGKILL 1 of 3 hub servers", load, convergeMs };
}

/**
 * Cut a leaf from the hub: each side keeps calling its own actor, calls across fail fast, and
 * after healing both sides see both hosts again; KV writes acknowledged meanwhile survive.
 */
export async function partition(cleanup: Cleanup, shape: LoadShape & { cutMs: number }): Promise<ScenarioResult & { crossFailedFastMs: number; kvWritesKept: boolean }> {
  const topo = await topology(cleanup, { hub: 1, leaves: { edge: { proxied: true } } });
  const envHub = { LATTICE_NATS_URL: topo.url("hub"), LATTICE_JS_DOMAIN: HUB_DOMAIN };
  const hubHost = await hostProcess(cleanup, topo.url("hub"), "hub", shape.heartbeatMs, HUB_DOMAIN);
  const edgeHost = await hostProcess(cleanup, topo.url("edge"), "edge", shape.heartbeatMs, HUB_DOMAIN);
  const file = await echoFile();
  for (const [id, host] of [["hub-echo", hubHost], ["edge-echo", edgeHost]] as const) {
    const r = await runCli(["start", "actor", file, "--id", id, "--host", host.id], envHub);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const hubWatch = await observer(cleanup, topo.url("hub"), shape.heartbeatMs);
  const edgeWatch = await observer(cleanup, topo.url("edge"), shape.heartbeatMs);
  const both = (h: Host) => h.view.has(hubHost.id) && h.view.has(edgeHost.id);
  await Promise.all([hubWatch.view.waitFor(() => both(hubWatch), 10_000), edgeWatch.view.waitFor(() => both(edgeWatch), 10_000)]);

  const hubCaller = await connectNode({ ...RESILIENT, servers: topo.url("hub") });
  const edgeCaller = await connectNode({ ...RESILIENT, servers: topo.url("edge") });
  cleanup.add(() => hubCaller.close());
  cleanup.add(() => edgeCaller.close());
  const kv = await new Kvm(jetstream(hubCaller, { domain: HUB_DOMAIN })).create("chaos_partition");
  const acked: string[] = [];
  const proxy = topo.proxies.edge!;
  const cutAt = Date.now() + shape.durationMs / 4;
  let healedAt = 0;
  let healed: Promise<number> = Promise.resolve(0);
  let crossFailedFastMs = -1;
  let detectMs: number | undefined;
  setTimeout(() => {
    proxy.cut();
    void hubWatch.view.waitFor((v) => !v.has(edgeHost.id), shape.cutMs + 10_000).then(() => (detectMs = Date.now() - cutAt), () => undefined);
    setTimeout(() => {
      // A call that needs the other side, made during the cut, must fail fast.
      const t0 = Date.now();
      void invoke(edgeCaller, subjects, { target: "hub-echo", ...ECHO, args: ["x"], source: "chaos", deadline: t0 + 5_000 }).then(
        () => (crossFailedFastMs = -2),
        () => (crossFailedFastMs = Date.now() - t0),
      );
    }, 500);
    setTimeout(() => {
      proxy.heal();
      healedAt = Date.now();
      healed = until(() => both(hubWatch) && both(edgeWatch) && Date.now(), 30_000, "both views whole again");
    }, shape.cutMs);
  }, cutAt - Date.now());

  let n = 0;
  const [hubLoad, edgeLoad] = await Promise.all([
    steadyLoad(async (deadline) => {
      await callEcho(hubCaller, "hub-echo", deadline);
      const key = `k${n++}`;
      await kv.put(key, key);
      acked.push(key);
    }, shape.rate / 2, shape.durationMs, DEADLINE_MS),
    echoLoad(edgeCaller, "edge-echo", shape.rate / 2, shape),
  ]);
  const convergeMs = (await healed) - healedAt;
  let kept = 0;
  for (const key of acked) if ((await kv.get(key))?.string() === key) kept++;
  const load: LoadResult = {
    sent: hubLoad.sent + edgeLoad.sent,
    succeeded: hubLoad.succeeded + edgeLoad.succeeded,
    failed: hubLoad.failed + edgeLoad.failed,
    lost: hubLoad.lost + edgeLoad.lost,
    late: hubLoad.late + edgeLoad.late,
    errors: { ...hubLoad.errors, ...edgeLoad.errors },
  };
  return { scenario: `cut a leaf from the hub for ${shape.cutMs / 1000} s`, load, detectMs, convergeMs, crossFailedFastMs, kvWritesKept: kept === acked.length };
}
