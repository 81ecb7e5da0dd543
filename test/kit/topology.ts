/**
 * NATS topologies for tests, from a short description: a hub cluster (JetStream with a domain, so
 * leaves reach its state through `$JS.<domain>.API`), leaves on the hub, leaves of leaves, and
 * optionally a fault proxy on a leaf's link to its parent.
 *
 *   await topology(cleanup, { hub: 3, leaves: { east: {}, west: { proxied: true }, edge: { parent: "east" } } })
 */
import { freePort, type NatsServer } from "../../src/nats/node/index.js";
import { FaultProxy } from "./fault-proxy.js";
import type { Cleanup} from "./lattice.js";
import { natsServer } from "./lattice.js";

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
