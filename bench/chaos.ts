/**
 * `npm run chaos`: the fault scenarios at full length, one after another, then a table (markdown,
 * as docs/reliability.md shows it) and the raw figures as JSON in bench/results/chaos.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Cleanup } from "../test/kit/lattice.js";
import { hostKill, partition, reconcilerKill, serverKill, type ScenarioResult } from "./chaos-scenarios.js";

const shape = { rate: 200, durationMs: 20_000, heartbeatMs: 1_000 };
const runs: Array<() => Promise<ScenarioResult>> = [
  () => withCleanup((c) => hostKill(c, shape)),
  () => withCleanup((c) => serverKill(c, shape)),
  () => withCleanup((c) => partition(c, { ...shape, cutMs: 10_000 })),
  () => withCleanup((c) => reconcilerKill(c, shape)),
];

async function withCleanup<T>(fn: (c: Cleanup) => Promise<T>): Promise<T> {
  const c = new Cleanup();
  try {
    return await fn(c);
  } finally {
    await c.run();
  }
}

const results: ScenarioResult[] = [];
for (const run of runs) {
  const r = await run();
  results.push(r);
  process.stderr.write(`${r.scenario}: ${JSON.stringify(r.load)}\n`);
}

const ms = (x: number | undefined) => (x === undefined ? "-" : `${(x / 1000).toFixed(2)} s`);
const lines = [
  `Load: ${shape.rate} calls/s for ${shape.durationMs / 1000} s, deadline 2 s, retry after 400 ms without an answer; heartbeat ${shape.heartbeatMs / 1000} s.`,
  "",
  "| scenario | sent | succeeded | failed fast | lost | time to detect | time to re-converge |",
  "|---|---|---|---|---|---|---|",
  ...results.map((r) => `| ${r.scenario} | ${r.load.sent} | ${r.load.succeeded} | ${r.load.failed} | ${r.load.lost} | ${ms(r.detectMs)} | ${ms(r.convergeMs)} |`),
];
process.stdout.write(lines.join("\n") + "\n");
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/chaos.json", JSON.stringify({ date: new Date().toISOString(), shape, results }, null, 2) + "\n");
