/**
 * The policy hook: a host asks a policy service (or its rule file) before it starts an actor or
 * provider, routes an import over a link, or runs a call; refusals are `forbidden` with the
 * reason and a `policy_denied` event; decisions are cached; an unanswered service fails closed
 * (or open, when told).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../src/ctl/index.js";
import { evaluateRules, parsePolicyRules, type Host, type PolicyOptions } from "../src/host/index.js";
import { ArtifactStore } from "../src/nats/artifact-store.js";
import { LatticeState } from "../src/nats/lattice-state.js";
import type { NatsServer } from "../src/nats/node/index.js";
import { isLatticeError, type HostInfo, type LatticeError, type PolicyDenied, type PolicyReply, type PolicyRequest } from "../src/protocol/index.js";
import { CliProcess } from "./kit/cli.js";
import { watEcho, watNeedsImport, watThing } from "./kit/fixtures.js";
import { Cleanup, connection, host, natsServer } from "./kit/lattice.js";
import { until } from "./kit/poll.js";

/** The error a promise rejects with (fails the test if it resolves). */
async function refusal(p: Promise<unknown>): Promise<LatticeError> {
  try {
    const v = await p;
    assert.fail(`expected a refusal, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (isLatticeError(e)) return e;
    throw e;
  }
}

/** One lattice of the shared server: a client, its artifact store, and the policy_denied events seen. */
class Lattice {
  readonly client: LatticeClient;
  readonly store: ArtifactStore;
  readonly denied: PolicyDenied[] = [];

  constructor(
    readonly nc: NatsConnection,
    readonly name: string,
    cleanup: Cleanup,
  ) {
    const client = new LatticeClient(nc, name, { timeoutMs: 10_000 });
    this.client = client;
    this.store = new ArtifactStore(nc, name);
    const abort = new AbortController();
    cleanup.add(() => abort.abort());
    void (async () => {
      for await (const r of client.events(abort.signal)) if ("event" in r && r.event.type === "lattice.policy_denied") this.denied.push(r.event.data as PolicyDenied);
    })().catch(() => undefined);
  }

  /** Push `bytes` and run one instance on `hostId`. */
  async start(hostId: string, actorId: string, bytes: Uint8Array): Promise<void> {
    await this.store.put({ name: actorId, version: "1" }, bytes);
    await this.client.scaleOnHost(hostId, { actorId, ref: `${actorId}:1`, instances: 1 });
  }
}

describe("policy rules", () => {
  const host = { id: "NB", name: "edge-1", labels: { region: "eu-west" } };
  const rules = parsePolicyRules(
    JSON.stringify({
      rules: [
        { effect: "deny", action: "invoke", source: ["cli", "test-?"], reason: "no CLI calls" },
        { effect: "allow", action: ["invoke", "link"], target: "api-*", labels: { region: "eu-*" } },
        { effect: "allow", action: "start", issuer: "A*" },
        { effect: "allow", action: "invoke", signed: "true" },
      ],
    }),
    "p.json",
  );

  it("first match wins, fields are globs or lists of globs, a missing field matches nothing, the default denies", () => {
    const invoke = (source: string, target: string, signer?: string) => evaluateRules(rules, { action: "invoke", host, source, target, interface: "a:b/c", function: "f", ...(signer ? { signer } : {}) });
    assert.deepEqual(invoke("cli", "api-x"), { allow: false, reason: "no CLI calls" });
    assert.equal(invoke("test-1", "api-x").allow, false);
    assert.deepEqual(invoke("test-12", "api-x"), { allow: true, reason: "rule 2 of p.json (allow)" });
    assert.deepEqual(invoke("web", "db"), { allow: false, reason: "no rule of p.json allows it (default deny)" });
    assert.equal(invoke("web", "db", "NSIGNER").allow, true, "signed calls are allowed");
    assert.equal(evaluateRules(rules, { action: "start", host, kind: "actor", target: "x", ref: "x:1" }).allow, false, "unsigned: no issuer to match");
    const claims = { issuer: `A${"B".repeat(55)}`, subject: `M${"C".repeat(55)}`, name: "x", caps: [] };
    assert.equal(evaluateRules(rules, { action: "start", host, kind: "actor", target: "x", ref: "x:1", claims }).allow, true);
    assert.equal(evaluateRules(rules, { action: "link", host: { ...host, labels: { region: "us" } }, source: "s", target: "api-1" }).allow, false);
  });

  it("refuses unknown fields and bad effects, naming where", () => {
    assert.throws(() => parsePolicyRules("rules:\n  - effect: deny\n    target: [a]\n    tagret: b\n", "p.yaml"), /invalid p\.yaml: \/rules\/0\/tagret/);
    assert.throws(() => parsePolicyRules('{"rules":[{"effect":"maybe"}]}', "p.json"), /invalid p\.json: \/rules\/0\/effect/);
    assert.throws(() => parsePolicyRules("rules: [", "p.yaml"), /p\.yaml is not valid YAML or JSON/);
  });
});

describe("policy", () => {
  const cleanup = new Cleanup();
  let nats: NatsServer;
  let nc: NatsConnection;
  const policyHost = (lattice: string, policy: PolicyOptions): Promise<Host> => host(cleanup, nats.clientUrl, { lattice, name: lattice, policy });

  before(async () => {
    nats = await natsServer(cleanup, { jetstream: {} });
    nc = await connection(cleanup, nats.clientUrl);
  });
  after(cleanup.run);

  it("a policy service denies starting one actor with its reason, allows another, and is asked once for many calls", async () => {
    const asked: PolicyRequest[] = [];
    nc.subscribe("policy.svc", {
      callback: (_err, msg) => {
        const q = msg.json<PolicyRequest>();
        asked.push(q);
        const deny = q.action === "start" && q.target === "blocked";
        const reply: PolicyReply = deny ? { allow: false, reason: "blocked is on the deny list" } : { allow: true };
        msg.respond(JSON.stringify(reply));
      },
    });
    await nc.flush();
    const l = new Lattice(nc, "pol-svc", cleanup);
    const h = await policyHost("pol-svc", { subject: "policy.svc" });

    const e = await refusal(l.start(h.id, "blocked", await watEcho()));
    assert.equal(e.code, "forbidden");
    assert.equal(e.message, "actor blocked refused by policy: blocked is on the deny list");
    await until(() => l.denied.find((d) => d.target === "blocked"), 5_000, "the policy_denied event");
    assert.deepEqual(l.denied[0], { hostId: h.id, action: "start", kind: "actor", target: "blocked", ref: "blocked:1", reason: "blocked is on the deny list" });
    assert.deepEqual((await l.client.inventory(h.id)).actors, [], "nothing refused runs");

    await l.start(h.id, "echo", await watEcho());
    const startQ = asked.find((q) => q.action === "start" && q.target === "echo");
    assert.ok(startQ, "the start was asked about");
    assert.equal(startQ.kind, "actor");
    assert.match(startQ.digest ?? "", /^sha256:/);
    assert.deepEqual(startQ.host, { id: h.id, name: "pol-svc", labels: {} });

    // 50 calls, 10 at a time: one question, the rest from the cache.
    for (let i = 0; i < 5; i++) {
      const r = await Promise.all(Array.from({ length: 10 }, (_, j) => l.client.call("echo", "acme:demo/echo", "echo", [`${i}.${j}`], { source: "tester" })));
      assert.equal(r[9], `${i}.9`);
    }
    const invokes = asked.filter((q) => q.action === "invoke");
    assert.deepEqual(invokes, [{ action: "invoke", host: startQ.host, source: "tester", target: "echo", interface: "acme:demo/echo", function: "echo" }]);
    assert.ok(h.policyStats.cached >= 49, JSON.stringify(h.policyStats));
    assert.equal(h.policyStats.denied, 1);
  });

  it("an unreachable policy service denies when failing closed, with a clear reason, and allows when failing open", async () => {
    const closed = new Lattice(nc, "pol-closed", cleanup);
    const hc = await policyHost("pol-closed", { subject: "policy.nobody", fail: "closed" });
    const e = await refusal(closed.start(hc.id, "echo", await watEcho()));
    assert.equal(e.code, "forbidden");
    assert.equal(e.message, "actor echo refused by policy: no policy service answers on policy.nobody (policy fails closed)");
    await until(() => closed.denied.length > 0 || undefined, 5_000, "the policy_denied event");
    assert.equal(hc.policyStats.unanswered, 1);

    // A service that never answers: the timeout decides, here open.
    nc.subscribe("policy.silent", { callback: () => undefined });
    await nc.flush();
    const open = new Lattice(nc, "pol-open", cleanup);
    const ho = await policyHost("pol-open", { subject: "policy.silent", fail: "open", timeoutMs: 200 });
    await open.start(ho.id, "echo", await watEcho());
    assert.equal(await open.client.call("echo", "acme:demo/echo", "echo", ["through"]), "through");
    assert.ok(ho.policyStats.unanswered >= 1);
    assert.equal(ho.policyStats.denied, 0);
    assert.deepEqual(open.denied, []);
  });

  it("a rule file (lattice host --policy-file) denies calls from one source and an actor's use of a link", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lattice-policy-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "policy.yaml");
    writeFileSync(
      file,
      [
        "default: allow",
        "rules:",
        "  - effect: deny",
        "    action: invoke",
        "    source: intruder*",
        "    target: echo",
        "    reason: intruders may not call echo",
        "  - effect: deny",
        "    action: link",
        "    source: relay",
        "    interface: acme:nowhere/*",
        "    reason: relay may not reach nowhere",
        "  - effect: deny",
        "    action: start",
        "    kind: provider",
        "    reason: no providers on this host",
      ].join("\n"),
    );
    const p = new CliProcess(["host", "--nats-url", nats.clientUrl, "--lattice", "pol-rules", "--policy-file", file, "-o", "json", "--log-level", "warn"]);
    cleanup.add(() => p.stop("SIGKILL"));
    const [ready] = await p.jsonLines<{ host: HostInfo }>(1);
    const hostId = ready!.host.id;
    const l = new Lattice(nc, "pol-rules", cleanup);

    await l.start(hostId, "echo", await watEcho());
    assert.equal(await l.client.call("echo", "acme:demo/echo", "echo", ["hi"], { source: "friend" }), "hi");
    const e = await refusal(l.client.call("echo", "acme:demo/echo", "echo", ["hi"], { source: "intruder-1" }));
    assert.equal(e.code, "forbidden");
    assert.equal(e.message, "call of echo acme:demo/echo.echo by intruder-1 refused by policy: intruders may not call echo");

    await l.start(hostId, "relay", await watNeedsImport());
    await l.start(hostId, "thing", await watThing(7));
    assert.equal(await l.client.call("thing", "acme:nowhere/thing", "ping", []), 7, "thing itself may be called");
    await new LatticeState(nc, "pol-rules").putLink({ source: "relay", target: "thing", interface: "acme:nowhere/thing", name: "default", config: [] });
    const link = await until(
      async () => {
        const r = await refusal(l.client.call("relay", "acme:demo/relay", "call", []));
        return r.message.includes("policy") ? r : undefined;
      },
      10_000,
      "the link to reach the host and be refused",
    );
    assert.equal(link.code, "forbidden");
    assert.match(link.message, /link relay -> thing \(acme:nowhere\/thing, default\) refused by policy: relay may not reach nowhere/);

    const prov = await refusal(l.client.startProviderOn(hostId, { providerId: "kv", ref: "keyvalue" }));
    assert.equal(prov.code, "forbidden");
    assert.equal(prov.message, "provider kv refused by policy: no providers on this host");

    await until(() => ["invoke", "link", "start"].every((a) => l.denied.some((d) => d.action === a)) || undefined, 5_000, "policy_denied for each refusal");
    const inv = l.denied.find((d) => d.action === "invoke");
    assert.deepEqual(inv, { hostId, action: "invoke", source: "intruder-1", target: "echo", interface: "acme:demo/echo", function: "echo", reason: "intruders may not call echo" });
    assert.match(p.stderr, /WARN +policy denied .*"reason":"intruders may not call echo"/);
  });

  it("a malformed rule file stops the host from starting, naming the problem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lattice-policy-"));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ rules: [{ effect: "deny", sourse: "x" }] }));
    const p = new CliProcess(["host", "--nats-url", nats.clientUrl, "--lattice", "pol-bad", "--policy-file", file]);
    cleanup.add(() => p.stop("SIGKILL"));
    const code = await new Promise<number | null>((r) => p.child.once("exit", (c) => r(c)));
    assert.equal(code, 1);
    assert.match(p.stderr, /bad\.json.*\/rules\/0/);
  });
});
