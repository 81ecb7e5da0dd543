/**
 * Fault scenarios with real nats-server and host processes, each under a steady call load that
 * counts every call. `npm run chaos` runs them at full length and prints the table; the tests
 * run them shorter and assert on the same figures.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Host } from "../src/host/index.js";
import { invoke } from "../src/nats/invocations.js";
import { RESILIENT } from "../src/nats/index.js";
import { connectNode } from "../src/nats/node.js";
import { Subjects, type HostInfo } from "../src/protocol/index.js";
import { CliProcess, runCli } from "../test/kit/cli.js";
import { watEcho } from "../test/kit/fixtures.js";
import { type Cleanup, natsServer } from "../test/kit/lattice.js";
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

async function echoFile(): Promise<string> {
  const file = join(tmpdir(), `lattice-chaos-${process.pid}-echo.wasm`);
  writeFileSync(file, await watEcho());
  return file;
}

async function hostProcess(cleanup: Cleanup, servers: string, name: string, heartbeatMs: number): Promise<{ proc: CliProcess; id: string }> {
  const proc = new CliProcess(["host", "--nats-url", servers, "--name", name, "--label", "role=worker", "--heartbeat", `${heartbeatMs}ms`, "-o", "json", "--log-level", "error"]);
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
  const load = await steadyLoad(
    (deadline) => invoke(caller, subjects, { target: "echo", ...ECHO, args: ["x"], source: "chaos", deadline, attemptTimeoutMs: 400 }),
    shape.rate,
    shape.durationMs,
    2_000,
  );
  await gone;
  return { scenario: "SIGKILL 1 of 3 hosts running the actor", load, detectMs };
}
