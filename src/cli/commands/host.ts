/** `lattice host`: run one more host in the foreground, joining the lattice at --nats-url. */
import { Command } from "commander";
import { startHost, untilSignal, withHostOptions, type HostFlags } from "../host-runner.js";
import { withLatticeOptions, withOutputOption, type LatticeOpts, type OutputOpts } from "../lattice-options.js";
import { parseServers, redactUrl } from "../../nats/connection-options.js";
import { printJsonLine } from "../output.js";

export function hostCommand(): Command {
  const cmd = new Command("host")
    .description("run a host in the foreground that joins the lattice at --nats-url (Ctrl-C stops it)")
    .action(async (opts: LatticeOpts & OutputOpts & HostFlags) => {
      const host = await startHost(opts.natsUrl, opts.lattice, opts, opts);
      if (opts.output === "json") printJsonLine({ ready: true, host: host.info() });
      else process.stdout.write(`host ${host.name} (${host.id}) joined lattice ${host.lattice} at ${parseServers(opts.natsUrl).map(redactUrl).join(",")}\nStop it with Ctrl-C.\n`);
      const signal = await untilSignal();
      await host.stop(`received ${signal}`);
    });
  return withOutputOption(withHostOptions(withLatticeOptions(cmd)));
}
