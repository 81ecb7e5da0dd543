/** `lattice get hosts`, `lattice get inventory` and `lattice get metrics` (what they do: actions/get.ts). */
import { Command } from "commander";
import type { GetOpts } from "../actions/get.js";
import { withLatticeOptions, withOutputOption, withTimeoutOption } from "../lattice-options.js";
import { artifactsCommand } from "./artifacts.js";
import { linksCommand } from "./state.js";

export function getCommand(): Command {
  const get = new Command("get").description("show what is in the lattice");

  const hosts = new Command("hosts")
    .description("list the hosts of the lattice (every live host answers a ping)")
    .action(async (opts: GetOpts) => (await import("../actions/get.js")).getHosts(opts));

  const inventory = new Command("inventory")
    .description("show what each host runs (all hosts, or one)")
    .argument("[host-id]", "only this host")
    .action(async (hostId: string | undefined, opts: GetOpts) => (await import("../actions/get.js")).getInventory(hostId, opts));

  const metrics = new Command("metrics")
    .description("show call metrics per host and actor or provider: calls, errors, p50/p99 latency, in flight, instances, stale, retries")
    .argument("[id]", "only this actor or provider")
    .action(async (id: string | undefined, opts: GetOpts) => (await import("../actions/get.js")).getMetrics(id, opts));

  for (const c of [hosts, inventory, metrics]) get.addCommand(withTimeoutOption(withOutputOption(withLatticeOptions(c))));
  get.addCommand(artifactsCommand());
  get.addCommand(linksCommand());
  return get;
}
