/**
 * Calling a component's `lattice:http/plain-handler` export (guest/lattice-http.wit) with an
 * HttpRequest value, inside the actor worker: the request and the response cross as plain
 * records, one call, where `wasi:http/incoming-handler` (http-incoming.ts) takes a dozen calls on
 * resources. `lattice build` gives every HTTP actor it layers this export; a host prefers it.
 *
 * The request and the response are cleaned as on the wasi:http path: `host`, `content-length` and
 * hop-by-hop request headers are not passed (the authority carries the host), response header
 * names are lower-cased and hop-by-hop ones dropped, and a body over MAX_HTTP_BODY is refused.
 */
import { ErrorCode, LatticeError } from "../protocol/errors.js";
import { HOP_BY_HOP_HEADERS, MAX_HTTP_BODY, type HttpRequest, type HttpResponse } from "../protocol/http.js";

export const PLAIN_HTTP_INTERFACE = "lattice:http/plain-handler";

/** The export's `handle(request) -> response` as jco presents it. */
export type PlainHandle = (request: unknown) => unknown;

interface PlainResponse {
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
}

function isPlainResponse(v: unknown): v is PlainResponse {
  const r = v as PlainResponse | null;
  return (
    typeof r === "object" &&
    r !== null &&
    Number.isInteger(r.status) &&
    r.body instanceof Uint8Array &&
    Array.isArray(r.headers) &&
    r.headers.every((h) => Array.isArray(h) && typeof h[0] === "string" && typeof h[1] === "string")
  );
}

/** Serve one request. Throws LatticeError (`payload_too_large`, `bad_reply`) or what the guest threw. */
export function servePlainHttp(handle: PlainHandle, req: HttpRequest): HttpResponse {
  const headers: Array<[string, string]> = [];
  let host: string | undefined;
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (lower === "host") host ??= value;
    else if (lower !== "content-length" && !HOP_BY_HOP_HEADERS.has(lower)) headers.push([name, value]);
  }
  const out = handle({
    method: req.method,
    pathWithQuery: req.pathWithQuery,
    scheme: req.scheme || "http",
    authority: req.authority || host || "localhost",
    headers,
    body: req.body,
  });
  if (!isPlainResponse(out) || out.status < 100 || out.status > 999) {
    throw new LatticeError(ErrorCode.BadReply, "the HTTP handler answered something that is not a response (status 100-999, headers, body)");
  }
  if (out.body.length > MAX_HTTP_BODY) throw new LatticeError(ErrorCode.PayloadTooLarge, `the HTTP response body is over ${MAX_HTTP_BODY} bytes`);
  const clean: Array<[string, string]> = [];
  for (const [name, value] of out.headers) {
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP_HEADERS.has(lower)) clean.push([lower, value]);
  }
  return { status: out.status, headers: clean, body: out.body };
}
