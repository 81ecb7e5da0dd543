/**
 * Where `lattice up` gets its NATS: it joins the one named by --nats-url (or LATTICE_NATS_URL), or
 * starts its own on the ports of its flags. A flag given on the command line beats the environment,
 * and a default port that is taken is not worth failing for.
 */
import { createServer } from "node:net";
import type { Command } from "commander";
import { parseServers, redactUrl } from "../nats/connection-options.js";
import { DEFAULT_NATS_HOST } from "../nats/server-config.js";
import { CliError } from "./errors.js";
import { warn } from "./output.js";

/** The options that shape the nats-server `up` starts, by attribute name. */
const EMBEDDED_FLAGS = {
  natsPort: "--nats-port",
  wsPort: "--ws-port",
  leafPort: "--leaf-port",
  natsCluster: "--nats-cluster",
  leafRemote: "--leaf-remote",
  region: "--region",
  gatewayPort: "--gateway-port",
  gateway: "--gateway",
} as const;

/**
 * Whether `up` joins a running NATS rather than start one. --nats-url with a flag of the
 * embedded server is a contradiction, refused; LATTICE_NATS_URL with one is overridden by the
 * flag, with a warning (the environment is often set for other commands and forgotten).
 */
export function joinsNats(command: Command): boolean {
  const source = command.getOptionValueSource("natsUrl");
  const given = Object.entries(EMBEDDED_FLAGS)
    .filter(([key]) => command.getOptionValueSource(key) === "cli")
    .map(([, flag]) => flag);
  const flags = given.join(", ");
  if (source === "cli") {
    if (given.length > 0) throw new CliError(`--nats-url joins a running NATS, but ${flags} ${given.length === 1 ? "is an option" : "are options"} of the nats-server \`up\` starts: give one or the other`);
    return true;
  }
  if (source === "env") {
    if (given.length === 0) return true;
    const url = parseServers(String(command.getOptionValue("natsUrl"))).map(redactUrl).join(",");
    warn(`LATTICE_NATS_URL is set (${url}), but the command line asks for a nats-server of its own (${flags}): starting one; to join ${url} instead, leave out ${flags}`);
    return false;
  }
  return false;
}

export interface EmbeddedPorts {
  natsPort: number;
  wsPort: number;
  leafPort: number;
  gatewayPort: number;
}

/** What `up` is told of regions: this one's name and the gateways of others it joins. */
export interface RegionFlags {
  region?: string;
  gateway?: Record<string, string[]>;
  leafRemote?: string[];
  natsCluster: number;
}

/**
 * Refuses region flags that cannot make a supercluster, saying what to pass. A region that joins
 * none holds the lattice's JetStream, which nats-server 2.9 runs clustered once gateways are on,
 * and elects no leader for on a lone server (measured on 2.9.10: "JetStream cluster no metadata
 * leader" for good): it needs two servers or more.
 */
export function checkRegion(f: RegionFlags, gatewayPortGiven: boolean): void {
  const joins = Object.keys(f.gateway ?? {});
  if (joins.length > 0 && f.region === undefined) throw new CliError(`--gateway joins other regions of a supercluster: name this one with --region`);
  if (gatewayPortGiven && f.region === undefined) throw new CliError(`--gateway-port is where a region listens for other regions: name this one with --region`);
  if (f.region === undefined) return;
  if (joins.includes(f.region)) throw new CliError(`--gateway ${f.region}=…: that is this region's own name (--region ${f.region}); name the regions it joins`);
  if (f.leafRemote) throw new CliError(`--region and --leaf-remote: a site is either a region of the supercluster (gateways) or a leaf node of one, not both`);
  if (joins.length === 0 && f.natsCluster < 2) {
    throw new CliError(
      `region ${f.region} joins no other region, so it holds the lattice's JetStream, which needs --nats-cluster 2 or more here (3 survives losing a server): nats-server elects no JetStream leader on a lone server joined by gateways. A region joining this one (--gateway ${f.region}=URL) can be a single server.`,
    );
  }
}

/**
 * The ports for the embedded nats-server. A port given on the command line is used as it is (a
 * clash is then nats-server's one-line error). A default that is taken, most likely by another
 * lattice's `up`: the client port is refused with what to pass instead (hosts and commands look
 * for NATS there), the WebSocket and leaf ports are replaced by free ones, with a note.
 */
export async function embeddedPorts(command: Command, lattice: string): Promise<EmbeddedPorts> {
  const chosen = (key: keyof EmbeddedPorts) => command.getOptionValueSource(key) !== "default";
  const ports = {
    natsPort: Number(command.getOptionValue("natsPort")),
    wsPort: Number(command.getOptionValue("wsPort")),
    leafPort: Number(command.getOptionValue("leafPort")),
    gatewayPort: Number(command.getOptionValue("gatewayPort")),
  };
  if (!chosen("natsPort") && (await isTaken(ports.natsPort))) {
    const url = `nats://${DEFAULT_NATS_HOST}:${ports.natsPort}`;
    throw new CliError(
      `port ${ports.natsPort} (the default --nats-port) is taken, by another lattice's nats-server or another program: to run lattice ${lattice} on that NATS, pass --nats-url ${url} (lattices sharing a NATS do not see each other); to start a nats-server of its own, pass --nats-port 0 (any free port) or another port`,
    );
  }
  for (const [key, flag, what] of [
    ["wsPort", "--ws-port", "WebSocket"],
    ["leafPort", "--leaf-port", "leaf node"],
    ["gatewayPort", "--gateway-port", "gateway"],
  ] as const) {
    if (key === "gatewayPort" && command.getOptionValue("region") === undefined) continue;
    if (chosen(key) || !(await isTaken(ports[key]))) continue;
    warn(`the default ${what} port ${ports[key]} is taken (another lattice's \`up\`?): using a free port instead (${flag} chooses one)`);
    ports[key] = 0;
  }
  return ports;
}

/** Whether something already listens on `port` where the embedded nats-server would. */
function isTaken(port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "EADDRINUSE"));
    probe.listen({ host: DEFAULT_NATS_HOST, port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}
