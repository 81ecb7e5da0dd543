/** `lattice link put|get|del`, `lattice config put|get|del`, `lattice get links`: lattice state. */
import { Command, Option } from "commander";
import { LatticeState } from "../../nats/lattice-state.js";
import { DEFAULT_LINK_NAME, assertConfigName, assertLinkInterface, assertLinkName, assertTargetId, messageOf, type Link } from "../../protocol/index.js";
import { CliError } from "../errors.js";
import { withConnection, type OutputOpts } from "../lattice-options.js";
import { formatLabels, printJson, printTable } from "../output.js";
import { collectConfig } from "../parse.js";
import { withStoreOptions, type StoreOpts } from "./artifacts.js";
import { plural } from "../../ctl/wording.js";

/** Run `fn` with the lattice's state, and close the connection whatever happens. */
export function withState<T>(opts: StoreOpts, fn: (s: LatticeState) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new LatticeState(nc, opts.lattice, { domain: opts.jsDomain, timeoutMs: opts.timeout })));
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function printLinks(links: Link[], opts: OutputOpts): void {
  const sorted = [...links].sort((a, b) => a.source.localeCompare(b.source) || a.interface.localeCompare(b.interface) || a.name.localeCompare(b.name));
  if (opts.output === "json") return printJson(sorted);
  printTable(
    ["SOURCE", "TARGET", "INTERFACE", "NAME", "CONFIG"],
    sorted.map((l) => [l.source, l.target, l.interface, l.name, l.config.join(",") || "-"]),
  );
}

export function linkCommand(): Command {
  const put = new Command("put")
    .description("link SOURCE's calls on INTERFACE to TARGET (replaces the link of the same source, interface and name)")
    .argument("<source>", "the caller: an actor id, or a provider id (an HTTP server links to the actor it serves)")
    .argument("<target>", "who answers: a provider id or an actor id")
    .argument("<interface>", "namespace:package/interface (wasi:keyvalue/store), or namespace:package for all its interfaces")
    .addOption(new Option("--name <name>", "link name, for an actor that uses several links of one interface").default(DEFAULT_LINK_NAME))
    .addOption(new Option("--config <name>", "a named config the target reads for this link (repeatable, later wins)").argParser(collect))
    .action(async (source: string, target: string, iface: string, opts: StoreOpts & { name: string; config?: string[] }) => {
      assertTargetId(source);
      assertTargetId(target);
      assertLinkInterface(iface);
      assertLinkName(opts.name);
      const link = await withState(opts, (s) => s.putLink({ source, target, interface: iface, name: opts.name, config: opts.config ?? [] }));
      if (opts.output === "json") return printJson(link);
      process.stdout.write(`linked ${source} -> ${target} for ${iface}${opts.name === DEFAULT_LINK_NAME ? "" : ` (${opts.name})`}\n`);
    });

  const get = new Command("get").description("list the links").action(async (opts: StoreOpts) => printLinks(await withState(opts, (s) => s.links()), opts));

  const del = new Command("del")
    .description("remove a link")
    .argument("<source>")
    .argument("<interface>")
    .addOption(new Option("--name <name>", "link name").default(DEFAULT_LINK_NAME))
    .action(async (source: string, iface: string, opts: StoreOpts & { name: string }) => {
      const removed = await withState(opts, (s) => s.deleteLink(source, iface, opts.name));
      if (opts.output === "json") return printJson({ source, interface: iface, name: opts.name, removed });
      if (!removed) throw new CliError(`no link from ${source} for ${iface} named ${opts.name}`);
      process.stdout.write(`removed the link from ${source} for ${iface}\n`);
    });

  return new Command("link").description("links: where an actor's calls on an interface go").addCommand(withStoreOptions(put)).addCommand(withStoreOptions(get)).addCommand(withStoreOptions(del));
}

export function linksCommand(): Command {
  return withStoreOptions(new Command("links").description("list the links of the lattice").action(async (opts: StoreOpts) => printLinks(await withState(opts, (s) => s.links()), opts)));
}

export function configCommand(): Command {
  const put = new Command("put")
    .description("set a named config (replaces its values); links and actors name it to read it")
    .argument("<name>")
    .argument("<key=value...>", "the values")
    .action(async (name: string, pairs: string[], opts: StoreOpts) => {
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
    });

  const get = new Command("get")
    .description("show a named config, or list them all")
    .argument("[name]")
    .action(async (name: string | undefined, opts: StoreOpts) => {
      if (name === undefined) {
        const all = await withState(opts, (s) => s.configs());
        if (opts.output === "json") return printJson(all);
        return printTable(["NAME", "VALUES"], all.map((c) => [c.name, formatLabels(c.values)]));
      }
      const config = await withState(opts, (s) => s.getConfig(name));
      if (!config) throw new CliError(`no config named ${name} in lattice ${opts.lattice}`);
      if (opts.output === "json") return printJson(config);
      printTable(["KEY", "VALUE"], Object.entries(config.values));
    });

  const del = new Command("del")
    .description("remove a named config")
    .argument("<name>")
    .action(async (name: string, opts: StoreOpts) => {
      const removed = await withState(opts, (s) => s.deleteConfig(name));
      if (opts.output === "json") return printJson({ name, removed });
      if (!removed) throw new CliError(`no config named ${name} in lattice ${opts.lattice}`);
      process.stdout.write(`removed config ${name}\n`);
    });

  return new Command("config").description("named config: values that links and actors read").addCommand(withStoreOptions(put)).addCommand(withStoreOptions(get)).addCommand(withStoreOptions(del));
}
