/** `lattice link put|get|del`, `lattice config put|get|del`, `lattice get links`: lattice state (what they do: actions/state.ts). */
import { Command, Option } from "commander";
import type { LinkDelOpts, LinkPutOpts } from "../actions/state.js";
import { DEFAULT_LINK_NAME } from "../../protocol/names.js";
import { withStoreOptions, type StoreOpts } from "./artifacts.js";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function linkCommand(): Command {
  const put = new Command("put")
    .description("link SOURCE's calls on INTERFACE to TARGET (replaces the link of the same source, interface and name)")
    .argument("<source>", "the caller: an actor id, or a provider id (an HTTP server links to the actor it serves)")
    .argument("<target>", "who answers: a provider id or an actor id")
    .argument("<interface>", "namespace:package/interface (wasi:keyvalue/store), or namespace:package for all its interfaces")
    .addOption(new Option("--name <name>", "link name, for an actor that uses several links of one interface").default(DEFAULT_LINK_NAME))
    .addOption(new Option("--config <name>", "a named config the target reads for this link (repeatable, later wins)").argParser(collect))
    .action(async (source: string, target: string, iface: string, opts: LinkPutOpts) => (await import("../actions/state.js")).linkPut(source, target, iface, opts));

  const get = new Command("get").description("list the links").action(async (opts: StoreOpts) => (await import("../actions/state.js")).linkGet(opts));

  const del = new Command("del")
    .description("remove a link")
    .argument("<source>")
    .argument("<interface>")
    .addOption(new Option("--name <name>", "link name").default(DEFAULT_LINK_NAME))
    .action(async (source: string, iface: string, opts: LinkDelOpts) => (await import("../actions/state.js")).linkDel(source, iface, opts));

  return new Command("link").description("links: where an actor's calls on an interface go").addCommand(withStoreOptions(put)).addCommand(withStoreOptions(get)).addCommand(withStoreOptions(del));
}

export function linksCommand(): Command {
  return withStoreOptions(
    new Command("links").description("list the links of the lattice").action(async (opts: StoreOpts) => (await import("../actions/state.js")).linkGet(opts)),
  );
}

export function configCommand(): Command {
  const put = new Command("put")
    .description("set a named config (replaces its values); links and actors name it to read it")
    .argument("<name>")
    .argument("<key=value...>", "the values")
    .action(async (name: string, pairs: string[], opts: StoreOpts) => (await import("../actions/state.js")).configPut(name, pairs, opts));

  const get = new Command("get")
    .description("show a named config, or list them all")
    .argument("[name]")
    .action(async (name: string | undefined, opts: StoreOpts) => (await import("../actions/state.js")).configGet(name, opts));

  const del = new Command("del")
    .description("remove a named config")
    .argument("<name>")
    .action(async (name: string, opts: StoreOpts) => (await import("../actions/state.js")).configDel(name, opts));

  return new Command("config").description("named config: values that links and actors read").addCommand(withStoreOptions(put)).addCommand(withStoreOptions(get)).addCommand(withStoreOptions(del));
}
