/**
 * A request to every host, answered by each: nats.js `requestMany` with the stall strategy (the
 * answers end once none has come for `stallMs`), ending sooner when the answers say how many
 * hosts there are. Each host that has a seeded view of the lattice puts in its answer how many
 * live hosts it knows (`HostInfo.knownHosts`); once that many answers are in, no one is left to
 * wait for. A host that some view still holds after it died makes the count unreachable: the
 * stall ends the wait then, as it would without counts.
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";

export interface GatherOptions {
  /** The answers end once none has come for this long. */
  stallMs: number;
  /** And at the latest after this long. */
  maxWaitMs: number;
}

/**
 * Send `body` to `subject` and hand each answer to `take`, which returns the number of hosts the
 * answering one knows (or undefined), or "skip" for an answer that is not one of those counted.
 * Rejects as `requestMany` does (no responders: nobody there).
 */
export async function gather(nc: NatsConnection, subject: string, body: Uint8Array | undefined, opts: GatherOptions, take: (m: Msg) => number | "skip" | undefined): Promise<void> {
  const answers = await nc.requestMany(subject, body, { strategy: "stall", stall: opts.stallMs, maxWait: opts.maxWaitMs });
  let count = 0;
  let expected = 0;
  for await (const m of answers) {
    const known = take(m);
    if (known === "skip") continue;
    count++;
    expected = Math.max(expected, known ?? 0);
    if (expected > 0 && count >= expected) break;
  }
}
