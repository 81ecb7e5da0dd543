/**
 * Waiting out a JetStream that is briefly away: a stream electing a new leader after its server
 * died (seconds, measured: up to ~7 s with three servers on loopback), a client reconnecting to
 * another server. Only for operations that are safe to send twice (a read, or a write carrying a
 * message id the stream deduplicates).
 */
import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/nats-core";
import { JetStreamApiError } from "@nats-io/jetstream";

/** Less time left than this, and the error is passed on rather than waited out. */
const MIN_LEFT_MS = 100;
const FIRST_WAIT_MS = 50;
const MAX_WAIT_MS = 1_000;

/** An error that says "not now" rather than "no": no responders, a timeout, "temporarily unavailable". */
export function isPassing(e: unknown): boolean {
  if (e instanceof TimeoutError || e instanceof NoRespondersError) return true;
  if (e instanceof RequestError) return e.isNoResponders();
  // nats.js turns a publish's "no responders" (the stream has no leader now) into this.
  if (e instanceof Error && e.name === "JetStreamNotEnabled") return true;
  return e instanceof JetStreamApiError && (e.status === 503 || e.code === 10008);
}

/** Run `op`, again after a growing pause while it fails with a passing error and `deadline` (epoch ms) allows. */
export async function untilDeadline<T>(deadline: number, op: () => Promise<T>): Promise<T> {
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(MAX_WAIT_MS, wait * 2)) {
    try {
      return await op();
    } catch (e) {
      if (!isPassing(e) || Date.now() + wait + MIN_LEFT_MS > deadline) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
