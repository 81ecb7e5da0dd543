/**
 * `lattice up`: a local lattice in one command. Starts an embedded nats-server (JetStream and
 * WebSocket on) and one host on it, or, given --nats-url, only a host that joins that NATS.
 * With --detach it re-runs itself in the background and returns once that copy is ready.
 * (What it does: actions/up.ts.)
 */
import { Command, Option } from "commander";
import type { UpOpts } from "../actions/up.js";
import { withHostOptions } from "../host-options.js";
import { withLatticeOptions, withOutputOption } from "../lattice-options.js";
import { collectGateway, parsePort, parsePositiveInt, parseRegion } from "../parse.js";
import { defaultStateDir } from "../up-state.js";

export function upCommand(): Command {
  const cmd = new Command("up")
    .description("start a local lattice: an embedded nats-server (JetStream, WebSocket) and a host; with --nats-url, join that NATS instead")
    .option("--detach", "run in the background and return once ready (stop with `lattice down`)")
    .addOption(new Option("--nats-port <port>", "client port of the embedded nats-server (0: any free port)").default(4222).argParser(parsePort))
    .addOption(new Option("--ws-port <port>", "WebSocket port of the embedded nats-server (0: any free port)").default(4223).argParser(parsePort))
    .addOption(new Option("--leaf-port <port>", "where the embedded nats-server listens for leaf nodes (other sites joining; 0: any free port)").default(7422).argParser(parsePort))
    .addOption(new Option("--leaf-remote <url...>", "join a remote lattice: the embedded nats-server becomes a leaf node of this server (nats-leaf://host:7422)"))
    .addOption(
      new Option("--nats-cluster <n>", "start a local cluster of n nats-servers (JetStream clustered) instead of one; the host knows them all")
        .default(1)
        .argParser(parsePositiveInt),
    )
    .addOption(new Option("--region <name>", "the embedded nats-server(s) form NATS cluster <name>, a region of a supercluster: other regions join it by gateway").argParser(parseRegion))
    .addOption(new Option("--gateway-port <port>", "where a region listens for other regions' gateways (0: any free port)").default(7222).argParser(parsePort))
    .addOption(
      new Option("--gateway <region=url>", "join the region <region> at its gateway URL(s) (east=nats://10.0.0.1:7222; repeatable); this region then keeps no JetStream and uses that one's")
        .argParser(collectGateway),
    )
    .addOption(new Option("--state-dir <dir>", "where up records pids, logs and JetStream data").default(defaultStateDir()))
    .action(async (opts: UpOpts, command: Command) => (await import("../actions/up.js")).up(opts, command));
  return withOutputOption(withHostOptions(withLatticeOptions(cmd), "full"));
}
