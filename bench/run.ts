/**
 * `npm run bench`: runs every benchmark against real nats-server processes and prints one JSON
 * document (also written to bench/results/latest.json, or to the path given with --out).
 *
 * `--only invocation|converge|http|browser|cli|dev|scale|memory`: that part alone, printed, not written. `--quick`: the http
 * part in its short profile, for CI: exits 1 on a gross regression (a ratio or a count, never an
 * absolute time; see http.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname } from "node:path";
import { natsServerVersion, requireNatsServer, startNatsServer } from "../src/nats/node/index.js";
import { LATTICE_VERSION } from "../src/protocol/index.js";
import { exampleComponent, watEcho } from "../test/kit/fixtures.js";
import { actorRuntime } from "./actor-runtime.js";
import { browserCalls } from "./browser.js";
import { CLI_TARGETS_MS, cliStart } from "./cli-start.js";
import { convergeAfterHostLoss } from "./converge.js";
import { devLoop } from "./dev-loop.js";
import { hostDiscovery } from "./host-discovery.js";
import { FULL, QUICK, grossRegressions, httpPath } from "./http.js";
import { ed25519Costs, invocationPath } from "./invocation.js";
import { missingTools } from "./load-tools.js";
import { fanIn, type FanInPoint } from "./fan-in.js";
import { instancesScale, type InstancesScale } from "./instances-scale.js";
import { presenceScale, type PresenceScale } from "./presence-scale.js";
import { SMALL_TARGETS_MB, hostMemory } from "./memory.js";

const outIdx = process.argv.indexOf("--out");
const out = outIdx > 0 ? process.argv[outIdx + 1] : "bench/results/latest.json";
if (!out) throw new Error("--out needs a path");
const onlyIdx = process.argv.indexOf("--only");
const only = onlyIdx > 0 ? process.argv[onlyIdx + 1] : undefined;
const PARTS = ["invocation", "converge", "http", "browser", "cli", "dev", "scale", "memory"];
if (onlyIdx > 0 && !PARTS.includes(only ?? "")) throw new Error(`--only takes: ${PARTS.join(", ")}`);
const quick = process.argv.includes("--quick");
const missing = missingTools();
if ((quick || only === "http" || !only) && missing.length > 0) {
  throw new Error(`the http benchmark needs ${missing.join(" and ")}: run \`npm run setup\` (as root it installs them with apt-get), or apt-get install ${missing.join(" ")}`);
}

const nats = await startNatsServer({ jetstream: {} });
try {
  if (quick) {
    const http = await httpPath(nats.clientUrl, QUICK);
    const problems = grossRegressions(http);
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), profile: "quick", http, problems }, null, 2) + "\n");
    if (problems.length > 0) {
      process.stderr.write(`bench --quick: gross regression:\n${problems.map((p) => `  ${p}`).join("\n")}\n`);
      process.exitCode = 1;
    }
  } else if (only === "http") {
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), http: await httpPath(nats.clientUrl, FULL) }, null, 2) + "\n");
  } else if (only === "invocation") {
    const invocation = await invocationPath(nats.clientUrl);
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), invocation, ed25519: await ed25519Costs() }, null, 2) + "\n");
  } else if (only === "browser") {
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), browser: await browserCalls() }, null, 2) + "\n");
  } else if (only === "cli") {
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), cli: cliSection(await cliStart()) }, null, 2) + "\n");
  } else if (only === "dev") {
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), dev: devSection(await devLoop()) }, null, 2) + "\n");
  } else if (only === "scale") {
    const presence = presenceSection(await presenceScale());
    const fanInPoints = fanInSection(await fanIn(nats.clientUrl));
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), presence, fanIn: fanInPoints, instances: instancesSection(await instancesScale()) }, null, 2) + "\n");
  } else if (only === "memory") {
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), memory: memorySection(await hostMemory(nats.clientUrl)) }, null, 2) + "\n");
  } else if (only === "converge") {
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), appConvergeMs: await convergeAfterHostLoss(nats.clientUrl) }, null, 2) + "\n");
  } else {
    await all(nats.clientUrl, out);
  }
} finally {
  await nats.stop();
}

async function all(natsUrl: string, out: string): Promise<void> {
  const discovery = await hostDiscovery(natsUrl);
  const invocation = await invocationPath(natsUrl);
  const watActor = await actorRuntime(await watEcho(), { coldRuns: 10, warmRuns: 20, calls: 5_000, memInstances: 10 });
  const jsActor = await actorRuntime(await exampleComponent("echo"), { coldRuns: 3, warmRuns: 20, calls: 5_000, memInstances: 5 });
  const converge = await convergeAfterHostLoss(natsUrl);
  const http = await httpPath(natsUrl, FULL);
  const browser = await browserCalls();
  const cli = cliSection(await cliStart());
  const dev = devSection(await devLoop());
  const presence = presenceSection(await presenceScale());
  const fanInPoints = fanInSection(await fanIn(natsUrl));
  const instances = instancesSection(await instancesScale());
  const memory = memorySection(await hostMemory(natsUrl));
  const report = {
    lattice: LATTICE_VERSION,
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", natsServer: await natsServerVersion(requireNatsServer()) },
    results: {
      hostDiscoveryMs: {
        description: "host.start() called -> host seen in another host's lattice view (loopback, one nats-server)",
        target: "median <= 50",
        ...discovery.seenByOtherView,
      },
      hostStartMs: {
        description: "host.start() called -> start() resolved (connect, subscribe, announce)",
        ...discovery.startResolved,
      },
      invocation: {
        description:
          "a caller invoking a provider function through the lattice (headers, deadline, MessagePack, dispatch) vs raw NATS request-reply to a bare responder; " +
          "same client, server and 100-byte payload, one run; throughput with 100 in flight (raw, lattice and signed in alternating rounds), latency one at a time; " +
          "signed: every call MAC'd with the caller's session key and verified by the provider; signedEd25519: one Ed25519 signature per call",
        targets: "throughputRatio >= 0.7, medianLatencyRatio <= 1.5, signedThroughputRatio >= 0.85",
        ...invocation,
      },
      ed25519: {
        description: "microseconds per Ed25519 signature and verification, one at a time in a tight loop, 200-byte message: node:crypto (what invocations use in Node), WebCrypto (in a browser), @nats-io/nkeys (tweetnacl)",
        ...(await ed25519Costs()),
      },
      appConvergeMs: {
        description:
          "an app's actor spread 3 over 3 hosts, one host (its own process) SIGKILLed -> the app's status shows 3 instances on living hosts; " +
          "1 s heartbeat and reconciler interval; 10 rounds",
        target: "median <= 5000",
        ...converge.convergeMs,
        samples: converge.samples,
      },
      http: {
        description:
          "the README's apps over real HTTP, as a user runs them: http-hello and http-counter (4 instances each) behind the built-in http-server on a `lattice host` process, " +
          "wrk at 32 connections, in rounds alternating with a plain Node http server answering the same status, headers and body; the counter's count checked; " +
          "overload: hello offered twice its throughput at an even rate (open-loop.ts), accepted latency against hello's at 32 connections",
        targets: "hello.throughputRatio >= 0.25 with p99 <= 20 ms; counter.throughputRatio >= 0.10, count exact; overload: 503s not timeouts, accepted p50 <= 3x loaded",
        ...http,
      },
      browser: {
        description:
          "calls one at a time from a Node process over NATS into the echo actor (Wasm) and the counter actor (JavaScript, one wasi:keyvalue increment on a Node host's keyvalue provider per call) " +
          "running in a browser tab's host (headless Chromium, NATS over WebSocket) and, in alternating rounds, on a Node host (TCP); ms per call, the better of two rounds each",
        ...browser,
      },
      cli,
      dev,
      presence,
      fanIn: fanInPoints,
      instances,
      memory,
      actorRuntime: {
        description:
          "one process, no NATS. coldStartMs: component bytes never seen on this machine -> first call answered (transpile, compile, worker, instantiate); " +
          "cachedStartMs: the same in a new runtime with the transpiled component in the machine's cache; " +
          "warmStartMs: compiled digest -> first call; callLatencyUs: one call into a live instance, one at a time; " +
          "callsPerSecond: 64 in flight into one instance; memoryPerInstanceMB: RSS added per instance",
        targets: "warmStartMs median <= 20, callLatencyUs median <= 50",
        watEcho: watActor,
        jsEcho: jsActor,
      },
    },
  };
  const json = JSON.stringify(report, null, 2);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, json + "\n");
  process.stdout.write(json + "\n");
}

function instancesSection(r: InstancesScale) {
  return {
    description:
      "the control plane with 1,000 actor instances over 50 hosts (a crowd process, lean presence; the instances in-process echoes, since 1,000 Wasm instances would not fit this machine): " +
      "startToReadyMs: ten startActor calls of 100 instances each -> the inventories hold all 1,000; inventoryMs: one inventories() of the 50 lean hosts (each waits the 250 ms stall), inventoryLiveMs: the same once the reconciler leads and lends its live view; " +
      "apps: 100 apps of one component x 2 instances deployed at once -> all deployed, then the reconciler's pass time",
    ...r,
  };
}

function fanInSection(points: FanInPoint[]) {
  return {
    description:
      "100 callers over 4 connections into one actor (WAT echo) on a `lattice host` process scaled to 1, 5 and 20 instances, beside raw NATS request-reply into as many queue subscribers in another process; " +
      "100 calls always in flight, 2 rounds of 4 s each path, alternating; failed: calls refused (an overloaded actor refuses what would wait past its deadline)",
    target: "throughputRatio >= 0.7 at 20 instances",
    points,
  };
}

function presenceSection(r: PresenceScale) {
  return {
    description:
      "N real hosts (own connections, 1 s heartbeat) in crowd processes of <= 250 on a fresh nats-server per N, one live view watching; full: every host hears every heartbeat, lean: joins and goodbyes only (lattice host's default). " +
      "viewAllMs: first spawn -> the live view holds all N; perHost: crowd CPU and connection bytes over a steady window; server: messages in and deliveries out a second; " +
      "joinNextMs: the N+1th host's start(); growth: log-log slope of deliveries against N",
    targets: "lean: perHost flat from 10 to 1000, growth <= 1.1, joinNextMs at 1000 < 100",
    ...r,
  };
}

function memorySection(r: Awaited<ReturnType<typeof hostMemory>>) {
  return {
    description:
      "resident MB (VmRSS; worker threads included) of a `lattice host` process, each profile in a lattice of its own, read once settled: idle; one instance of the JS echo (examples/echo); " +
      "ten instances of it; ten WAT echo actors of distinct digests, one instance each (the JS echo stopped); everything stopped. heap/external/arrayBuffers: the host's main thread (its inventory answer)",
    targets: `small: idle.rssMB <= ${SMALL_TARGETS_MB.idle}, firstJsInstanceMB <= ${SMALL_TARGETS_MB.firstJsInstance}`,
    ...r,
  };
}

function cliSection(r: Awaited<ReturnType<typeof cliStart>>) {
  return {
    description:
      "wall ms of the compiled `lattice` command as a user runs it, spawn -> exit, median of 5 after an untimed run, each beside the same run's `node -e \"\"` as a ratio: " +
      "--version, --help; get hosts against a local lattice (its ping ends once as many hosts as a live view counts have answered); " +
      "up: spawn -> its ready line (embedded nats-server with JetStream, and a host, on free ports); " +
      "startActor: `start actor ./echo.wasm` (push, place, fetch, instantiate) of the built echo example on a host that has run its digest before",
    targets: Object.entries(CLI_TARGETS_MS)
      .map(([k, v]) => `${k} <= ${v}`)
      .join(", "),
    ...r,
  };
}

function devSection(r: Awaited<ReturnType<typeof devLoop>>) {
  return {
    description:
      "`lattice dev` on a copy of the echo example (its own lattice on free ports): saveToAnswerMs is the file written -> the first call answered by the new version, " +
      "with a caller calling about every 5 ms throughout; 5 edits after an untimed one. reportedMs: what `lattice dev` reports for the same versions " +
      "(change seen -> live; build = staging + componentize-js with the world's splice reused; push to the object store; start = the hosts' replace, new instances before the old drain). " +
      "firstLiveMs: `lattice dev` spawned -> version 1 live (lattice up, the build that splices the engine, the host's first transpile)",
    target: `saveToAnswerMs median <= ${r.targetMs}; failedCalls 0`,
    ...r,
  };
}
