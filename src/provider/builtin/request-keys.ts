/**
 * The idempotency key of each HTTP request the http-server hands to an actor: made once per
 * request and kept by every resend of it, so that what the request does downstream is done once
 * however often it is sent (the calls the actor makes derive their keys from it).
 *
 * A client may name it with an `Idempotency-Key` header (the IETF httpapi draft): then a request
 * sent again with the same key, by a client that never saw the first answer, is the same call
 * too. The key is scoped to the actor it goes to; one reused for a different request (another
 * method, path or body) within KEY_MEMORY_MS is refused with 422 rather than taken for the first.
 */
import { createHash, randomUUID } from "node:crypto";

/** How long a client's key is remembered with the request it came with. */
const KEY_MEMORY_MS = 10 * 60_000;
const KEYS_REMEMBERED = 10_000;
const CLIENT_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The call id, and for a client's key sent again the deadline of its first request: every retry
 * of a call keeps its deadline, which is how the actor's end tells a retry from a reused key.
 */
export type KeyOutcome = { callId: string; deadline?: number } | { status: 400 | 422; reason: string };

export class RequestKeys {
  /** Client keys by call id: the request they came with (a hash), its deadline, and until when. */
  private readonly seen = new Map<string, { request: string; deadline: number; until: number }>();

  /** The call id for a request to `target` due by `deadline`; `clientKey` is its Idempotency-Key header, if any. */
  callIdFor(target: string, clientKey: string | undefined, method: string, path: string, body: Uint8Array, deadline: number): KeyOutcome {
    if (clientKey === undefined) return { callId: randomUUID() };
    if (!CLIENT_KEY.test(clientKey)) return { status: 400, reason: "bad request: Idempotency-Key must be 1-255 printable characters without spaces" };
    const callId = `ik.${createHash("sha256").update(`${target}\n${clientKey}`).digest("base64url").slice(0, 32)}`;
    const request = createHash("sha256").update(`${method} ${path}\n`).update(body).digest("base64url");
    const now = Date.now();
    const known = this.seen.get(callId);
    if (known && known.until > now) {
      if (known.request !== request) return { status: 422, reason: "unprocessable: this Idempotency-Key was used for a different request" };
      // Sent again while the first may still be running: the same call, with the same deadline.
      if (known.deadline > now) return { callId, deadline: known.deadline };
    }
    this.seen.delete(callId);
    this.seen.set(callId, { request, deadline, until: now + KEY_MEMORY_MS });
    for (const [id, e] of this.seen) {
      if (e.until > now && this.seen.size <= KEYS_REMEMBERED) break;
      this.seen.delete(id);
    }
    return { callId };
  }
}
