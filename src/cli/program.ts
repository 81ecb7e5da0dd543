/**
 * The `lattice` command tree (main.ts runs it; the docs test walks it).
 *
 * A command answers as fast as Node starts only if it loads nothing it does not use, and every
 * run builds the whole tree. So the tree is names, options, their checks and help, and nothing
 * more: each commands/<name>.ts imports only commander, the option helpers and the protocol's
 * schema-free modules (names.ts, errors.ts, durations.ts…), never the protocol's index, NATS,
 * the host or the actor runtime. Each action loads its module, actions/<name>.ts, with a
 * dynamic import when it runs (see commands/get.ts).
 */
import { Command } from "commander";
import { LATTICE_VERSION } from "../protocol/version.js";
import { scaleCommand, startCommand, stopCommand } from "./commands/actor.js";
import { appCommand } from "./commands/app.js";
import { deleteCommand } from "./commands/artifacts.js";
import { buildCommand } from "./commands/build.js";
import { callCommand } from "./commands/call.js";
import { claimsCommands } from "./commands/claims.js";
import { devCommand } from "./commands/dev.js";
import { downCommand } from "./commands/down.js";
import { eventsCommand } from "./commands/events.js";
import { getCommand } from "./commands/get.js";
import { hostCommand } from "./commands/host.js";
import { logsCommand } from "./commands/logs.js";
import { pushCommand } from "./commands/push.js";
import { securityCommand } from "./commands/security.js";
import { spyCommand } from "./commands/spy.js";
import { configCommand, linkCommand } from "./commands/state.js";
import { uiCommand } from "./commands/ui.js";
import { upCommand } from "./commands/up.js";
import { MESSAGE_PREFIX } from "./output.js";

export function latticeProgram(): Command {
  const program = new Command("lattice")
    .description("a self-forming application network of WebAssembly actors and capability providers over NATS")
    .version(LATTICE_VERSION)
    .addCommand(upCommand())
    .addCommand(downCommand())
    .addCommand(hostCommand())
    .addCommand(getCommand())
    .addCommand(eventsCommand())
    .addCommand(spyCommand())
    .addCommand(logsCommand())
    .addCommand(buildCommand())
    .addCommand(devCommand())
    .addCommand(pushCommand())
    .addCommand(deleteCommand())
    .addCommand(startCommand())
    .addCommand(scaleCommand())
    .addCommand(stopCommand())
    .addCommand(callCommand())
    .addCommand(linkCommand())
    .addCommand(configCommand())
    .addCommand(appCommand())
    .addCommand(securityCommand())
    .addCommand(uiCommand());
  for (const cmd of claimsCommands()) program.addCommand(cmd);
  for (const cmd of allCommands(program)) usageErrors(cmd);
  return program;
}

/** The program and every command under it, parents first. */
export function allCommands(root: Command): Command[] {
  return [root, ...root.commands.flatMap((c) => allCommands(c))];
}

/** `lattice get hosts`, for a command of the tree. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * Commander's usage errors the way the CLI's own read (`lattice: …`, not `error: …`), with a
 * pointer to the help, and thrown to main.ts's exit path. Commands added with addCommand() do
 * not inherit these settings, so each gets them.
 */
function usageErrors(cmd: Command): void {
  cmd
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, MESSAGE_PREFIX)) })
    .showHelpAfterError(`(see \`${commandPath(cmd)} --help\`)`);
}
