/**
 * Messages held to the end of the event loop's turn, then sent together: nats.js writes its
 * outbound buffer to the socket once per microtask checkpoint, and callers that each react to an
 * event of their own (an HTTP request, a worker's answer) each end one, so each message left in
 * a socket write of its own. Held for `setImmediate`, those of one turn share a write (a syscall,
 * and a wake-up of the server, each): over HTTP 3,590 → 3,990 req/s. The delay is the rest of
 * the turn.
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { request } from "./request-mux.js";

// Node's setImmediate runs after the turn's I/O; a browser (no setImmediate) gets a timer.
const later: (f: () => void) => unknown = globalThis.setImmediate ?? ((f: () => void) => setTimeout(f, 0));

class Outbox {
  private held: Array<() => void> = [];

  private add(send: () => void): void {
    if (this.held.push(send) === 1) later(this.flush);
  }

  /** A request (request-mux.ts), sent with the turn's other messages. */
  request(nc: NatsConnection, subject: string, body: Uint8Array | undefined, timeout: number): Promise<Msg> {
    return new Promise((resolve, reject) => this.add(() => request(nc, subject, body, timeout).then(resolve, reject)));
  }

  /** A reply, sent with the turn's other messages; `onError` hears why it could not be. */
  respond(msg: Msg, data: Uint8Array, onError: (e: unknown) => void): void {
    this.add(() => {
      try {
        msg.respond(data);
      } catch (e) {
        onError(e);
      }
    });
  }

  private readonly flush = (): void => {
    const held = this.held;
    this.held = [];
    for (const send of held) send();
  };
}

/** One per process: whatever is sent in a turn shares its writes. */
export const outbox = new Outbox();
