/**
 * The trace context of the http-server provider's requests. A request's `traceparent` header is
 * honoured: with tracing on, the request is a SERVER span (HTTP semantic-convention attributes)
 * child of it, the span's context is what the actor call carries, and the response says it in a
 * W3C `traceresponse` header; with tracing off, a valid header is passed on to the actor call
 * unchanged and nothing is added to the response.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { endFailedSpan, endSpan, parseTraceparent, startHttpServerSpan, tracingOn, type TracedSpan } from "../../nats/tracing.js";

export const TRACEPARENT_HEADER = "traceparent";
/** W3C Trace Context Level 2: the server's span, on the response. */
export const TRACERESPONSE_HEADER = "traceresponse";

/** What a traced response adds to its headers: the request's span's `traceresponse`. */
const traced = new WeakMap<ServerResponse, string>();

/**
 * The trace context to send with the request's actor call: the request span's when tracing is
 * on (the span ends when the response is done), else the request's own valid `traceparent`.
 */
export function requestTrace(req: IncomingMessage, res: ServerResponse, target: string, linkName: string, hostId: string | undefined): string | undefined {
  const raw = req.headers[TRACEPARENT_HEADER];
  const header = Array.isArray(raw) ? raw[0] : raw;
  if (!tracingOn()) return header !== undefined && parseTraceparent(header) ? header : undefined;
  const span = startHttpServerSpan(req.method ?? "GET", header, requestAttributes(req, target, linkName, hostId));
  traced.set(res, span.traceparent);
  res.once("close", () => endRequestSpan(span, res));
  return span.traceparent;
}

/** Add the response's `traceresponse` header, when its request is traced. */
export function addTraceResponse(res: ServerResponse, headers: string[]): void {
  const t = tracingOn() ? traced.get(res) : undefined;
  if (t) headers.push(TRACERESPONSE_HEADER, t);
}

function requestAttributes(req: IncomingMessage, target: string, linkName: string, hostId: string | undefined): Record<string, string | number> {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const local = req.socket.localPort;
  return {
    "http.request.method": req.method ?? "GET",
    "url.scheme": "http",
    "url.path": q < 0 ? url : url.slice(0, q),
    ...(q < 0 ? {} : { "url.query": url.slice(q + 1) }),
    ...(req.headers.host ? { "server.address": req.headers.host.replace(/:\d+$/, "") } : {}),
    ...(local ? { "server.port": local } : {}),
    ...(req.socket.remoteAddress ? { "client.address": req.socket.remoteAddress } : {}),
    ...(req.headers["user-agent"] ? { "user_agent.original": req.headers["user-agent"] } : {}),
    "network.protocol.version": req.httpVersion,
    "lattice.target": target,
    "lattice.link": linkName,
    ...(hostId ? { "lattice.host": hostId } : {}),
  };
}

/** A server span fails on a 5xx answer (a 4xx is the client's, per the HTTP conventions), or on no answer. */
function endRequestSpan(span: TracedSpan, res: ServerResponse): void {
  const status = res.headersSent ? res.statusCode : 0;
  if (status) span.span.setAttribute("http.response.status_code", status);
  if (status >= 500 || status === 0) {
    span.span.setAttribute("error.type", status ? String(status) : "no response");
    endFailedSpan(span, status ? `HTTP ${status}` : "the request ended without a response");
  } else {
    endSpan(span);
  }
}
