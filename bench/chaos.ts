/**
 * `npm run chaos`: the fault scenarios at full length, one after another, then their tables
 * (markdown, as docs/reliability.md shows them) and the raw figures as JSON in
 * bench/results/chaos.json. First the echo actor called over NATS, then the README's counter app
 * over HTTP. `--only http` or `--only echo` runs one set.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Cleanup } from "../test/kit/lattice.js";
import { freezeHttp, hostKillHttp, leafFlapHttp, partitionHttp, reconcilerKillHttp, serverKillHttp, slowHostHttp, type HttpScenarioResult } from "./chaos-http.js";
import { hostKill, partition, reconcilerKill, serverKill, type ScenarioResult } from "./chaos-scenarios.js";

const onlyIdx = process.argv.indexOf("--only");
const only = onlyIdx > 0 ? process.argv[onlyIdx + 1] : undefined;
if (only !== undefined && only !== "http" && only !== "echo") throw new Error("--only takes: echo, http");

const shape = { rate: 200, durationMs: 20_000, heartbeatMs: 1_000 };
const httpShape = { rate: 50, durationMs: 24_000, heartbeatMs: 1_000 };

async function withCleanup<T>(fn: (c: Cleanup) => Promise<T>): Promise<T> {
  const c = new Cleanup();
  try {
    return await fn(c);
  } finally {
    await c.run();
  }
}

const ms = (x: number | undefined) => (x === undefined ? "-" : `${(x / 1000).toFixed(2)} s`);
const lines: string[] = [];
const json: Record<string, unknown> = { date: new Date().toISOString(), shape, httpShape };

if (only !== "http") {
  const results: ScenarioResult[] = [];
  for (const run of [
    () => withCleanup((c) => hostKill(c, shape)),
    () => withCleanup((c) => serverKill(c, shape)),
    () => withCleanup((c) => partition(c, { ...shape, cutMs: 10_000 })),
    () => withCleanup((c) => reconcilerKill(c, shape)),
  ]) {
    const r = await run();
    results.push(r);
    process.stderr.write(`${r.scenario}: ${JSON.stringify(r.load)}\n`);
  }
  json.echo = results;
  lines.push(
    `Echo over NATS: ${shape.rate} calls/s for ${shape.durationMs / 1000} s, deadline 2 s, retry after 400 ms without an answer; heartbeat ${shape.heartbeatMs / 1000} s.`,
    "",
    "| scenario | sent | succeeded | failed fast | lost | time to detect | time to re-converge |",
    "|---|---|---|---|---|---|---|",
    ...results.map((r) => `| ${r.scenario} | ${r.load.sent} | ${r.load.succeeded} | ${r.load.failed} | ${r.load.lost} | ${ms(r.detectMs)} | ${ms(r.convergeMs)} |`),
    "",
  );
}

if (only !== "echo") {
  const results: HttpScenarioResult[] = [];
  for (const run of [freezeHttp, slowHostHttp, leafFlapHttp, hostKillHttp, serverKillHttp, partitionHttp, reconcilerKillHttp]) {
    const r = await withCleanup((c) => run(c, httpShape));
    results.push(r);
    process.stderr.write(`${r.scenario}: ${JSON.stringify(r)}\n`);
  }
  json.http = results;
  lines.push(
    `The counter app over HTTP: ${httpShape.rate} requests/s for about ${httpShape.durationMs / 1000} s (the freeze and the flapping run until they are over), default settings; heartbeat ${httpShape.heartbeatMs / 1000} s.`,
    "",
    "| scenario | sent | ok | failed | lost | p99 during the fault | time to route around | count drift |",
    "|---|---|---|---|---|---|---|---|",
    ...results.map((r) => `| ${r.scenario}${r.notes ? ` (${r.notes})` : ""} | ${r.sent} | ${r.ok} | ${r.failed} | ${r.lost} | ${r.p99DuringFaultMs} ms | ${ms(r.routeAroundMs)} | ${r.drift} |`),
  );
}

process.stdout.write(lines.join("\n") + "\n");
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/chaos.json", JSON.stringify(json, null, 2) + "\n");
