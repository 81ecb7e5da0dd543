/**
 * `lattice dev SOURCE`: build an actor, run it on a lattice (started when none answers), and make
 * each save live on every instance without dropping a call (what it does: actions/dev.ts).
 */
import { Command, Option } from "commander";
import { ENGINE_FEATURES, HTTP_HANDLERS } from "../../actor/build.js";
import type { DevOpts } from "../actions/dev.js";
import { withJsDomainOption } from "./artifacts.js";
import { withLatticeOptions, withOutputOption } from "../lattice-options.js";
import { parsePort, parsePositiveInt } from "../parse.js";
import { defaultStateDir } from "../up-state.js";

export function devCommand(): Command {
  const cmd = new Command("dev")
    .description("build an actor, run it, and make every save of its source live on all its instances without dropping a call")
    .argument("<source>", "the actor's entry module (.js, .mjs, .ts or .mts)")
    .addOption(new Option("--wit <dir>", "WIT directory (with deps/) or .wit file (default: wit/ beside the source)"))
    .addOption(new Option("--world <name>", "the world the actor targets (default: the WIT package's only world)"))
    .addOption(new Option("--id <id>", "the actor's id (default: the source's file name)"))
    .addOption(new Option("--scale <n>", "instances to run").default(1).argParser(parsePositiveInt))
    .addOption(new Option("--disable <features>", `engine features to leave out, comma-separated: ${ENGINE_FEATURES.join(", ")}`))
    .addOption(new Option("--http-handler <how>", "an HTTP actor's fetch handling, as for `lattice build`").choices(HTTP_HANDLERS).default("layer"))
    .addOption(new Option("--nats-port <port>", "client port of the nats-server started when no lattice answers (0: any free port)").default(4222).argParser(parsePort))
    .addOption(new Option("--state-dir <dir>", "where the lattice started records pids, logs and JetStream data (as `lattice up`)").default(defaultStateDir()))
    .addHelpText(
      "after",
      "\nExample:\n  lattice dev examples/echo/echo.ts --world echo-actor\n  (in another terminal) lattice call echo acme:demo/echo.echo '[\"hi\"]'",
    )
    .action(async (source: string, opts: DevOpts, command: Command) => (await import("../actions/dev.js")).dev(source, opts, command));
  return withJsDomainOption(withOutputOption(withLatticeOptions(cmd)));
}
