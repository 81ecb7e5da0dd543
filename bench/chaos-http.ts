/**
 * Fault scenarios against the README's counter app over real HTTP (issue 12): three `lattice host`
 * processes, the http-counter actor on each, a keyvalue provider on each, the http-server on the
 * first (which no scenario harms: it is the edge the load comes in by). A steady HTTP load counts
 * every request's fate; at the end the counter must equal the requests answered 200 (drift 0).
 *
 * Each scenario reports sent / ok / failed / lost, the p99 of requests sent during the fault, the
 * time to route around it (from the fault to the last request sent that failed or took over
 * SLOW_MS), and the drift.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { AppStore, parseManifest } from "../src/apps/index.js";
import { connectNode, freePort } from "../src/nats/node/index.js";
import { RESILIENT } from "../src/nats/index.js";
import type { HostInfo } from "../src/protocol/index.js";
import { CliProcess, runCli } from "../test/kit/cli.js";
import { FaultProxy } from "../test/kit/fault-proxy.js";
import { exampleComponentPath } from "../test/kit/fixtures.js";
import { type Cleanup, natsServer } from "../test/kit/lattice.js";
import { until } from "../test/kit/poll.js";
import { signalTree } from "../test/kit/process-tree.js";
import { HUB_DOMAIN, topology } from "../test/kit/topology.js";

export interface HttpShape {
  /** Requests a second. */
  rate: number;
  durationMs: number;
  heartbeatMs: number;
}

export interface HttpScenarioResult {
  scenario: string;
  sent: number;
  ok: number;
  /** Answered, but not 200. */
  failed: number;
  /** Never answered (within 15 s). */
  lost: number;
  /** Of requests sent while the fault lasted, ms. */
  p99DuringFaultMs: number;
  /** From the fault to the last request sent that failed or took over SLOW_MS; 0: none did. */
  routeAroundMs: number;
  /** Counted by the app minus answered 200: must be 0. */
  drift: number;
  /** Requests not answered 200, by status and first line of the answer. */
  failures?: Record<string, number>;
  notes?: string;
}

interface Sent {
  at: number;
  ms: number;
  status: number;
  responder?: string;
  /** Of a request not answered 200: its status and the first line of its body. */
  why?: string;
}

const REQUEST_TIMEOUT_MS = 15_000;
/** The keyvalue bucket the hand-wired counter counts in. */
const COUNTER_BUCKET = "chaos_http";
/** A request slower than this was held up by the fault (these take 10-30 ms when all is well). */
const SLOW_MS = 250;

async function lattice(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const r = await runCli(args, env, 120_000);
  if (r.code !== 0) throw new Error(`lattice ${args.join(" ")}: ${r.stderr.trim()}`);
}

async function hostProcess(cleanup: Cleanup, servers: string, name: string, shape: HttpShape, extra: string[] = []): Promise<{ proc: CliProcess; id: string }> {
  const proc = new CliProcess(["host", "--nats-url", servers, "--name", name, "--label", `name=${name}`, "--heartbeat", `${shape.heartbeatMs}ms`, "-o", "json", "--log-level", "error", ...extra]);
  cleanup.add(async () => {
    signalTree(proc.pid, "SIGCONT");
    await proc.stop("SIGKILL");
  });
  const [ready] = await proc.jsonLines<{ host: HostInfo }>(1, 30_000);
  return { proc, id: ready!.host.id };
}

/** The counter app wired by hand on `hosts` (the first one the edge), answering on the returned URL. */
async function wireCounter(env: NodeJS.ProcessEnv, hosts: Array<{ id: string }>): Promise<string> {
  await lattice(["push", await exampleComponentPath("http-counter"), "--name", "http-counter:1.0"], env);
  for (const h of hosts) {
    await lattice(["start", "actor", "http-counter:1.0", "--id", "counter", "--host", h.id, "--scale", "2"], env);
    await lattice(["start", "provider", "keyvalue", "--id", "kv", "--host", h.id], env);
  }
  await lattice(["start", "provider", "http-server", "--id", "http", "--host", hosts[0]!.id], env);
  const port = await freePort();
  await lattice(["config", "put", "counter-kv", `bucket=${COUNTER_BUCKET}`], env);
  await lattice(["config", "put", "web", `address=127.0.0.1:${port}`], env);
  await lattice(["link", "put", "counter", "kv", "wasi:keyvalue", "--config", "counter-kv"], env);
  await lattice(["link", "put", "http", "counter", "wasi:http/incoming-handler", "--config", "web"], env);
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/warmup`).catch(() => undefined))?.status === 200 || undefined, 60_000, "the counter answering HTTP");
  return url;
}

/** `rate` GETs a second of one counter for `durationMs`, each awaited (or given up after 15 s). */
async function httpLoad(url: string, key: string, rate: number, durationMs: number, during: (elapsedMs: number) => void): Promise<Sent[]> {
  const out: Sent[] = [];
  const t0 = Date.now();
  const sends: Array<Promise<void>> = [];
  for (let i = 0; Date.now() - t0 < durationMs; i++) {
    const due = t0 + (i * 1000) / rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const at = Date.now() - t0;
    during(at);
    sends.push(
      fetch(`${url}/${key}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).then(
        async (r) => {
          const body = await r.text();
          const why = r.status === 200 ? undefined : `${r.status} ${body.split("\n", 1)[0]!.slice(0, 200)}`;
          out.push({ at, ms: Date.now() - t0 - at, status: r.status, responder: r.headers.get("x-lattice-responder") ?? undefined, why });
        },
        (e: unknown) => void out.push({ at, ms: Date.now() - t0 - at, status: 0, why: String(e) }),
      ),
    );
  }
  await Promise.all(sends);
  return out.sort((a, b) => a.at - b.at);
}

async function counted(url: string, key: string): Promise<number> {
  return Number((await (await fetch(`${url}/${key}`)).text()).trim()) - 1;
}

function summarize(scenario: string, sent: Sent[], countedValue: number, fault: { from: number; to: number }, notes?: string): HttpScenarioResult {
  const ok = sent.filter((s) => s.status === 200).length;
  const during = sent
    .filter((s) => s.at >= fault.from && s.at <= fault.to)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  const bad = sent.filter((s) => s.at >= fault.from && (s.status !== 200 || s.ms > SLOW_MS));
  const failures = new Map<string, number>();
  for (const s of sent) if (s.why !== undefined) failures.set(s.why, (failures.get(s.why) ?? 0) + 1);
  return {
    scenario,
    sent: sent.length,
    ok,
    failed: sent.filter((s) => s.status !== 200 && s.status !== 0).length,
    lost: sent.filter((s) => s.status === 0).length,
    p99DuringFaultMs: during[Math.max(0, Math.ceil(during.length * 0.99) - 1)] ?? 0,
    routeAroundMs: bad.length === 0 ? 0 : bad[bad.length - 1]!.at - fault.from,
    drift: countedValue - ok,
    ...(failures.size ? { failures: Object.fromEntries(failures) } : {}),
    ...(notes ? { notes } : {}),
  };
}

/** Three hosts on one server; `fault` runs at a third of the load and may return when it ends. */
async function threeHosts(cleanup: Cleanup, shape: HttpShape): Promise<{ env: NodeJS.ProcessEnv; hosts: Array<{ proc: CliProcess; id: string }>; url: string }> {
  const nats = await natsServer(cleanup, { jetstream: {} });
  const env = { LATTICE_NATS_URL: nats.clientUrl };
  const hosts = [];
  for (const name of ["edge", "h2", "h3"]) hosts.push(await hostProcess(cleanup, nats.clientUrl, name, shape, ["--no-reconcile"]));
  return { env, hosts, url: await wireCounter(env, hosts) };
}

/** SIGSTOP a host and its providers for 12 s, then SIGCONT. */
export async function freezeHttp(cleanup: Cleanup, shape: HttpShape): Promise<HttpScenarioResult> {
  const { hosts, url } = await threeHosts(cleanup, shape);
  const key = `freeze-${Date.now()}`;
  const from = shape.durationMs / 4;
  const to = from + 12_000;
  let frozen = false;
  const sent = await httpLoad(url, key, shape.rate, Math.max(shape.durationMs, to + 3_000), (at) => {
    if (frozen || at < from) return;
    frozen = true;
    signalTree(hosts[1]!.proc.pid, "SIGSTOP");
    setTimeout(() => signalTree(hosts[1]!.proc.pid, "SIGCONT"), 12_000);
  });
  return summarize("a host and its providers frozen (SIGSTOP) for 12 s", sent, await counted(url, key), { from, to });
}

/** SIGKILL a host running counter instances and a keyvalue provider, a third of the way in. */
export async function hostKillHttp(cleanup: Cleanup, shape: HttpShape): Promise<HttpScenarioResult> {
  const { hosts, url } = await threeHosts(cleanup, shape);
  const key = `kill-${Date.now()}`;
  const from = shape.durationMs / 3;
  let killed = false;
  const sent = await httpLoad(url, key, shape.rate, shape.durationMs, (at) => {
    if (killed || at < from) return;
    killed = true;
    void hosts[1]!.proc.stop("SIGKILL");
  });
  return summarize("SIGKILL 1 of 3 hosts (counter instances and a keyvalue provider)", sent, await counted(url, key), { from, to: shape.durationMs });
}

/** A host whose connection to NATS has 200 ms more round trip (a fault proxy), for the whole run. */
export async function slowHostHttp(cleanup: Cleanup, shape: HttpShape): Promise<HttpScenarioResult> {
  const nats = await natsServer(cleanup, { jetstream: {} });
  const env = { LATTICE_NATS_URL: nats.clientUrl };
  const proxy = await FaultProxy.start({ port: nats.port });
  cleanup.add(() => proxy.close());
  proxy.delayMs = 100;
  const hosts = [
    await hostProcess(cleanup, nats.clientUrl, "edge", shape, ["--no-reconcile"]),
    await hostProcess(cleanup, proxy.url(), "slow", shape, ["--no-reconcile"]),
    await hostProcess(cleanup, nats.clientUrl, "h3", shape, ["--no-reconcile"]),
  ];
  const url = await wireCounter(env, hosts);
  const key = `slow-${Date.now()}`;
  const sent = await httpLoad(url, key, shape.rate, shape.durationMs, () => undefined);
  const toSlow = sent.filter((s) => s.responder === hosts[1]!.id).length;
  return summarize("a host behind 200 ms of added latency", sent, await counted(url, key), { from: 0, to: shape.durationMs }, `the slow host answered ${toSlow} of ${sent.length} requests`);
}

/** A hub and a leaf (behind a fault proxy): the edge on the hub, a host on the leaf; `cut` the link as told. */
async function hubAndLeaf(cleanup: Cleanup, shape: HttpShape) {
  const topo = await topology(cleanup, { hub: 1, leaves: { leaf: { proxied: true } } });
  const env = { LATTICE_NATS_URL: topo.url("hub"), LATTICE_JS_DOMAIN: HUB_DOMAIN };
  const hosts = [
    await hostProcess(cleanup, topo.url("hub"), "edge", shape, ["--no-reconcile", "--js-domain", HUB_DOMAIN]),
    await hostProcess(cleanup, topo.url("hub"), "hub-2", shape, ["--no-reconcile", "--js-domain", HUB_DOMAIN]),
    await hostProcess(cleanup, topo.url("leaf"), "leaf", shape, ["--no-reconcile", "--js-domain", HUB_DOMAIN]),
  ];
  return { proxy: topo.proxies.leaf!, url: await wireCounter(env, hosts) };
}

/** Cut the leaf link 1 s in every 3 s. */
export async function leafFlapHttp(cleanup: Cleanup, shape: HttpShape): Promise<HttpScenarioResult> {
  const { proxy, url } = await hubAndLeaf(cleanup, shape);
  const key = `flap-${Date.now()}`;
  const to = 20_000;
  const flap = setInterval(() => {
    proxy.cut();
    setTimeout(() => proxy.heal(), 1_000);
  }, 3_000);
  const sent = await httpLoad(url, key, shape.rate, to + 2_000, (at) => {
    if (at > to) clearInterval(flap);
  });
  clearInterval(flap);
  proxy.heal();
  return summarize("a leaf link flapping (cut 1 s in every 3 s, 20 s)", sent, await counted(url, key), { from: 0, to });
}

/** Cut the leaf from the hub for 10 s. */
export async function partitionHttp(cleanup: Cleanup, shape: HttpShape): Promise<HttpScenarioResult> {
  const { proxy, url } = await hubAndLeaf(cleanup, shape);
  const key = `cut-${Date.now()}`;
  const from = shape.durationMs / 4;
  let cut = false;
  const sent = await httpLoad(url, key, shape.rate, shape.durationMs, (at) => {
    if (cut || at < from) return;
    cut = true;
    proxy.cut();
    setTimeout(() => proxy.heal(), 10_000);
  });
  return summarize("a leaf cut from the hub for 10 s", sent, await counted(url, key), { from, to: from + 10_000 });
}

/**
 * SIGKILL, a third of the way in, the server of a 3-server hub cluster that leads the counter's
 * bucket (its three copies elect another leader; writes wait for it).
 */
export async function serverKillHttp(cleanup: Cleanup, shape: HttpShape): Promise<HttpScenarioResult> {
  const topo = await topology(cleanup, { hub: 3 });
  const servers = topo.url("hub");
  const env = { LATTICE_NATS_URL: servers, LATTICE_JS_DOMAIN: HUB_DOMAIN };
  const hosts = [];
  for (const name of ["edge", "h2", "h3"]) hosts.push(await hostProcess(cleanup, servers, name, shape, ["--no-reconcile", "--js-domain", HUB_DOMAIN]));
  const url = await wireCounter(env, hosts);
  const nc = await connectNode({ ...RESILIENT, servers });
  cleanup.add(() => nc.close());
  const info = await (await jetstreamManager(nc, { domain: HUB_DOMAIN })).streams.info(`KV_${COUNTER_BUCKET}`);
  const victim = topo.hub.find((s) => s.options.serverName === info.cluster?.leader) ?? topo.hub[0]!;
  const key = `server-${Date.now()}`;
  const from = shape.durationMs / 3;
  let killed = false;
  const sent = await httpLoad(url, key, shape.rate, shape.durationMs, (at) => {
    if (killed || at < from) return;
    killed = true;
    void victim.kill("SIGKILL");
  });
  const copies = `the bucket has ${info.config.num_replicas} copies; killed ${victim.options.serverName ?? "?"}, ${victim.options.serverName === info.cluster?.leader ? "its leader" : "not its leader"}`;
  return summarize("SIGKILL the hub server leading the counter's bucket (1 of 3)", sent, await counted(url, key), { from, to: shape.durationMs }, copies);
}

/**
 * The counter app deployed from its manifest (examples/apps/counter.yaml's shape), the edge host
 * out of the reconciler race; SIGKILL the host holding the reconciler lease a third of the way in.
 */
export async function reconcilerKillHttp(cleanup: Cleanup, shape: HttpShape): Promise<HttpScenarioResult> {
  const nats = await natsServer(cleanup, { jetstream: {} });
  const env = { LATTICE_NATS_URL: nats.clientUrl };
  await hostProcess(cleanup, nats.clientUrl, "edge", shape, ["--no-reconcile", "--label", "role=edge"]);
  const workers = [await hostProcess(cleanup, nats.clientUrl, "h2", shape), await hostProcess(cleanup, nats.clientUrl, "h3", shape)];
  await lattice(["push", await exampleComponentPath("http-counter"), "--name", "http-counter:1.0"], env);
  const port = await freePort();
  const nc = await connectNode({ ...RESILIENT, servers: nats.clientUrl });
  cleanup.add(() => nc.close());
  const store = new AppStore(nc, "default");
  await store.deploy(
    parseManifest(`name: counter
version: v1
components:
  - id: http
    provider: http-server
    placement: { spread: { instances: 1 }, labels: { role: edge } }
  - id: counter
    actor: http-counter:1.0
    placement: { spread: { instances: 4 } }
  - id: kv
    provider: keyvalue
    placement: { daemon: {} }
links:
  - { source: http, target: counter, interface: wasi:http/incoming-handler, config: { address: "127.0.0.1:${port}" } }
  - { source: counter, target: kv, interface: wasi:keyvalue, config: { bucket: chaos_app } }
`),
  );
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/warmup`).catch(() => undefined))?.status === 200 || undefined, 60_000, "the app answering HTTP");
  const leader = await until(async () => (await store.status("counter"))?.reconciler, 30_000, "a reconciler");
  const victim = workers.find((w) => w.id === leader);
  const key = `reconciler-${Date.now()}`;
  const from = shape.durationMs / 3;
  let killed = false;
  const sent = await httpLoad(url, key, shape.rate, shape.durationMs, (at) => {
    if (killed || at < from || !victim) return;
    killed = true;
    void victim.proc.stop("SIGKILL");
  });
  return summarize("SIGKILL the reconciler's host (the counter app deployed)", sent, await counted(url, key), { from, to: shape.durationMs }, victim ? undefined : "the edge held the lease: nothing was killed");
}
