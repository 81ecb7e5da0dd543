/** `lattice spy ID`: stream the calls to and from an actor or provider live (what it does: actions/spy.ts). */
import { Command, Option } from "commander";
import type { SpyOpts } from "../actions/spy.js";
import { parsePositiveInt } from "../parse.js";
import { withStoreOptions } from "./artifacts.js";

export function spyCommand(): Command {
  const cmd = new Command("spy")
    .description(
      "stream every call to and from an actor or provider as it happens (Ctrl-C to stop): caller, target, function, duration, sizes, result; " +
        "JSON output is one record per line. An id nothing serves and no link names is an error, unless --wait",
    )
    .argument("<id>", "the actor or provider id")
    .addOption(new Option("--wait", "keep waiting when nothing serves the id yet (default: fail at once with not_found)"))
    .addOption(new Option("--count <n>", "exit after this many calls").argParser(parsePositiveInt))
    .action(async (id: string, opts: SpyOpts) => (await import("../actions/spy.js")).spy(id, opts));
  return withStoreOptions(cmd);
}
