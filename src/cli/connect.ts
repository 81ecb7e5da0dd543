/** Opening NATS and a control client for a command, from the options every command shares. */
import type { NatsConnection } from "@nats-io/nats-core";
import { LatticeClient } from "../ctl/index.js";
import { connectionAuth } from "../nats/node/auth.js";
import { connectNode } from "../nats/node/connect.js";
import { RESILIENT, parseServers } from "../nats/connection-options.js";
import type { LatticeOpts } from "./lattice-options.js";

/** Connect for a command. One-shot commands fail at once; streams keep reconnecting. */
export async function openConnection(opts: LatticeOpts, longLived = false): Promise<NatsConnection> {
  return connectNode({
    ...(longLived ? RESILIENT : { maxReconnectAttempts: 0, timeout: 3_000 }),
    ...connectionAuth(opts),
    servers: parseServers(opts.natsUrl),
    name: "lattice-cli",
  });
}

/** Run `fn` with a one-shot connection, and close it whatever happens. */
export async function withConnection<T>(opts: LatticeOpts, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await openConnection(opts);
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Run `fn` with a control client, and close the connection whatever happens. */
export function withClient<T>(opts: LatticeOpts & { timeout?: number }, fn: (c: LatticeClient) => Promise<T>): Promise<T> {
  return withConnection(opts, (nc) => fn(new LatticeClient(nc, opts.lattice, { timeoutMs: opts.timeout })));
}
