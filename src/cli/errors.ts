/** Turning any failure into the one-line message the CLI prints before exiting non-zero. */
import { NatsUnreachableError } from "../nats/connection-options.js";
import { NatsServerStartError } from "../nats/node/server-launcher.js";
import { isLatticeError } from "../protocol/index.js";

/** A failure whose message is already what the user should read. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function describeError(e: unknown): string {
  if (e instanceof NatsUnreachableError) {
    // A TCP port that accepts but never sends NATS' INFO (a WebSocket or HTTP port) times out.
    const hint = /timeout/i.test(e.reason) ? " (something may listen there, but it did not answer as a NATS server: is it NATS' client port?)" : "";
    return `${e.message}${hint}. Start a local lattice with \`lattice up\`, or point --nats-url (or LATTICE_NATS_URL) at a running NATS server.`;
  }
  if (e instanceof NatsServerStartError) return e.summary;
  if (isLatticeError(e)) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
