/**
 * NATS topologies for tests, from a short description: a hub cluster (JetStream with a domain, so
 * leaves reach its state through `$JS.<domain>.API`), leaves on the hub, leaves of leaves, and
 * optionally a fault proxy on a leaf's link to its parent.
 *
 *   await topology(cleanup, { hub: 3, leaves: { east: {}, west: { proxied: true }, edge: { parent: "east" } } })
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connectNode, freePort, isRoutePortTaken, type NatsServer } from "../../src/nats/node/index.js";
import { FaultProxy } from "./fault-proxy.js";
import type { Cleanup} from "./lattice.js";
import { natsServer } from "./lattice.js";
import { until } from "./poll.js";

export const HUB_DOMAIN = "hub";

export interface LeafSpec {
  /** Another leaf's name, or the hub (default). */
  parent?: string;
  /** Put a fault proxy between this leaf and its parent. */
  proxied?: boolean;
}

export interface TopologySpec {
  /** Servers in the hub cluster (1 or more). */
  hub: number;
  /** Leaves by name, parents before children. */
  leaves?: Record<string, LeafSpec>;
}

export interface Topology {
  hub: NatsServer[];
  leaves: Record<string, NatsServer>;
  proxies: Record<string, FaultProxy>;
  /** Client URLs of a place: "hub" (every hub server, comma-separated) or a leaf's name. */
  url(place: string): string;
}

export async function topology(cleanup: Cleanup, spec: TopologySpec): Promise<Topology> {
  // A JetStream cluster wants every server to know its routes from the start: ports first.
  const routePorts = await Promise.all(Array.from({ length: spec.hub }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  // A leaf learns its parent's leaf address from the parent itself and reconnects there, around
  // any proxy: a parent of a proxied leaf advertises the proxy's address instead.
  const proxyPorts: Record<string, number> = {};
  for (const [name, leaf] of Object.entries(spec.leaves ?? {})) {
    if (!leaf.proxied) continue;
    if (leaf.parent || spec.hub !== 1) throw new Error(`leaf ${name}: only a leaf of a one-server hub can be proxied`);
    proxyPorts[name] = await freePort();
  }
  const hubAdvertise = Object.values(proxyPorts)[0];
  const hub = await Promise.all(
    routePorts.map((port, i) =>
      natsServer(cleanup, {
        serverName: `hub-${i}`,
        jetstream: { domain: HUB_DOMAIN },
        leafnodes: { port: 0, ...(hubAdvertise ? { advertise: `127.0.0.1:${hubAdvertise}` } : {}) },
        ...(spec.hub > 1 ? { cluster: { name: "hub", port, routes: routes.filter((_, j) => j !== i) } } : {}),
      }),
    ),
  );
  const leaves: Record<string, NatsServer> = {};
  const proxies: Record<string, FaultProxy> = {};
  for (const [name, leaf] of Object.entries(spec.leaves ?? {})) {
    const parents = leaf.parent ? [leaves[leaf.parent]] : hub;
    if (parents.some((p) => !p?.leafUrl)) throw new Error(`leaf ${name}: parent ${leaf.parent ?? "hub"} is not defined before it`);
    let urls = parents.map((p) => p!.leafUrl!);
    if (leaf.proxied) {
      const target = parents[0]!;
      const proxy = await FaultProxy.start({ port: Number(new URL(target.leafUrl!).port) }, proxyPorts[name]);
      cleanup.add(() => proxy.close());
      proxies[name] = proxy;
      urls = [proxy.url("nats-leaf")];
    }
    leaves[name] = await natsServer(cleanup, { serverName: `leaf-${name}`, leafnodes: { port: 0, remotes: [{ urls }] } });
  }
  return {
    hub,
    leaves,
    proxies,
    url: (place) => (place === "hub" ? hub.map((s) => s.clientUrl).join(",") : (leaves[place]?.clientUrl ?? "")),
  };
}

export interface RegionSpec {
  /** Servers in the region's cluster. One holding JetStream needs two or more: nats-server 2.9
   * elects no JetStream meta leader on a lone server of a supercluster. */
  servers: number;
  /** Holds the lattice's JetStream (domain HUB_DOMAIN); at most one region does. */
  jetstream?: boolean;
}

export interface SuperclusterSpec {
  /** Regions (NATS clusters joined by gateways) by name, the one with JetStream first. */
  regions: Record<string, RegionSpec>;
  /** Leaves by name, each on the first server of a region. */
  leaves?: Record<string, { region: string }>;
}

export interface Supercluster {
  regions: Record<string, NatsServer[]>;
  leaves: Record<string, NatsServer>;
  /** Client URLs of a place: a region (every server of it, comma-separated) or a leaf. */
  url(place: string): string;
  /** The JetStream domain a member at `place` names: none in a region (`$JS.API` crosses gateways),
   * the hub's on a leaf (leaf connections do not carry `$JS.API`). */
  jsDomain(place: string): string | undefined;
  /** Cut a region off: its servers restart without their gateway (same client ports). */
  cut(region: string): Promise<void>;
  /** Restart them with it again: the supercluster forms anew. */
  heal(region: string): Promise<void>;
}

export async function supercluster(cleanup: Cleanup, spec: SuperclusterSpec): Promise<Supercluster> {
  const regions: Record<string, NatsServer[]> = {};
  const gateways: Array<{ name: string; urls: string[] }> = [];
  for (const [name, region] of Object.entries(spec.regions)) {
    // Each region names those started before it; the earlier ones learn of it from its connection.
    const known = gateways.map((g) => ({ ...g }));
    regions[name] = await startRegion(cleanup, name, region, known);
    gateways.push({ name, urls: regions[name].map((s) => s.gatewayUrl!) });
    if (region.jetstream) await jetStreamAnswers(regions[name]);
  }
  const leaves: Record<string, NatsServer> = {};
  for (const [name, leaf] of Object.entries(spec.leaves ?? {})) {
    const parent = regions[leaf.region]?.[0];
    if (!parent?.leafUrl) throw new Error(`leaf ${name}: no region ${leaf.region}`);
    leaves[name] = await natsServer(cleanup, { serverName: `leaf-${name}`, leafnodes: { remotes: [{ urls: [parent.leafUrl] }] } });
  }
  await gatewaysFormed(Object.values(regions).map((servers) => servers[0]!));
  const saved = new Map<NatsServer, NonNullable<NatsServer["options"]["gateway"]>>();
  const serversOf = (region: string): NatsServer[] => {
    const servers = regions[region];
    if (!servers) throw new Error(`no region ${region}`);
    return servers;
  };
  return {
    regions,
    leaves,
    url: (place) => regions[place]?.map((s) => s.clientUrl).join(",") ?? leaves[place]?.clientUrl ?? "",
    jsDomain: (place) => (leaves[place] ? HUB_DOMAIN : undefined),
    async cut(region) {
      for (const s of serversOf(region)) {
        if (!s.options.gateway) continue;
        saved.set(s, s.options.gateway);
        delete s.options.gateway;
        await s.restart();
      }
    },
    async heal(region) {
      for (const s of serversOf(region)) {
        const g = saved.get(s);
        if (!g) continue;
        s.options.gateway = g;
        saved.delete(s);
        await s.restart();
      }
    },
  };
}

/** Waits until a clustered JetStream has elected its metadata leader and answers requests. */
async function jetStreamAnswers(servers: NatsServer[]): Promise<void> {
  const nc = await connectNode({ servers: servers.map((s) => s.clientUrl) });
  try {
    // jetstreamManager() asks for the account's info itself: it fails until a leader answers.
    const answers = () => jetstreamManager(nc, { timeout: 1_000 }).then(() => true, () => undefined);
    await until(answers, 20_000, "JetStream of the region answering");
  } finally {
    await nc.close();
  }
}

async function startRegion(cleanup: Cleanup, name: string, region: RegionSpec, known: Array<{ name: string; urls: string[] }>): Promise<NatsServer[]> {
  for (let attempt = 1; ; attempt++) {
    // A JetStream cluster wants every server to know its routes from the start: ports first.
    const routePorts = region.servers > 1 ? await Promise.all(Array.from({ length: region.servers }, () => freePort())) : [];
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
    const started = await Promise.allSettled(
      Array.from({ length: region.servers }, (_, i) =>
        natsServer(cleanup, {
          serverName: `${name}-${i}`,
          gateway: { name, port: 0, gateways: known },
          ...(region.jetstream ? { jetstream: { domain: HUB_DOMAIN } } : {}),
          ...(i === 0 ? { leafnodes: { port: 0 } } : {}),
          ...(region.servers > 1 ? { cluster: { name, port: routePorts[i]!, routes: routes.filter((_, j) => j !== i) } } : {}),
        }),
      ),
    );
    const servers = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (!failed) return servers;
    await Promise.all(servers.map((s) => s.stop()));
    if (attempt >= 3 || !isRoutePortTaken(failed.reason)) throw failed.reason;
  }
}

/** Waits until a message published in each region reaches a subscriber in every other one. */
async function gatewaysFormed(servers: NatsServer[]): Promise<void> {
  const conns = await Promise.all(servers.map((s) => connectNode({ servers: s.clientUrl })));
  try {
    const subject = `gateways-formed.${process.pid}`;
    for (const [i, nc] of conns.entries()) nc.subscribe(`${subject}.${i}`, {
      callback: (_, m) => {
        m.respond();
      },
    });
    await Promise.all(conns.map((nc) => nc.flush()));
    for (const [i, from] of conns.entries()) {
      for (const j of conns.keys()) {
        if (i === j) continue;
        const answered = () => from.request(`${subject}.${j}`, undefined, { timeout: 500 }).then(() => true, () => undefined);
        await until(answered, 20_000, `region ${j} reachable from region ${i}`);
      }
    }
  } finally {
    await Promise.all(conns.map((nc) => nc.close()));
  }
}
