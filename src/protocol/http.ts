/**
 * HTTP over invocations: how a `wasi:http/incoming-handler` actor is called with plain values.
 *
 * Invoking function `handle` of interface `wasi:http/incoming-handler` with the arguments
 * `[HttpRequest]` answers an `HttpResponse`. The actor itself only sees the standard wasi:http
 * resources (the host builds them from the request); callers only see these two records, so a
 * provider, the CLI or another implementation can call an HTTP actor without wasi:http resources
 * crossing the lattice.
 *
 * - Header values are strings (UTF-8 text), each header one `[name, value]` pair; a repeated
 *   header is several pairs. Names are matched case-insensitively.
 * - Bodies are bytes (`Uint8Array`, MessagePack `bin`), whole: no streaming. An invocation holds at
 *   most `MAX_INVOCATION_PAYLOAD` bytes (about 1 MiB) in all, so that, and not `MAX_HTTP_BODY`, is
 *   the practical limit of a body over NATS today.
 * - A receiver also accepts `body` as text (UTF-8) and `headers` or `body` left out, so callers
 *   without bytes (`lattice call` with JSON arguments) can make a request.
 * - Hop-by-hop headers (`connection`, `keep-alive`, `transfer-encoding`, …) mean nothing here:
 *   they are dropped on the way in and recomputed on the way out.
 */
import { Type, type Static } from "@sinclair/typebox";
import { validate } from "./codec.js";
import { ErrorCode, LatticeError, messageOf } from "./errors.js";
import { unversioned } from "./links.js";

/** The interface and function of the convention. */
export const HTTP_INCOMING_HANDLER = "wasi:http/incoming-handler";
export const HTTP_HANDLE = "handle";

/** Largest request or response body the host's HTTP paths accept (bytes). */
export const MAX_HTTP_BODY = 8 * 1024 * 1024;

/** Headers a single connection owns; they are not passed through an invocation. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

const Header = Type.Tuple([Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 64 * 1024 })]);

export const HttpRequest = Type.Object({
  /** Upper-case by convention (`GET`), any HTTP token is allowed. */
  method: Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$" }),
  /** Path and query as sent (`/x?y=1`), starting with `/` (or `*`). */
  pathWithQuery: Type.String({ minLength: 1, maxLength: 16 * 1024 }),
  /** `http` or `https`; what the client used. Optional. */
  scheme: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  /** `host[:port]` the client addressed (its Host header). Optional. */
  authority: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
  headers: Type.Array(Header, { maxItems: 1024 }),
  body: Type.Uint8Array(),
});
/** What a caller sends. */
export type HttpRequest = Static<typeof HttpRequest>;

/**
 * What a receiver accepts: also a body given as text (UTF-8) and no headers or body at all, for
 * callers that have no bytes to give (`lattice call` with JSON arguments).
 */
const LenientHttpRequest = Type.Object({
  ...HttpRequest.properties,
  headers: Type.Optional(HttpRequest.properties.headers),
  body: Type.Optional(Type.Union([Type.Uint8Array(), Type.String()])),
});

export const HttpResponse = Type.Object({
  status: Type.Integer({ minimum: 100, maximum: 999 }),
  headers: Type.Array(Header, { maxItems: 1024 }),
  body: Type.Uint8Array(),
});
export type HttpResponse = Static<typeof HttpResponse>;

/** True for a call that follows this convention (the interface with or without a version). */
export function isHttpHandleCall(iface: string, fn: string): boolean {
  return unversioned(iface) === HTTP_INCOMING_HANDLER && fn === HTTP_HANDLE;
}

/** The arguments of a `handle` call: exactly one HttpRequest (leniently read). Throws `bad_request`. */
export function httpRequestArgs(args: readonly unknown[]): HttpRequest {
  if (args.length !== 1) {
    throw new LatticeError(ErrorCode.BadRequest, `${HTTP_INCOMING_HANDLER}.${HTTP_HANDLE} takes one argument, an HttpRequest; got ${args.length}`);
  }
  const v = validate(LenientHttpRequest, args[0], "HttpRequest");
  const body = typeof v.body === "string" ? new TextEncoder().encode(v.body) : (v.body ?? new Uint8Array());
  if (body.length > MAX_HTTP_BODY) throw new LatticeError(ErrorCode.PayloadTooLarge, `request body is ${body.length} bytes, over ${MAX_HTTP_BODY}`);
  return { ...v, headers: v.headers ?? [], body };
}

/** An actor's answer to `handle`, checked. Throws `bad_reply`. */
export function httpResponseOf(value: unknown): HttpResponse {
  try {
    return validate(HttpResponse, value, "HttpResponse");
  } catch (e) {
    throw new LatticeError(ErrorCode.BadReply, messageOf(e));
  }
}
