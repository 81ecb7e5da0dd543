/** `lattice host`: run one more host in the foreground, joining the lattice at --nats-url (what it does: actions/host.ts). */
import { Command } from "commander";
import type { HostOpts } from "../actions/host.js";
import { withHostOptions } from "../host-options.js";
import { withLatticeOptions, withOutputOption } from "../lattice-options.js";

export function hostCommand(): Command {
  const cmd = new Command("host")
    .description("run a host in the foreground that joins the lattice at --nats-url (Ctrl-C stops it)")
    .action(async (opts: HostOpts) => (await import("../actions/host.js")).host(opts));
  return withOutputOption(withHostOptions(withLatticeOptions(cmd), "lean"));
}
