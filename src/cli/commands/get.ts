/** `lattice get hosts` and `lattice get inventory`. */
import { Command } from "commander";
import type { ActorLoad, HostInfo, HostInventory, WireError } from "../../protocol/index.js";
import { withClient, withLatticeOptions, withOutputOption, withTimeoutOption, type LatticeOpts, type OutputOpts } from "../lattice-options.js";
import { formatDuration, formatLabels, printJson, printTable, warn } from "../output.js";
import { shortDigest } from "../../nats/artifact-store.js";
import { artifactsCommand } from "./artifacts.js";
import { linksCommand } from "./state.js";
import { plural } from "../../ctl/wording.js";

type GetOpts = LatticeOpts & OutputOpts & { timeout: number };

/** Hosts that answered with an error are worth a word on stderr, not a failed command. */
function warnErrors(errors: WireError[]): void {
  for (const e of errors) warn(`a host answered with ${e.code}: ${e.message}`);
}

function byName(a: HostInfo, b: HostInfo): number {
  return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

export function getCommand(): Command {
  const get = new Command("get").description("show what is in the lattice");

  const hosts = new Command("hosts")
    .description("list the hosts of the lattice (every live host answers a ping)")
    .action(async (opts: GetOpts) => {
      const { replies, errors } = await withClient(opts, (c) => c.hosts());
      warnErrors(errors);
      const list = replies.sort(byName);
      if (opts.output === "json") return printJson(list);
      printTable(
        ["ID", "NAME", "LABELS", "VERSION", "UPTIME"],
        list.map((h) => [h.id, h.name, formatLabels(h.labels), h.version, formatDuration(h.uptimeSeconds * 1_000)]),
      );
    });

  const inventory = new Command("inventory")
    .description("show what each host runs (all hosts, or one)")
    .argument("[host-id]", "only this host")
    .action(async (hostId: string | undefined, opts: GetOpts) => {
      const list: HostInventory[] = await withClient(opts, async (c) => {
        if (hostId !== undefined) return [await c.inventory(hostId)];
        const { replies, errors } = await c.inventories();
        warnErrors(errors);
        return replies.sort((a, b) => byName(a.host, b.host));
      });
      if (opts.output === "json") return printJson(hostId !== undefined ? list[0] : list);
      for (const inv of list) printInventory(inv);
    });

  for (const c of [hosts, inventory]) get.addCommand(withTimeoutOption(withOutputOption(withLatticeOptions(c))));
  get.addCommand(artifactsCommand());
  get.addCommand(linksCommand());
  return get;
}

/** `, busy 2, queued 5`, with `stuck` and `replaced` when any: what an operator needs to see an actor wedged. */
function load(l: ActorLoad | undefined): string {
  if (!l) return "";
  const extra = [l.stuck > 0 ? `, stuck ${l.stuck}` : "", l.replaced > 0 ? `, replaced ${l.replaced}` : ""].join("");
  return ` (busy ${l.busy}, queued ${l.queued}${extra})`;
}

function printInventory(inv: HostInventory): void {
  const h = inv.host;
  process.stdout.write(`host ${h.name} (${h.id})\n  labels: ${formatLabels(h.labels)}  version: ${h.version}  uptime: ${formatDuration(h.uptimeSeconds * 1_000)}\n`);
  if (inv.actors.length === 0) process.stdout.write("  actors: none\n");
  else {
    process.stdout.write("  actors:\n");
    for (const a of inv.actors) process.stdout.write(`    ${a.id}  ${plural(a.instances, "instance")}${load(a.load)}  ${a.ref}  ${shortDigest(a.digest)}\n`);
  }
  if (inv.providers.length === 0) process.stdout.write("  providers: none\n");
  else {
    process.stdout.write("  providers:\n");
    for (const p of inv.providers) {
      const pid = p.pid !== undefined ? `pid ${p.pid}` : "no process";
      const health = `${p.health.healthy ? "healthy" : "unhealthy"}: ${p.health.message}`;
      process.stdout.write(`    ${p.id}  ${p.state}  ${pid}  ${plural(p.restarts, "restart")}  ${health}  ${p.ref}\n`);
    }
  }
}
