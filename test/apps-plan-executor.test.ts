/** The executor of reconciler plans, with fake control and state clients: no NATS. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { planApp, type AppPlan } from "../src/apps/app-plan.js";
import { Executor, LeaseLost, type ExecutorOptions } from "../src/apps/executor.js";
import { silentLogger } from "../src/protocol/logging.js";
import { ErrorCode, LatticeError, type AppStatus, type HostInventory, type Manifest } from "../src/protocol/index.js";

const AT = "2026-12-01T00:00:00.000Z";
function host(name: string): HostInventory {
  return { host: { id: `N${name.padEnd(55, "2")}`, name, lattice: "t", labels: {}, version: "0", startedAt: AT, heartbeatMs: 1000, uptimeSeconds: 1 }, actors: [], providers: [] };
}
const HOSTS = [host("A")];
const MANIFEST: Manifest = {
  name: "app",
  version: "v1",
  components: [
    { id: "kv", provider: "keyvalue" },
    { id: "counter", actor: "counter:1.0" },
  ],
  links: [{ source: "counter", target: "kv", interface: "wasi:keyvalue", config: { bucket: "b" } }],
};

/** `manifest` null: the app is undeployed. */
function plan(executor: Executor, manifest: Manifest | null = MANIFEST, previous?: AppStatus): Promise<AppPlan> {
  return planApp({
    record: { name: "app", deployed: manifest ? "v1" : null, versions: ["v1"], updatedAt: AT },
    manifest: manifest ?? undefined,
    previous,
    others: [],
    hosts: HOSTS,
    links: [],
    configs: [],
    refused: (id, ref) => executor.refused("app", id, ref),
    reconciler: "R",
    now: new Date(AT),
  });
}

/** An executor whose operations are logged in `calls`; `fail` makes the named ones throw. */
function fake(fail: Record<string, Error> = {}, leading: () => boolean = () => true) {
  const calls: string[] = [];
  const op = (name: string) => () => {
    calls.push(name);
    const e = fail[name];
    return e ? Promise.reject(e) : Promise.resolve(undefined as never);
  };
  const options: ExecutorOptions = {
    client: { scaleOnHost: op("scale"), startProviderOn: op("start provider"), stopProviderOn: op("stop provider on"), stopActor: op("stop actor"), stopProvider: op("stop provider") },
    state: { putConfig: op("put config"), deleteConfig: op("delete config"), putLink: op("put link"), deleteLink: op("delete link") },
    leading,
    writeStatus: (s) => {
      calls.push(`status ${s.owned.actors.join(",")}`);
      return Promise.resolve();
    },
    forget: op("forget"),
    log: silentLogger,
    stats: { operations: 0, failures: 0 },
  };
  return { calls, options, executor: new Executor(options) };
}

describe("app plan executor", () => {
  it("runs the phases in order: claim, configs, providers, actors, links", async () => {
    const { calls, executor, options } = fake();
    assert.equal(await executor.execute(await plan(executor)), false);
    assert.deepEqual(calls, ["status counter", "put config", "start provider", "scale", "put link"]);
    assert.equal(options.stats.operations, 4);
  });

  it("checks the lease before each command: none follows once it has run out", async () => {
    let left = 2;
    const { calls, executor } = fake({}, () => left-- > 0);
    await assert.rejects(executor.execute(await plan(executor)), LeaseLost);
    assert.deepEqual(calls, ["status counter", "put config", "start provider"]);
  });

  it("holds a failing command back with backoff, and says so in the status", async () => {
    const { calls, executor } = fake({ "put link": new Error("boom") });
    const first = await plan(executor);
    await executor.execute(first);
    assert.deepEqual(first.draft.status.reasons, ["link counter to kv on wasi:keyvalue (default): boom"]);
    calls.length = 0;
    const second = await plan(executor);
    await executor.execute(second);
    assert.equal(calls.includes("put link"), false);
    assert.match(second.draft.status.reasons[0]!, /^link counter to kv on wasi:keyvalue \(default\): boom \(next try in 1 s\)$/);
  });

  it("leaves a host that refused a start out of the next plan, and the status says why", async () => {
    const { executor } = fake({ scale: new LatticeError(ErrorCode.Forbidden, "actor counter refused by policy") });
    await executor.execute(await plan(executor));
    executor.forgetOldRefusals();
    assert.deepEqual([...executor.refused("app", "counter", "counter:1.0")], [[HOSTS[0]!.host.id, "forbidden: actor counter refused by policy"]]);
    const next = await plan(executor);
    assert.deepEqual(next.phases.flatMap((p) => p.steps.flat()).filter((c) => c.kind === "scale-actor"), []);
    assert.deepEqual(next.draft.components.find((c) => c.component.id === "counter")!.plan.skipped, ["host A skipped: forbidden: actor counter refused by policy"]);
  });

  it("forgets an undeployed app only once it owns nothing", async () => {
    const previous: AppStatus = {
      name: "app",
      version: "v1",
      phase: "deployed",
      reasons: [],
      components: [],
      owned: { actors: [], providers: [], links: [], configs: ["app-0000abcd"] },
      reconciler: "R",
      updatedAt: AT,
    };
    const failing = fake({ "delete config": new Error("down") });
    assert.equal(await failing.executor.execute(await plan(failing.executor, null, previous)), false);
    assert.equal(failing.calls.includes("forget"), false);
    const ok = fake();
    assert.equal(await ok.executor.execute(await plan(ok.executor, null, previous)), true);
    assert.deepEqual(ok.calls, ["delete config", "forget"]);
  });
});
