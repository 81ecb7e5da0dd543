#!/usr/bin/env node
/**
 * The `lattice` command. Every command leaves through the one exit path at the end of this
 * file, with its exit code, whatever it still has open: a failed first connect of nats.js, for
 * one, leaves its socket open (its transport's close() does nothing before the NATS handshake),
 * so a command pointed at a port that accepts TCP but speaks another protocol (a WebSocket or
 * HTTP port) printed its error and then never exited.
 */
import { CommanderError } from "commander";
import { EXIT_CLOSED_PIPE, MESSAGE_PREFIX, exitQuietlyOnClosedPipe, readerWentAway } from "./output.js";
import { latticeProgram } from "./program.js";

async function run(argv: string[]): Promise<number> {
  try {
    await latticeProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    // Commander has printed help, the version or the usage error already.
    if (e instanceof CommanderError) return e.exitCode;
    // Imported only on failure: it knows the NATS and nats-server errors (see program.ts).
    const { CliError, describeError } = await import("./errors.js");
    process.stderr.write(`${MESSAGE_PREFIX}${describeError(e)}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

/** Resolves once what was written to `stream` has been handed to the system. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  return new Promise((resolve) => stream.write("", () => resolve()));
}

exitQuietlyOnClosedPipe();
const code = await run(process.argv);
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// A write that found no reader reports it on a later tick: let that come before deciding.
await new Promise((resolve) => setImmediate(resolve));
process.exit(readerWentAway() ? EXIT_CLOSED_PIPE : code);
