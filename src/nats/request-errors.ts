/** Reading nats.js request failures: both callers of requests (control and invocations) need it. */
import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/nats-core";

/** Nobody is subscribed: nats.js reports it as a RequestError whose cause is a NoRespondersError. */
export function isNoResponders(e: unknown): boolean {
  return e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());
}

/** No answer in time, possibly wrapped by nats.js. */
export function isTimeout(e: unknown): boolean {
  return e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError);
}
