/** The `lattice` command tree (main.ts runs it). */
import { Command } from "commander";
import { LATTICE_VERSION } from "../protocol/index.js";
import { scaleCommand, startCommand, stopCommand } from "./commands/actor.js";
import { appCommand } from "./commands/app.js";
import { buildCommand } from "./commands/build.js";
import { callCommand } from "./commands/call.js";
import { claimsCommands } from "./commands/claims.js";
import { downCommand } from "./commands/down.js";
import { eventsCommand } from "./commands/events.js";
import { getCommand } from "./commands/get.js";
import { hostCommand } from "./commands/host.js";
import { pushCommand } from "./commands/push.js";
import { securityCommand } from "./commands/security.js";
import { configCommand, linkCommand } from "./commands/state.js";
import { upCommand } from "./commands/up.js";

export function latticeProgram(): Command {
  const program = new Command("lattice")
    .description("a self-forming application network of WebAssembly actors and capability providers over NATS")
    .version(LATTICE_VERSION)
    .showHelpAfterError()
    .addCommand(upCommand())
    .addCommand(downCommand())
    .addCommand(hostCommand())
    .addCommand(getCommand())
    .addCommand(eventsCommand())
    .addCommand(buildCommand())
    .addCommand(pushCommand())
    .addCommand(startCommand())
    .addCommand(scaleCommand())
    .addCommand(stopCommand())
    .addCommand(callCommand())
    .addCommand(linkCommand())
    .addCommand(configCommand())
    .addCommand(appCommand())
    .addCommand(securityCommand());
  for (const cmd of claimsCommands()) program.addCommand(cmd);
  // Usage errors, --help and --version end in main.ts's exit path too. Commands added with
  // addCommand() do not inherit this setting, so each gets it.
  for (const cmd of allCommands(program)) cmd.exitOverride();
  return program;
}

/** The program and every command under it, parents first. */
export function allCommands(root: Command): Command[] {
  return [root, ...root.commands.flatMap((c) => allCommands(c))];
}
