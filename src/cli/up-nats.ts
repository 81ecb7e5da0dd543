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
}

/**
 * The ports for the embedded nats-server. A port given on the command line is used as it is (a
 * clash is then nats-server's one-line error). A default that is taken, most likely by another
 * lattice's `up`: the client port is refused with what to pass instead (hosts and commands look
 * for NATS there), the WebSocket and leaf ports are replaced by free ones, with a note.
 */
export async function embeddedPorts(command: Command, lattice: string): Promise<EmbeddedPorts> {
  const chosen = (key: keyof EmbeddedPorts) => command.getOptionValueSource(key) !== "default";
  const ports = { natsPort: Number(command.getOptionValue("natsPort")), wsPort: Number(command.getOptionValue("wsPort")), leafPort: Number(command.getOptionValue("leafPort")) };
  if (!chosen("natsPort") && (await isTaken(ports.natsPort))) {
    const url = `nats://${DEFAULT_NATS_HOST}:${ports.natsPort}`;
    throw new CliError(
      `port ${ports.natsPort} (the default --nats-port) is taken, by another lattice's nats-server or another program: to run lattice ${lattice} on that NATS, pass --nats-url ${url} (lattices sharing a NATS do not see each other); to start a nats-server of its own, pass --nats-port 0 (any free port) or another port`,
    );
  }
  for (const [key, flag, what] of [
    ["wsPort", "--ws-port", "WebSocket"],
    ["leafPort", "--leaf-port", "leaf node"],
  ] as const) {
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
