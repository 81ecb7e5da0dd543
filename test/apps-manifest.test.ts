/** App manifests and placement plans: pure, no NATS. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ManifestError, parseManifest, planComponent, weightedShares, type LatticeChecks } from "../src/apps/index.js";
import { isLatticeError, type HostAccepts, type HostInventory, type ManifestComponent } from "../src/protocol/index.js";
import { EXAMPLES_DIR } from "./kit/fixtures.js";

const VALID = `
name: shop
version: v1.2
components:
  - id: web
    provider: http-server
  - id: cart
    actor: cart:1.0
    config: { currency: EUR }
    placement:
      labels: { tier: app }
      spread:
        instances: 5
        weights: { region=eu: 60, region=us: 40 }
  - id: kv
    provider: keyvalue
    placement: { daemon: {} }
links:
  - { source: web, target: cart, interface: "wasi:http/incoming-handler", config: { address: "127.0.0.1:8080" } }
  - { source: cart, target: kv, interface: "wasi:keyvalue" }
`;

function problemsOf(text: string, checks: LatticeChecks = {}): ManifestError {
  try {
    parseManifest(text, "manifest", checks);
  } catch (e) {
    if (e instanceof ManifestError) return e;
    throw e;
  }
  assert.fail("manifest was accepted");
}

describe("app manifests", () => {
  it("parses a valid manifest", () => {
    const m = parseManifest(VALID);
    assert.equal(m.name, "shop");
    assert.equal(m.components[1]!.placement?.spread?.weights?.["region=eu"], 60);
    assert.equal(m.links?.[0]?.config?.address, "127.0.0.1:8080");
  });

  it("parses the example manifests in examples/apps", () => {
    for (const f of ["counter.yaml", "counter-v2.yaml"]) {
      const m = parseManifest(readFileSync(join(EXAMPLES_DIR, "apps", f), "utf8"), f);
      assert.equal(m.name, "counter", f);
    }
  });

  it("checks providers and artifacts against the lattice when asked to", () => {
    const text = "name: shop\nversion: v1\ncomponents:\n  - id: p\n    provider: nosuch\n  - id: m\n    provider: ./mine.mjs\n  - id: a\n    actor: cart:2\n  - id: b\n    actor: cart\n";
    assert.equal(parseManifest(text).name, "shop", "without checks nothing is looked up");
    const e = problemsOf(text, { builtinProviders: ["keyvalue"], artifacts: { lattice: "t", stored: [{ name: "cart", version: "1" }] } });
    assert.deepEqual(
      e.problems.map((p) => [p.line, p.path]),
      [
        [5, "components[0].provider"],
        [9, "components[2].actor"],
      ],
    );
    assert.match(e.problems[0]!.message, /^nosuch is neither a built-in provider \(keyvalue\) nor a provider module/);
    assert.equal(e.problems[1]!.message, "artifact cart:2 is not in lattice t's artifact store: push it first (`lattice push FILE --name cart:2`)");
  });

  it("lists every problem at once, each with its path and line", () => {
    const e = problemsOf(`
name: Bad_Name
version: v1
components:
  - id: a
    actor: thing:1
    provider: keyvalue
  - id: a
    actor: other:1
    placement:
      spread: { instances: 2, weights: { "nolabel": 1 } }
      daemon: {}
  - id: p
    provider: keyvalue
    placement: { daemon: { instances: 2 } }
links:
  - { source: a, target: p, interface: "wasi:keyvalue" }
  - { source: a, target: p, interface: "wasi:keyvalue" }
`);
    // The schema is checked first: the bad name and the bad selector are schema problems.
    assert.ok(e.problems.some((p) => p.path === "name" && p.line === 2), JSON.stringify(e.problems));
    assert.ok(e.problems.some((p) => p.path.startsWith("components[1].placement.spread.weights")), JSON.stringify(e.problems));

    const semantic = problemsOf(`
name: bad
version: v1
components:
  - id: a
    actor: thing:1
    provider: keyvalue
  - id: a
    actor: other:1
    placement:
      spread: { instances: 2 }
      daemon: {}
  - id: p
    provider: keyvalue
    placement: { daemon: { instances: 2 } }
links:
  - { source: a, target: p, interface: "wasi:keyvalue" }
  - { source: a, target: p, interface: "wasi:keyvalue" }
`);
    const got = semantic.problems.map((p) => `${p.line}:${p.path}`);
    assert.deepEqual(got, ["5:components[0]", "8:components[1].id", "10:components[1].placement", "15:components[2].placement.daemon.instances", "18:links[1]"]);
    assert.match(semantic.message, /exactly one of `actor`/);
    assert.match(semantic.message, /id a is also used by components\[0\]/);
    assert.deepEqual((semantic.toWire().payload as { problems: unknown[] }).problems.length, 5);
  });

  it("refuses YAML syntax errors, duplicate keys and oversized files with a line", () => {
    const syntax = problemsOf("name: x\ncomponents: [\n");
    assert.ok(syntax.problems[0]!.line !== undefined);
    const dup = problemsOf("name: a\nname: b\nversion: v1\ncomponents: []\n");
    assert.match(dup.problems[0]!.message, /unique|duplicate/i);
    const big = problemsOf(`name: a\ndescription: "${"x".repeat(300 * 1024)}"\n`);
    assert.match(big.problems[0]!.message, /over the limit/);
  });

  it("survives 10,000 random and mutated manifests with only ManifestErrors", () => {
    const mutate = fc.tuple(fc.nat(VALID.length), fc.nat(40), fc.string({ maxLength: 20 })).map(([at, cut, insert]) => VALID.slice(0, at) + insert + VALID.slice(at + cut));
    fc.assert(
      fc.property(fc.oneof(mutate, fc.string({ maxLength: 300 }), fc.json().map((j) => j)), (text) => {
        try {
          parseManifest(text);
        } catch (e) {
          if (!(e instanceof ManifestError) || !isLatticeError(e) || e.problems.length === 0) throw e;
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

function inv(id: string, labels: Record<string, string>, actors: Record<string, number> = {}, providers: string[] = [], accepts?: HostAccepts): HostInventory {
  const hostId = `N${id.padEnd(55, "2")}`;
  return {
    host: { id: hostId, name: id, lattice: "t", labels, version: "0", startedAt: new Date().toISOString(), heartbeatMs: 1000, uptimeSeconds: 1, ...(accepts ? { accepts } : {}) },
    actors: Object.entries(actors).map(([a, n]) => ({ id: a, ref: "x:1", digest: "sha256:0", instances: n, startedAt: new Date().toISOString(), constraints: {} })),
    providers: providers.map((p) => ({ id: p, ref: "keyvalue", state: "running" as const, restarts: 0, startedAt: new Date().toISOString(), health: { healthy: true, message: "", at: new Date().toISOString() } })),
  };
}
const byName = (plan: Map<string, number>) => Object.fromEntries([...plan].map(([h, n]) => [h.slice(1).replace(/2+$/, ""), n]));

describe("placement plans", () => {
  const actor = (placement: ManifestComponent["placement"]): ManifestComponent => ({ id: "cart", actor: "cart:1", placement });

  it("splits a spread by weight with the largest remainder", () => {
    assert.deepEqual(weightedShares({ "region=eu": 60, "region=us": 40 }, 5).map((s) => s.instances), [3, 2]);
    assert.deepEqual(weightedShares({ "a=1": 1, "b=1": 1, "c=1": 1 }, 2).map((s) => s.instances), [1, 1, 0]);
  });

  it("places weighted shares on the hosts that match them, and keeps what runs", () => {
    const hosts = [inv("EU", { region: "eu" }, { cart: 1 }), inv("EUB", { region: "eu" }), inv("US", { region: "us" })];
    const p = planComponent(actor({ spread: { instances: 5, weights: { "region=eu": 60, "region=us": 40 } } }), hosts);
    assert.deepEqual(byName(p.desired), { EU: 2, EUB: 1, US: 2 });
    assert.deepEqual(p.reasons, []);
  });

  it("says why a share cannot be placed", () => {
    const p = planComponent(actor({ labels: { tier: "app" }, spread: { instances: 2, weights: { "region=ap": 1 } } }), [inv("EU", { region: "eu", tier: "app" })]);
    assert.equal(p.desired.size, 0);
    assert.match(p.reasons[0]!, /2 instances unplaced: no host matches tier=app,region=ap/);
  });

  it("runs a daemon on every matching host", () => {
    const hosts = [inv("A", { edge: "yes" }), inv("B", { edge: "yes" }), inv("C", {})];
    assert.deepEqual(byName(planComponent(actor({ labels: { edge: "yes" }, daemon: { instances: 2 } }), hosts).desired), { A: 2, B: 2 });
    assert.deepEqual(byName(planComponent({ id: "kv", provider: "keyvalue", placement: { daemon: {} } }, hosts).desired), { A: 1, B: 1, C: 1 });
  });

  it("passes over hosts that refuse, by what they advertise or as they answered, and says so", () => {
    const issuer = `A${"B".repeat(55)}`;
    const strict = inv("STRICT", {}, {}, [], { actors: true, providers: true, issuers: [issuer] });
    const bare = inv("BARE", {}, {}, [], { actors: false, providers: false });
    // Until some host runs cart:1, nobody knows it is unsigned: the strict host may still take it.
    assert.deepEqual(byName(planComponent(actor({ spread: { instances: 2 } }), [strict, bare, inv("A", {})]).desired), { STRICT: 1, A: 1 });
    const runs = inv("A", {}, { cart: 1 });
    runs.actors[0]!.ref = "cart:1";
    const p = planComponent(actor({ spread: { instances: 2 } }), [strict, bare, runs]);
    assert.deepEqual(byName(p.desired), { A: 2 });
    assert.deepEqual(p.reasons, []);
    assert.deepEqual(p.skipped, ["host STRICT skipped: it runs only actors signed by ABBBBBBB…, and cart:1 is unsigned", "host BARE skipped: it runs no actors"]);

    const a = inv("A", {});
    const refused = planComponent(actor({ daemon: {} }), [a, inv("B", {})], new Map([[a.host.id, "forbidden: actor cart refused by policy: no"]]));
    assert.deepEqual(byName(refused.desired), { B: 1 });
    assert.deepEqual(refused.skipped, ["host A skipped: forbidden: actor cart refused by policy: no"]);

    const none = planComponent(actor({ spread: { instances: 1 } }), [bare]);
    assert.deepEqual(none.reasons, ["1 instance unplaced: every host refuses it"]);
    const kv = planComponent({ id: "kv", provider: "keyvalue", placement: { spread: { instances: 2 } } }, [bare, inv("A", {})]);
    assert.deepEqual(byName(kv.desired), { A: 1 });
    assert.deepEqual(kv.reasons, ["wants 2 hosts, the lattice has 2, 1 of them takes it"]);
    assert.deepEqual(kv.skipped, ["host BARE skipped: it supervises no providers"]);
  });

  it("keeps a spread provider where it runs and reports too few hosts", () => {
    const hosts = [inv("A", {}), inv("B", {}, {}, ["kv"])];
    assert.deepEqual(byName(planComponent({ id: "kv", provider: "keyvalue" }, hosts).desired), { B: 1 });
    const p = planComponent({ id: "kv", provider: "keyvalue", placement: { spread: { instances: 3 } } }, hosts);
    assert.equal(p.desired.size, 2);
    assert.match(p.reasons[0]!, /wants 3 hosts, the lattice has 2/);
  });
});
