// What a rule-file policy costs the invocation path: one host per lattice, each running the WAT
// echo actor (2 instances), called with 100 calls in flight and one at a time; no policy, a rule
// file with its decisions cached (the default), and the same rules evaluated on every call
// (cache TTL 0). Runs interleave, in a rotating order, 4 rounds; medians are printed. Then the CPU
// cost of one decision alone, cached and evaluated, in a tight loop.
// Usage: npm run build && node scripts/policy-overhead.mjs
import { NodeActorRuntime } from "../dist/src/actor/node-runtime.js";
import { LatticeClient } from "../dist/src/ctl/index.js";
import { Host, PolicyGate, parsePolicyRules, silentLogger } from "../dist/src/host/index.js";
import { ArtifactStore } from "../dist/src/nats/artifact-store.js";
import { connectNode, startNatsServer } from "../dist/src/nats/node/index.js";
import { watEcho } from "../dist/test/kit/fixtures.js";

const TOTAL = Number(process.env.CALLS ?? 20_000);
const SEQUENTIAL = 2_000;
// 20 rules that do not match the calls, then the default: the evaluator's worst case.
const rules = parsePolicyRules(
  JSON.stringify({
    default: "allow",
    rules: Array.from({ length: 20 }, (_, i) => ({ effect: "deny", action: "invoke", source: `other-${i}-*`, target: "echo", reason: "no" })),
  }),
  "bench-rules",
);
const setups = { none: undefined, rules: { rules }, "rules, no cache": { rules, cacheTtlMs: 0 } };

const nats = await startNatsServer({ jetstream: {} });
const nc = await connectNode({ servers: nats.clientUrl });
const hosts = [];
const clients = {};
try {
  for (const [i, [name, policy]] of Object.entries(setups).entries()) {
    const lattice = `bench-${i}`;
    const h = new Host({ servers: nats.clientUrl, connect: connectNode, lattice, actors: new NodeActorRuntime(silentLogger), policy });
    await h.start();
    hosts.push(h);
    await new ArtifactStore(nc, lattice).put({ name: "echo", version: "1" }, await watEcho());
    const client = new LatticeClient(nc, lattice, { timeoutMs: 10_000 });
    await client.scaleOnHost(h.id, { actorId: "echo", ref: "echo:1", instances: 2 });
    clients[name] = client;
  }
  const results = Object.fromEntries(Object.keys(setups).map((k) => [k, { rates: [], medians: [] }]));
  const ROUNDS = 4;
  const names = Object.keys(clients);
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of [...names.slice(round % names.length), ...names.slice(0, round % names.length)]) {
      const client = clients[name];
      const call = () => client.call("echo", "acme:demo/echo", "echo", ["x".repeat(100)], { source: "bench" });
      for (let i = 0; i < 300; i++) await call();
      const lat = [];
      for (let i = 0; i < SEQUENTIAL; i++) {
        const t0 = performance.now();
        await call();
        lat.push((performance.now() - t0) * 1000);
      }
      let sent = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 100 }, async () => { while (sent++ < TOTAL) await call(); }));
      results[name].rates.push(Math.round(TOTAL / ((performance.now() - t0) / 1000)));
      results[name].medians.push(Math.round(lat.sort((a, b) => a - b)[lat.length >> 1]));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(16)} calls/s median ${median(r.rates)} (${r.rates.join(" / ")})   one at a time median ${median(r.medians)} µs (${r.medians.join(" / ")})`);
  }
  console.log("policy stats:", hosts.map((h) => JSON.stringify(h.policyStats)).join(" "));

  // One decision's CPU, as the invocation server's hook asks it (question built per call).
  for (const [name, ttl] of [["cached", 10_000], ["evaluated", 0]]) {
    const gate = new PolicyGate({ rules, cacheTtlMs: ttl }, { nc, host: { id: hosts[0].id, name: "h", labels: {} }, log: silentLogger, denied: () => undefined });
    const N = 200_000;
    let t0 = 0;
    for (let i = 0; i < N * 2; i++) {
      if (i === N) t0 = performance.now();
      const r = gate.check({ action: "invoke", source: "bench", target: "echo", interface: "acme:demo/echo", function: "echo" }, () => "x");
      if (r instanceof Promise) await r;
    }
    console.log(`one decision, ${name}: ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs`);
  }
} finally {
  for (const h of hosts) await h.stop();
  await nc.close();
  await nats.stop();
}
