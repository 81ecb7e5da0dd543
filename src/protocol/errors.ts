/** Error codes carried in control replies and raised by the codecs. Stable strings: part of the protocol. */
export const ErrorCode = {
  /** The message is not valid JSON or does not match the operation's schema. */
  BadRequest: "bad_request",
  /** The message exceeds the size limit of its subject. */
  PayloadTooLarge: "payload_too_large",
  /** The subject names an operation this host does not serve. */
  UnknownOperation: "unknown_operation",
  /** The id in the request names nothing known here. */
  NotFound: "not_found",
  /** No answer arrived within the deadline. */
  Timeout: "timeout",
  /** Nobody is there to answer (no responders, NATS unreachable). */
  Unavailable: "unavailable",
  /** A reply did not match its schema: the peer speaks another protocol or is broken. */
  BadReply: "bad_reply",
  /** The actor trapped (a Wasm trap or a thrown guest exception); its instance was replaced. */
  Trap: "trap",
  /** The actor's function returned the error case of its `result`. */
  GuestError: "guest_error",
  /** The responder failed while handling a valid request. */
  Internal: "internal",
  /** Refused by policy: an actor's claims are missing or invalid, or do not allow the call. */
  Forbidden: "forbidden",
  /** The host has no room for what was asked (memory): the message gives the figures, needed and free. */
  InsufficientResources: "insufficient_resources",
  /** A signed invocation was required and this call's signature is missing, forged, stale or replayed. */
  Unauthenticated: "unauthenticated",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ERROR_CODES: readonly ErrorCode[] = Object.values(ErrorCode);

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === "string" && (ERROR_CODES as readonly string[]).includes(s);
}

/** An error with a protocol code, safe to send on the wire as `{ code, message }`. */
export class LatticeError extends Error {
  override readonly name = "LatticeError";
  /** For `guest_error`: the error value of the function's `result`. */
  payload?: unknown;

  /** `options.cause`: the error underneath (a NATS or JetStream error), for logs and debuggers; never sent. */
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  toWire(): { code: ErrorCode; message: string; payload?: unknown } {
    return this.payload === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, payload: this.payload };
  }
}

export function isLatticeError(e: unknown): e is LatticeError {
  return e instanceof LatticeError;
}

/** What went wrong, in words: an Error's message, or anything else as a string. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
