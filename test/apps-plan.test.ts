/** The reconciler's planner, rule by rule of docs/apps.md ("How it converges"): pure, no NATS. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { finishStatus, mayForget, planApp, recordOutcome, type AppPlan, type Command, type PlanInput } from "../src/apps/app-plan.js";
import { specOf } from "../src/apps/desired.js";
import type { AppStatus, ComponentStatus, HostInventory, Manifest, ManifestComponent, OwnedResources } from "../src/protocol/index.js";

const id = (name: string) => `N${name.padEnd(55, "2")}`;
const named = (hostId: string) => hostId.slice(1).replace(/2+$/, "");

interface HostSpec {
  labels?: Record<string, string>;
  actors?: Record<string, number | { n: number; ref: string }>;
  providers?: Record<string, string>;
}
function host(name: string, h: HostSpec = {}): HostInventory {
  const at = "2026-12-01T00:00:00.000Z";
  return {
    host: { id: id(name), name, lattice: "t", labels: h.labels ?? {}, version: "0", startedAt: at, heartbeatMs: 1000, uptimeSeconds: 1 },
    actors: Object.entries(h.actors ?? {}).map(([a, v]) => ({
      id: a,
      ref: typeof v === "number" ? "counter:1.0" : v.ref,
      digest: "sha256:0",
      instances: typeof v === "number" ? v : v.n,
      startedAt: at,
      constraints: {},
    })),
    providers: Object.entries(h.providers ?? {}).map(([p, ref]) => ({ id: p, ref, state: "running" as const, restarts: 0, startedAt: at, health: { healthy: true, message: "", at } })),
  };
}

const COUNTER: ManifestComponent = { id: "counter", actor: "counter:1.0", placement: { spread: { instances: 2 } } };
const KV: ManifestComponent = { id: "kv", provider: "keyvalue" };
const LINK = { source: "counter", target: "kv", interface: "wasi:keyvalue" };
function manifest(components: ManifestComponent[], links: Manifest["links"] = []): Manifest {
  return { name: "app", version: "v1", components, links };
}
const NOTHING: OwnedResources = { actors: [], providers: [], links: [], configs: [] };

/** The last status, as a pass that applied `components` (at their current specs) left it. */
async function applied(owned: Partial<OwnedResources>, components: ManifestComponent[] = []): Promise<AppStatus> {
  const statuses: ComponentStatus[] = [];
  for (const c of components) {
    const ref = c.actor ?? c.provider!;
    statuses.push({ id: c.id, kind: c.actor ? "actor" : "provider", ref, spec: await specOf(ref, c.config), desired: {}, running: {}, reasons: [] });
  }
  return { name: "app", version: "v1", phase: "deployed", reasons: [], components: statuses, owned: { ...NOTHING, ...owned }, reconciler: "R", updatedAt: "2026-12-01T00:00:00.000Z" };
}

function plan(i: Input): Promise<AppPlan> {
  return planApp({
    record: { name: "app", deployed: i.manifest ? "v1" : null, versions: ["v1"], updatedAt: "2026-12-01T00:00:00.000Z" },
    previous: undefined,
    others: [],
    hosts: [],
    links: [],
    configs: [],
    refused: () => new Map(),
    reconciler: "R",
    now: new Date("2026-12-01T00:00:00.000Z"),
    ...i,
  });
}

/** A command in a line: its kind and what it applies to, host names short. */
function show(c: Command): string {
  switch (c.kind) {
    case "claim":
      return `claim ${[...c.status.owned.actors, ...c.status.owned.providers].join(",")}`;
    case "scale-actor":
      return `scale ${c.component}@${named(c.hostId)}=${c.request.instances}${c.request.ref === "counter:1.0" ? "" : ` ${c.request.ref}`}`;
    case "start-provider":
      return `${c.restart ? "restart" : "start"} ${c.component}@${named(c.hostId)}`;
    case "stop-provider-on":
      return `stop ${c.component}@${named(c.hostId)}`;
    case "put-config":
    case "remove-config":
      return `${c.kind} ${c.name.replace(/[0-9a-f]{8}$/, "*")}`;
    case "put-link":
      return `link ${c.link.source}->${c.link.target}`;
    case "unlink":
      return `unlink ${c.link.source}`;
    case "stop-actor":
    case "stop-provider":
      return `${c.kind} ${c.id}`;
    case "forget":
      return "forget";
  }
}
/** Phase name → steps, each step's commands joined by " & ". Empty phases left out. */
function phases(p: AppPlan): Record<string, string[]> {
  return Object.fromEntries(p.phases.filter((ph) => ph.steps.length > 0).map((ph) => [ph.name, ph.steps.map((s) => s.map(show).join(" & "))]));
}

type Input = Partial<PlanInput> & { manifest: Manifest | undefined };
interface Case {
  rule: string;
  input: () => Input | Promise<Input>;
  phases: Record<string, string[]>;
}

const A = host("A");
const B = host("B");

const cases: Case[] = [
  {
    rule: "claim: what a pass is about to create is recorded first; configs, then providers, then actors come up; links after",
    input: () => ({ manifest: manifest([COUNTER, KV], [{ ...LINK, config: { bucket: "b" } }]), hosts: [A, B] }),
    phases: {
      claim: ["claim counter,kv"],
      up: ["put-config app-*", "start kv@A", "scale counter@A=1 & scale counter@B=1"],
      relink: ["link counter->kv"],
    },
  },
  {
    rule: "claim: nothing new to own, no claim written; what runs as planned is left alone",
    input: async () => ({
      manifest: manifest([COUNTER, KV], [LINK]),
      previous: await applied({ actors: ["counter"], providers: ["kv"], links: [{ source: "counter", interface: "wasi:keyvalue", name: "default" }] }, [COUNTER, KV]),
      hosts: [host("A", { actors: { counter: 1 }, providers: { kv: "keyvalue" } }), host("B", { actors: { counter: 1 } })],
      links: [{ ...LINK, name: "default", config: [], updatedAt: "" }],
    }),
    phases: {},
  },
  {
    rule: "placement keeps what runs: after a host loss only the lost instances start elsewhere",
    input: async () => ({
      manifest: manifest([{ ...COUNTER, placement: { spread: { instances: 3 } } }]),
      previous: await applied({ actors: ["counter"] }, [COUNTER]),
      hosts: [host("A", { actors: { counter: 2 } }), host("C")],
    }),
    phases: { up: ["scale counter@C=1"] },
  },
  {
    rule: "nothing is moved when a host joins, except daemon components, which start on it",
    input: async () => ({
      manifest: manifest([COUNTER, { ...KV, placement: { daemon: {} } }]),
      previous: await applied({ actors: ["counter"], providers: ["kv"] }, [COUNTER, KV]),
      hosts: [host("A", { actors: { counter: 1 }, providers: { kv: "keyvalue" } }), host("B", { actors: { counter: 1 }, providers: { kv: "keyvalue" } }), host("NEW")],
    }),
    phases: { up: ["start kv@NEW"] },
  },
  {
    rule: "a new actor version replaces the old in place on each host (up), before hosts with more than planned scale down",
    input: async () => ({
      manifest: manifest([{ ...COUNTER, actor: "counter:2.0" }]),
      previous: await applied({ actors: ["counter"] }, [COUNTER]),
      hosts: [host("A", { actors: { counter: 1 } }), host("B", { actors: { counter: 1 } }), host("C", { actors: { counter: 1 } })],
    }),
    phases: { up: ["scale counter@B=1 counter:2.0 & scale counter@C=1 counter:2.0", "scale counter@A=0 counter:2.0"] },
  },
  {
    rule: "a new actor config re-applies it on every host that runs it",
    input: async () => ({
      manifest: manifest([{ ...COUNTER, config: { greeting: "hi" } }]),
      previous: await applied({ actors: ["counter"] }, [COUNTER]),
      hosts: [host("A", { actors: { counter: 1 } }), host("B", { actors: { counter: 1 } })],
    }),
    phases: { up: ["scale counter@A=1 & scale counter@B=1"] },
  },
  {
    rule: "a provider whose ref or config changes is restarted on each host (stop, then start)",
    input: async () => ({
      manifest: manifest([{ ...KV, config: { backend: "memory" } }]),
      previous: await applied({ providers: ["kv"] }, [KV]),
      hosts: [host("A", { providers: { kv: "keyvalue" } })],
    }),
    phases: { up: ["restart kv@A"] },
  },
  {
    rule: "a provider on a host the placement no longer wants is stopped there, after the starts",
    input: async () => ({
      manifest: manifest([{ ...KV, placement: { labels: { tier: "data" } } }]),
      previous: await applied({ providers: ["kv"] }, [KV]),
      hosts: [host("A", { providers: { kv: "keyvalue" } }), host("D", { labels: { tier: "data" } })],
    }),
    phases: { up: ["start kv@D", "stop kv@A"] },
  },
  {
    rule: "relink: a link pointing elsewhere is re-pointed; link config values become a named config written before",
    input: async () => ({
      manifest: manifest([COUNTER], [{ ...LINK, config: { bucket: "b" } }]),
      previous: await applied({ actors: ["counter"] }, [COUNTER]),
      hosts: [host("A", { actors: { counter: 1 } }), host("B", { actors: { counter: 1 } })],
      links: [{ ...LINK, target: "old", name: "default", config: [], updatedAt: "" }],
    }),
    phases: { claim: ["claim counter"], up: ["put-config app-*"], relink: ["link counter->kv"] },
  },
  {
    rule: "down: only after up and relink is what the app no longer declares removed: actors, providers, links, configs",
    input: async () => ({
      manifest: manifest([COUNTER]),
      previous: await applied({ actors: ["counter", "old"], providers: ["kv"], links: [{ source: "old", interface: "wasi:keyvalue", name: "default" }], configs: ["app-0000abcd"] }, [COUNTER]),
      hosts: [host("A", { actors: { old: 1 }, providers: { kv: "keyvalue" } })],
    }),
    phases: { up: ["scale counter@A=2"], down: ["stop-actor old", "stop-provider kv", "unlink old", "remove-config app-*"] },
  },
  {
    rule: "an actor or provider no inventory shows is forgotten without a stop",
    input: async () => ({ manifest: manifest([]), previous: await applied({ actors: ["old"], providers: ["kv"] }), hosts: [A] }),
    phases: {},
  },
  {
    rule: "undeploy: everything the app owns is removed, then the app is forgotten",
    input: async () => ({
      manifest: undefined,
      previous: await applied({ actors: ["counter"], links: [{ source: "counter", interface: "wasi:keyvalue", name: "default" }] }, [COUNTER]),
      hosts: [host("A", { actors: { counter: 1 } })],
    }),
    phases: { down: ["stop-actor counter", "unlink counter"], forget: ["forget"] },
  },
  {
    rule: "a component another app owns is not touched; links to a shared provider are the app's, the provider is not",
    input: async () => ({
      manifest: manifest([COUNTER, KV], [LINK]),
      others: [{ ...(await applied({ providers: ["kv"] })), name: "other" }],
      hosts: [host("A", { providers: { kv: "keyvalue" } }), B],
    }),
    phases: { claim: ["claim counter"], up: ["scale counter@A=1 & scale counter@B=1"], relink: ["link counter->kv"] },
  },
  {
    rule: "hosts that refused a component lately are passed over",
    input: () => ({ manifest: manifest([COUNTER]), hosts: [A, B, host("C")], refused: (c) => (c === "counter" ? new Map([[id("A"), "forbidden: policy"]]) : new Map()) }),
    phases: { claim: ["claim counter"], up: ["scale counter@B=1 & scale counter@C=1"] },
  },
];

describe("app planner: the ordering rules", () => {
  for (const c of cases) {
    it(c.rule, async () => {
      const p = await plan(await c.input());
      assert.deepEqual(phases(p), c.phases);
      assert.deepEqual(
        p.phases.map((ph) => ph.name),
        ["claim", "up", "relink", "down", "forget"],
      );
    });
  }
});

describe("app planner: the status draft", () => {
  const ok = { ok: true } as const;
  const commands = (p: AppPlan) => p.phases.flatMap((ph) => ph.steps.flat());

  it("is deployed when every command succeeded and runs what is desired", async () => {
    const p = await plan({ manifest: manifest([COUNTER]), hosts: [A, B] });
    for (const c of commands(p)) if (c.kind !== "claim") recordOutcome(p.draft, c, ok);
    const s = finishStatus(p.draft);
    assert.equal(s.phase, "deployed");
    assert.deepEqual(s.components[0]!.running, { [id("A")]: 1, [id("B")]: 1 });
    assert.equal(s.components[0]!.spec, await specOf("counter:1.0", undefined));
  });

  it("is reconciling while part of it does not run yet", async () => {
    const p = await plan({ manifest: manifest([COUNTER]), hosts: [A, B] });
    assert.equal(finishStatus(p.draft).phase, "reconciling");
  });

  it("is failed when an operation fails, with the reason; the last applied spec stays", async () => {
    const previous = await applied({ actors: ["counter"] }, [COUNTER]);
    const p = await plan({ manifest: manifest([{ ...COUNTER, actor: "counter:2.0" }]), previous, hosts: [host("A", { actors: { counter: 2 } })] });
    for (const c of commands(p)) recordOutcome(p.draft, c, { ok: false, reason: "run 2 of actor counter on host A: boom" });
    const s = finishStatus(p.draft);
    assert.equal(s.phase, "failed");
    assert.deepEqual(s.components[0]!.reasons, ["run 2 of actor counter on host A: boom"]);
    assert.equal(s.components[0]!.spec, previous.components[0]!.spec);
  });

  it("is unsatisfied when no host matches, with the reason", async () => {
    const p = await plan({ manifest: manifest([{ ...COUNTER, placement: { labels: { zone: "z" }, spread: { instances: 2 } } }]), hosts: [A] });
    const s = finishStatus(p.draft);
    assert.equal(s.phase, "unsatisfied");
    assert.deepEqual(s.components[0]!.reasons, ["2 instances unplaced: no host matches zone=z"]);
  });

  it("names skipped hosts, and is deployed once the other hosts run it all", async () => {
    const p = await plan({ manifest: manifest([{ ...COUNTER, placement: { daemon: {} } }]), hosts: [A, B], refused: () => new Map([[id("A"), "forbidden: policy"]]) });
    for (const c of commands(p)) if (c.kind !== "claim") recordOutcome(p.draft, c, ok);
    const s = finishStatus(p.draft);
    assert.equal(s.phase, "deployed");
    assert.deepEqual(s.components[0]!.reasons, ["host A skipped: forbidden: policy"]);
  });

  it("is failed when the deployed manifest is missing, or a component belongs to another app", async () => {
    const missing = await plan({ manifest: undefined, record: { name: "app", deployed: "v9", versions: [], updatedAt: "" } });
    assert.deepEqual(finishStatus(missing.draft).reasons, ["manifest of version v9 is missing from the app store"]);
    assert.equal(finishStatus(missing.draft).phase, "failed");
    const taken = await plan({ manifest: manifest([KV]), others: [{ ...(await applied({ providers: ["kv"] })), name: "other" }] });
    assert.deepEqual(finishStatus(taken.draft).reasons, ["component kv belongs to another app"]);
  });

  it("claims the union of what was owned and what is wanted; things leave owned once gone", async () => {
    const link = { source: "counter", interface: "wasi:keyvalue", name: "default" };
    const p = await plan({ manifest: manifest([KV]), previous: await applied({ actors: ["counter"], links: [link] }), hosts: [host("A", { actors: { counter: 1 } })] });
    const claim = p.phases[0]!.steps[0]![0]!;
    assert.equal(claim.kind, "claim");
    assert.deepEqual(claim.kind === "claim" && claim.status.owned, { actors: ["counter"], providers: ["kv"], links: [link], configs: [] });
    const down = p.phases.find((ph) => ph.name === "down")!.steps.flat();
    recordOutcome(p.draft, down.find((c) => c.kind === "stop-actor")!, ok);
    recordOutcome(p.draft, down.find((c) => c.kind === "unlink")!, { ok: false, reason: "unlink counter on wasi:keyvalue (default): boom" });
    // A stop that returned does not forget the actor (the next pass does once no inventory shows it); a failed unlink keeps the link.
    assert.deepEqual(p.draft.status.owned, { actors: ["counter"], providers: ["kv"], links: [link], configs: [] });
    recordOutcome(p.draft, down.find((c) => c.kind === "unlink")!, ok);
    assert.deepEqual(p.draft.status.owned.links, []);
  });

  it("undeploying: forgets the app only once it owns nothing", async () => {
    const p = await plan({ manifest: undefined, previous: await applied({ configs: ["app-0000abcd"] }) });
    assert.equal(finishStatus(p.draft).phase, "undeploying");
    assert.equal(mayForget(p.draft), false);
    recordOutcome(p.draft, p.phases.find((ph) => ph.name === "down")!.steps[0]![0]!, ok);
    assert.equal(mayForget(p.draft), true);
  });
});
