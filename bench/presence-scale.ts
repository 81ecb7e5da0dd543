/**
 * What presence costs as the lattice grows: N real hosts (each its own NATS connection, 1 s
 * heartbeat, production defaults) in crowd processes of at most 250 (test/kit/host-crowd.ts),
 * on a fresh nats-server with JetStream for each N, watched by one live view (what the CLI, the
 * dashboard or the reconciler keeps). For each N and each presence mode:
 *
 * - `viewAllMs`: from the first crowd's spawn to the live view holding all N (the hosts start one
 *   after another in each crowd, the crowds side by side);
 * - `startMs`: a host's start(), summarized, while the crowds start side by side;
 * - steady state over `windowMs`: CPU per host (% of one core, the crowd processes' CPU over
 *   their hosts), bytes a second per host (in and out over its connection), and at the server
 *   the messages it takes in and the deliveries it makes, a second (summed over every client);
 * - `joinNextMs`: the N+1th host's start() in this process, once all are up, and the time until
 *   the live view holds it.
 *
 * `growth` is the log-log slope of server deliveries against N (1: linear; 2: every host hears
 * every other). Absolute CPU moves with this shared machine's load; the slopes do not.
 */
import { Host, silentLogger } from "../src/host/index.js";
import { LatticeView } from "../src/nats/lattice-view.js";
import { connectNode } from "../src/nats/node/index.js";
import { Subjects } from "../src/protocol/index.js";
import { startCrowd, type Crowd, type CrowdUsage } from "../test/kit/host-crowd.js";
import { Cleanup, connection, natsServer } from "../test/kit/lattice.js";
import { sleep, until } from "../test/kit/poll.js";
import { summarize, type Summary } from "./stats.js";

const CROWD_MAX = 250;

export interface PresencePoint {
  hosts: number;
  presence: "full" | "lean";
  viewAllMs: number;
  startMs: Summary;
  perHost: { cpuPercent: number; bytesPerSec: number };
  server: { inMsgsPerSec: number; deliveriesPerSec: number; bytesOutPerSec: number };
  joinNextMs: number;
  viewSeesNextMs: number;
}

export interface PresenceScale {
  windowMs: number;
  points: PresencePoint[];
  /** Log-log slope of server deliveries a second against host count, per presence mode. */
  growth: Record<string, number>;
}

function sum(us: CrowdUsage[]): CrowdUsage {
  return us.reduce((a, u) => ({ cpuMs: a.cpuMs + u.cpuMs, inMsgs: a.inMsgs + u.inMsgs, inBytes: a.inBytes + u.inBytes, outMsgs: a.outMsgs + u.outMsgs, outBytes: a.outBytes + u.outBytes }), {
    cpuMs: 0,
    inMsgs: 0,
    inBytes: 0,
    outMsgs: 0,
    outBytes: 0,
  });
}

async function point(n: number, presence: "full" | "lean", windowMs: number): Promise<PresencePoint> {
  const cleanup = new Cleanup();
  try {
    const nats = await natsServer(cleanup, { jetstream: {} });
    const nc = await connection(cleanup, nats.clientUrl);
    const view = new LatticeView(nc, new Subjects("default"));
    await view.start();
    cleanup.add(() => view.stop());
    const addedAt = new Map<string, number>();
    view.onChange((c) => c.kind === "added" && addedAt.set(c.host.info.id, performance.now()));

    const sizes = Array.from({ length: Math.ceil(n / CROWD_MAX) }, (_, i) => Math.min(CROWD_MAX, n - i * CROWD_MAX));
    const spawned = performance.now();
    const crowds: Crowd[] = await Promise.all(sizes.map((size, i) => startCrowd(cleanup, nats.clientUrl, size, `c${i}`, presence)));
    await until(() => view.hosts().length >= n, 120_000, `the live view holding ${n} hosts`);
    const viewAllMs = Math.max(...addedAt.values()) - spawned;
    const starts = crowds.flatMap((c) => c.startMs);

    // Steady state: the starts' seeds and state watches settled.
    await sleep(2_000);
    const before = sum(await Promise.all(crowds.map((c) => c.usage())));
    const viewBefore = nc.stats();
    const t0 = performance.now();
    await sleep(windowMs);
    const after = sum(await Promise.all(crowds.map((c) => c.usage())));
    const viewAfter = nc.stats();
    const secs = (performance.now() - t0) / 1000;
    const d = (k: keyof CrowdUsage) => after[k] - before[k];

    const next = new Host({ servers: nats.clientUrl, connect: connectNode, logger: silentLogger, presence, name: "next" });
    const t = performance.now();
    await next.start();
    const joinNextMs = performance.now() - t;
    const seen = await until(() => addedAt.get(next.id), 30_000, "the live view holding the next host");
    const viewSeesNextMs = seen - t;
    await next.stop("bench done");

    return {
      hosts: n,
      presence,
      viewAllMs: round(viewAllMs),
      startMs: summarize(starts),
      perHost: { cpuPercent: round((100 * d("cpuMs")) / (secs * 1000) / n, 3), bytesPerSec: round((d("inBytes") + d("outBytes")) / secs / n) },
      server: {
        inMsgsPerSec: round(d("outMsgs") / secs),
        deliveriesPerSec: round((d("inMsgs") + viewAfter.inMsgs - viewBefore.inMsgs) / secs),
        bytesOutPerSec: round((d("inBytes") + viewAfter.inBytes - viewBefore.inBytes) / secs),
      },
      joinNextMs: round(joinNextMs),
      viewSeesNextMs: round(viewSeesNextMs),
    };
  } finally {
    await cleanup.run();
  }
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function slope(points: PresencePoint[]): number {
  const first = points[0]!;
  const last = points[points.length - 1]!;
  return round(Math.log(last.server.deliveriesPerSec / first.server.deliveriesPerSec) / Math.log(last.hosts / first.hosts), 2);
}

export async function presenceScale(opts: { lean?: number[]; full?: number[]; windowMs?: number } = {}): Promise<PresenceScale> {
  const windowMs = opts.windowMs ?? 5_000;
  const points: PresencePoint[] = [];
  for (const n of opts.full ?? [10, 100, 200]) points.push(await point(n, "full", windowMs));
  for (const n of opts.lean ?? [10, 100, 500, 1000]) points.push(await point(n, "lean", windowMs));
  const growth: Record<string, number> = {};
  for (const mode of ["full", "lean"] as const) {
    const of = points.filter((p) => p.presence === mode);
    if (of.length > 1) growth[mode] = slope(of);
  }
  return { windowMs, points, growth };
}
