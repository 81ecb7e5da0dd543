/** What `lattice link put|get|del`, `lattice config put|get|del` and `lattice get links` do; the lattice's state for other actions. */
import { LatticeState } from "../../nats/lattice-state.js";
import { DEFAULT_LINK_NAME, assertConfigName, assertLinkInterface, assertLinkName, assertTargetId, messageOf, type Link } from "../../protocol/index.js";
import type { StoreOpts } from "../commands/artifacts.js";
import { withConnection } from "../connect.js";
import { CliError } from "../errors.js";
import type { OutputOpts } from "../lattice-options.js";
import { formatLabels, printJson, printTable } from "../output.js";
import { collectConfig } from "../parse.js";
import { plural } from "../../ctl/wording.js";

export type LinkPutOpts = StoreOpts & { name: string; config?: string[] };
export type LinkDelOpts = StoreOpts & { name: string };

/** Run `fn` with the lattice's state, and close the connection whatever happens. */
export function withState<T>(opts: StoreOpts, fn: (s: LatticeState) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new LatticeState(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: opts.timeout })));
}

function printLinks(links: Link[], opts: OutputOpts): void {
  const sorted = [...links].sort((a, b) => a.source.localeCompare(b.source) || a.interface.localeCompare(b.interface) || a.name.localeCompare(b.name));
  if (opts.output === "json") return printJson(sorted);
  printTable(
    ["SOURCE", "TARGET", "INTERFACE", "NAME", "CONFIG"],
    sorted.map((l) => [l.source, l.target, l.interface, l.name, l.config.join(",") || "-"]),
  );
}

export async function linkPut(source: string, target: string, iface: string, opts: LinkPutOpts): Promise<void> {
  assertTargetId(source);
  assertTargetId(target);
  assertLinkInterface(iface);
  assertLinkName(opts.name);
  const link = await withState(opts, (s) => s.putLink({ source, target, interface: iface, name: opts.name, config: opts.config ?? [] }));
  if (opts.output === "json") return printJson(link);
  process.stdout.write(`linked ${source} -> ${target} for ${iface}${opts.name === DEFAULT_LINK_NAME ? "" : ` (${opts.name})`}\n`);
}

export async function linkGet(opts: StoreOpts): Promise<void> {
  printLinks(await withState(opts, (s) => s.links()), opts);
}

export async function linkDel(source: string, iface: string, opts: LinkDelOpts): Promise<void> {
  const removed = await withState(opts, (s) => s.deleteLink(source, iface, opts.name));
  if (opts.output === "json") return printJson({ source, interface: iface, name: opts.name, removed });
  if (!removed) throw new CliError(`no link from ${source} for ${iface} named ${opts.name}`);
  process.stdout.write(`removed the link from ${source} for ${iface}\n`);
}

export async function configPut(name: string, pairs: string[], opts: StoreOpts): Promise<void> {
  assertConfigName(name);
  let values: Record<string, string>;
  try {
    values = pairs.reduce<Record<string, string>>((acc, p) => collectConfig(p, acc), {});
  } catch (e) {
    throw new CliError(messageOf(e));
  }
  const config = await withState(opts, (s) => s.putConfig(name, values));
  if (opts.output === "json") return printJson(config);
  process.stdout.write(`config ${name}: ${plural(Object.keys(values).length, "value")}\n`);
}

export async function configGet(name: string | undefined, opts: StoreOpts): Promise<void> {
  if (name === undefined) {
    const all = await withState(opts, (s) => s.configs());
    if (opts.output === "json") return printJson(all);
    return printTable(["NAME", "VALUES"], all.map((c) => [c.name, formatLabels(c.values)]));
  }
  const config = await withState(opts, (s) => s.getConfig(name));
  if (!config) throw new CliError(`no config named ${name} in lattice ${opts.lattice}`);
  if (opts.output === "json") return printJson(config);
  printTable(["KEY", "VALUE"], Object.entries(config.values));
}

export async function configDel(name: string, opts: StoreOpts): Promise<void> {
  const removed = await withState(opts, (s) => s.deleteConfig(name));
  if (opts.output === "json") return printJson({ name, removed });
  if (!removed) throw new CliError(`no config named ${name} in lattice ${opts.lattice}`);
  process.stdout.write(`removed config ${name}\n`);
}
