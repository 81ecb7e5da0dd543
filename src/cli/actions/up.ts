/** What `lattice up` does. */
import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { Host } from "../../host/index.js";
import { parseServers, redactUrl } from "../../nats/connection-options.js";
import { freePort } from "../../nats/node/free-port.js";
import { isPidAlive, isRoutePortTaken, startNatsServer, type NatsServer } from "../../nats/node/server-launcher.js";
import { shutdownTracing } from "../../nats/node/tracing-setup.js";
import { CliError, describeError } from "../errors.js";
import type { HostFlags } from "../host-options.js";
import { startHost } from "../host-runner.js";
import type { LatticeOpts, OutputOpts } from "../lattice-options.js";
import { formatDuration, printJson } from "../output.js";
import { untilSignal } from "../signals.js";
import { checkRegion, embeddedPorts, joinsNats, type EmbeddedPorts } from "../up-nats.js";
import { latticeDir, readUpRecord, removeUpRecord, writeUpRecord, type UpRecord } from "../up-state.js";

export type UpOpts = LatticeOpts &
  OutputOpts &
  HostFlags & {
    detach?: boolean;
    natsPort: number;
    wsPort: number;
    leafPort: number;
    leafRemote?: string[];
    natsCluster: number;
    /** This site's region of a supercluster (its NATS cluster's name), and the other regions it joins. */
    region?: string;
    gatewayPort: number;
    gateway?: Record<string, string[]>;
    stateDir: string;
  };

/**
 * The JetStream domain of an embedded hub: hosts on leaves reach its state and artifacts through
 * `$JS.<domain>.API` (leaf connections do not carry `$JS.API`).
 */
export const DEFAULT_JS_DOMAIN = "lattice";

/** Set in the environment of the background copy that `--detach` starts. */
const DETACHED_CHILD_ENV = "LATTICE_UP_DETACHED_CHILD";
const DETACH_READY_TIMEOUT_MS = 30_000;

type ChildReport = { ready: UpRecord } | { error: string };

export async function up(opts: UpOpts, command: Command): Promise<void> {
  const joining = joinsNats(command);
  if (!joining) checkRegion(opts, command.getOptionValueSource("gatewayPort") === "cli");
  const existing = readUpRecord(opts.stateDir, opts.lattice);
  if (existing && isPidAlive(existing.pid) && existing.pid !== process.pid) {
    throw new CliError(`lattice ${opts.lattice} is already up (pid ${existing.pid}, NATS at ${existing.natsUrl}); stop it with \`lattice down\``);
  }
  const ports = joining ? undefined : await embeddedPorts(command, opts.lattice);
  if (opts.detach) return detach(opts, ports);
  await runForeground(opts, ports);
}

/**
 * The embedded nats-server(s): one, or a cluster whose servers all know each other's routes from
 * the start (what a JetStream cluster needs). The first takes the client, WebSocket, leaf and
 * gateway ports. In a region every server has the gateway (as nats-server wants of a cluster).
 */
async function startEmbedded(opts: UpOpts, ports: EmbeddedPorts, dir: string): Promise<NatsServer[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEmbeddedOnce(opts, ports, dir);
    } catch (e) {
      if (attempt >= 3 || !isRoutePortTaken(e)) throw e;
    }
  }
}

async function startEmbeddedOnce(opts: UpOpts, ports: EmbeddedPorts, dir: string): Promise<NatsServer[]> {
  const leaf = opts.leafRemote !== undefined;
  // A site keeps the lattice's state unless it uses another's: a leaf's hub's, a joining region's first region's.
  const keepsState = !leaf && opts.gateway === undefined;
  const gateways = Object.entries(opts.gateway ?? {}).map(([name, urls]) => ({ name, urls }));
  const n = opts.natsCluster;
  const routePorts = n > 1 ? await Promise.all(Array.from({ length: n }, () => freePort())) : [];
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const servers: NatsServer[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const first = i === 0;
      const name = n > 1 ? `${i}` : "";
      servers.push(
        await startNatsServer({
          port: first ? ports.natsPort : 0,
          ...(first ? { websocket: { port: ports.wsPort } } : {}),
          // A leaf site keeps no state of its own: it uses the hub's, through the hub's domain.
          ...(keepsState ? { jetstream: { storeDir: join(dir, `jetstream${name}`), domain: opts.jsDomain ?? DEFAULT_JS_DOMAIN } } : {}),
          ...(first ? { leafnodes: { port: ports.leafPort, ...(leaf ? { remotes: [{ urls: opts.leafRemote! }] } : {}) } } : {}),
          ...(n > 1 ? { cluster: { name: opts.region ?? `lattice-${opts.lattice}`, port: routePorts[i]!, routes: routes.filter((_, j) => j !== i) } } : {}),
          ...(opts.region !== undefined ? { gateway: { name: opts.region, port: first ? ports.gatewayPort : 0, gateways } } : {}),
          serverName: `lattice-${opts.lattice}-${process.pid}${name ? `-${name}` : ""}`,
          // A frozen client is let go within about 6 s (nats-server's default: 4 minutes).
          ping: LATTICE_SERVER_PING,
          dir: join(dir, `nats${name}`),
          keepDir: true,
          readyTimeoutMs: 30_000,
        }),
      );
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    throw e;
  }
  return servers;
}

/** Ping settings of the servers `lattice up` starts (docs/reliability.md gives them for other servers). */
const LATTICE_SERVER_PING = { intervalMs: 2_000, maxOut: 3 };

/** `ports`: those of the nats-server to start; none to join --nats-url. */
async function runForeground(opts: UpOpts, ports: EmbeddedPorts | undefined): Promise<void> {
  const dir = latticeDir(opts.stateDir, opts.lattice);
  let nats: NatsServer[] = [];
  let host: Host | undefined;
  const stopNats = () => Promise.all(nats.map((s) => s.stop()));
  try {
    if (ports) nats = await startEmbedded(opts, ports, dir);
    // A joining region names no domain: `$JS.API` crosses the gateway to the region holding the
    // state, where a domain's subjects are answered "not enabled" by its own servers (2.9.10).
    const jsDomain = opts.leafRemote ? (opts.jsDomain ?? DEFAULT_JS_DOMAIN) : opts.gateway ? undefined : opts.jsDomain;
    const servers = nats.length > 0 ? nats.map((s) => s.clientUrl).join(",") : opts.natsUrl;
    host = await startHost(servers, opts.lattice, { ...opts, jsDomain }, opts);
  } catch (e) {
    await host?.stop("start failed");
    await stopNats();
    return report({ error: describeError(e) }, e);
  }

  const first = nats[0];
  const rec: UpRecord = {
    lattice: opts.lattice,
    pid: process.pid,
    natsPid: first?.pid,
    ...(nats.length > 1 ? { natsPids: nats.map((s) => s.pid) } : {}),
    // Shown and written to the state dir: without credentials a URL may carry.
    natsUrl: nats.length > 0 ? nats.map((s) => s.clientUrl).join(",") : parseServers(opts.natsUrl).map(redactUrl).join(","),
    websocketUrl: first?.websocketUrl,
    leafUrl: first?.leafUrl,
    leafRemote: opts.leafRemote,
    region: opts.region,
    gatewayUrl: first?.gatewayUrl,
    gateways: opts.gateway,
    hostId: host.id,
    hostName: host.name,
    logPath: process.env[DETACHED_CHILD_ENV] ? join(dir, "up.log") : undefined,
    startedAt: new Date().toISOString(),
  };
  // Listening before the ready line: a SIGTERM right after it (a script's, a bench's) must stop the
  // lattice, not kill the process at once and leave its nats-server running.
  const signalled = untilSignal();
  writeUpRecord(opts.stateDir, rec);
  await report({ ready: rec });
  if (!process.send) printReady(rec, opts, false);

  const signal = await signalled;
  await host.stop(`lattice up received ${signal}`);
  await shutdownTracing();
  await stopNats();
  removeUpRecord(opts.stateDir, opts.lattice, process.pid);
}

/** In the detached copy, tell the parent how the start went; in the foreground, fail normally. */
async function report(r: ChildReport, cause?: unknown): Promise<void> {
  if (process.send) {
    await new Promise<void>((resolve) => process.send?.(r, undefined, {}, () => resolve()));
    process.disconnect();
  }
  if ("error" in r) throw cause;
}

async function detach(opts: UpOpts, ports: EmbeddedPorts | undefined): Promise<void> {
  const dir = latticeDir(opts.stateDir, opts.lattice);
  const logPath = join(dir, "up.log");
  mkdirSync(dir, { recursive: true });
  const log = openSync(logPath, "a");
  // The ports chosen here, given as flags (a later flag wins), so the copy uses them as they are.
  const portFlags = ports
    ? ["--nats-port", `${ports.natsPort}`, "--ws-port", `${ports.wsPort}`, "--leaf-port", `${ports.leafPort}`, ...(opts.region !== undefined ? ["--gateway-port", `${ports.gatewayPort}`] : [])]
    : [];
  const args = [...process.argv.slice(1).filter((a) => a !== "--detach"), ...portFlags];
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    detached: true,
    stdio: ["ignore", log, log, "ipc"],
    env: { ...process.env, [DETACHED_CHILD_ENV]: "1" },
  });
  const outcome = await new Promise<ChildReport>((resolve) => {
    const timer = setTimeout(() => resolve({ error: `not ready after ${formatDuration(DETACH_READY_TIMEOUT_MS)}; see ${logPath}` }), DETACH_READY_TIMEOUT_MS);
    child.once("message", (m: ChildReport) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ error: `the background lattice exited with code ${code ?? "?"} before it was ready; see ${logPath}` });
    });
  });
  if ("error" in outcome) {
    if (child.exitCode === null) child.kill("SIGTERM");
    throw new CliError(outcome.error);
  }
  child.disconnect();
  child.unref();
  printReady(outcome.ready, opts, true);
}

function printReady(rec: UpRecord, opts: UpOpts, detached: boolean): void {
  if (opts.output === "json") return printJson(rec);
  const lines = [
    `lattice ${rec.lattice} is up`,
    `  NATS:       ${rec.natsUrl}${rec.natsPids ? ` (a cluster of ${rec.natsPids.length}: pids ${rec.natsPids.join(", ")})` : rec.natsPid ? ` (nats-server pid ${rec.natsPid})` : " (joined)"}`,
    ...(rec.websocketUrl ? [`  WebSocket:  ${rec.websocketUrl}`] : []),
    ...(rec.leafRemote ? [`  leaf of:    ${rec.leafRemote.join(", ")}`] : []),
    // Not a joining region's: a leaf there cannot reach the JetStream across the gateway (supercluster.md).
    ...(rec.leafUrl && !rec.gateways ? [`  leaf nodes: ${rec.leafUrl} (another site joins with: lattice up --leaf-remote ${rec.leafUrl})`] : []),
    ...(rec.region ? [`  region:     ${rec.region}${rec.gateways ? `, joined to ${Object.keys(rec.gateways).join(", ")}` : ", holding the lattice's JetStream"}`] : []),
    ...(rec.gatewayUrl ? [`  gateway:    ${rec.gatewayUrl} (another region joins with: lattice up --region NAME --gateway ${rec.region}=${rec.gatewayUrl})`] : []),
    `  host:       ${rec.hostName} (${rec.hostId})`,
    ...(rec.logPath ? [`  log:        ${rec.logPath}`] : []),
    detached ? `Stop it with: lattice down${opts.lattice === "default" ? "" : ` --lattice ${opts.lattice}`}` : "Stop it with Ctrl-C.",
    `Another host on this or another machine: lattice host --nats-url ${rec.natsUrl}`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
