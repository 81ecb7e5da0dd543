#!/usr/bin/env node
/** The `lattice` command. */
import { Command, CommanderError } from "commander";
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
import { CliError, describeError } from "./errors.js";

const program = new Command("lattice")
  .description("a self-forming application network of WebAssembly actors and capability providers over NATS")
  .version(LATTICE_VERSION)
  .showHelpAfterError()
  .exitOverride()
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

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Commander has printed help, the version or the usage error already.
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`lattice: ${describeError(e)}\n`);
    process.exitCode = e instanceof CliError ? e.exitCode : 1;
  }
}
