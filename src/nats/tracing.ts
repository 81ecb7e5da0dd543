/**
 * Trace spans of invocations, with the OpenTelemetry API, when tracing is switched on
 * (`enableTracing`: node/tracing-setup.ts does it from the `OTEL_*` environment, a test with a
 * tracer provider of its own). Off, nothing here runs: the invocation path asks `tracingOn()`
 * and passes the caller's `traceparent` on unchanged, no span object is made and the
 * OpenTelemetry packages are not even loaded (this module imports only their types, so it runs
 * in a browser page too).
 *
 * On, every served invocation is a SERVER span whose parent is the call's `traceparent`
 * (InvocationServer), and every call sent is a CLIENT span whose context is what goes on the
 * wire (invoke), so the callee's server span is its child. The handler of a served call gets the
 * server span's `traceparent`: the calls it makes for the call (an actor's host calls, a
 * provider's calls) are the server span's children.
 */
import type * as OtelApi from "@opentelemetry/api";
import type { Attributes, Span, SpanContext, Tracer, TracerProvider } from "@opentelemetry/api";
import { ErrorCode, isLatticeError, messageOf } from "../protocol/errors.js";
import { DEFAULT_LINK_NAME } from "../protocol/names.js";
import { LATTICE_VERSION } from "../protocol/version.js";

/** The OpenTelemetry API module, handed in by whoever switches tracing on. */
export type OpenTelemetryApi = typeof OtelApi;

interface Tracing {
  api: OpenTelemetryApi;
  tracer: Tracer;
}

let active: Tracing | undefined;

/** A span being recorded, and the W3C trace context that makes a span its child. */
export interface TracedSpan {
  readonly span: Span;
  readonly traceparent: string;
}

/** Record spans with this tracer provider (default the API's global one) from now on. */
export function enableTracing(api: OpenTelemetryApi, provider: TracerProvider = api.trace.getTracerProvider()): void {
  active = { api, tracer: provider.getTracer("lattice", LATTICE_VERSION) };
}

/** Stop recording spans: trace context is passed on unchanged again. */
export function disableTracing(): void {
  active = undefined;
}

/** Whether spans are recorded: the invocation path's one question when tracing is off. */
export function tracingOn(): boolean {
  return active !== undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * The span context a W3C `traceparent` names, or undefined if it is not a valid one (version
 * `ff`, zero ids, bad hex; a version-00 header with more fields). A later version's extra
 * fields are ignored, as the W3C spec asks.
 */
export function parseTraceparent(header: string | undefined): SpanContext | undefined {
  const m = header === undefined ? null : TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === "ff" || (version === "00" && rest !== undefined) || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & 1, isRemote: true };
}

/** A span context as a version-00 W3C `traceparent`. */
export function formatTraceparent(c: SpanContext): string {
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

function start(t: Tracing, name: string, kind: OtelApi.SpanKind, parent: string | undefined, attributes: Attributes): TracedSpan {
  const remote = parseTraceparent(parent);
  const ctx = remote ? t.api.trace.setSpanContext(t.api.ROOT_CONTEXT, remote) : t.api.ROOT_CONTEXT;
  const span = t.tracer.startSpan(name, { kind, attributes }, ctx);
  return { span, traceparent: formatTraceparent(span.spanContext()) };
}

/**
 * What a span says of the invocation it is: the lattice's own names, and the RPC conventions'.
 * One literal, the optional ones added after: spreads cost more than the span itself.
 */
function callAttributes(target: string, iface: string, fn: string, source: string, callId: string | undefined, link: string | undefined): Attributes {
  const a: Attributes = {
    "rpc.system": "lattice",
    "rpc.service": iface || target,
    "rpc.method": fn,
    "lattice.target": target,
    "lattice.interface": iface,
    "lattice.function": fn,
    "lattice.source": source,
  };
  if (callId) a["lattice.call_id"] = callId;
  if (link && link !== DEFAULT_LINK_NAME) a["lattice.link"] = link;
  return a;
}

function spanName(iface: string, fn: string): string {
  return iface ? `${iface}/${fn}` : fn;
}

/** Which function of which target a call is. */
export interface CallTarget {
  target: string;
  iface: string;
  fn: string;
}

/** What a call's envelope says of it (CallEnvelope's fields). */
export interface CallSent {
  source: string;
  link?: string;
  callId: string;
  traceparent?: string;
}

/**
 * The SERVER span of a served invocation (only while tracingOn()): `host` the host the serving
 * instance runs on, `responder` who answers (`by` on the reply: the host, or the provider).
 */
export function startServerSpan(to: CallTarget, c: CallSent, host: string, responder: string): TracedSpan {
  const t = active!;
  const a = callAttributes(to.target, to.iface, to.fn, c.source, c.callId, c.link);
  a["lattice.host"] = host;
  a["lattice.responder"] = responder;
  return start(t, spanName(to.iface, to.fn), t.api.SpanKind.SERVER, c.traceparent, a);
}

/** What the calling side knows of a call (InvokeRequest's fields). */
export interface CallToSend extends CallTarget {
  source: string;
  linkName?: string;
  traceparent?: string;
}

/** The CLIENT span of a call sent (only while tracingOn()). */
export function startClientSpan(c: CallToSend, callId: string): TracedSpan {
  const t = active!;
  return start(t, spanName(c.iface, c.fn), t.api.SpanKind.CLIENT, c.traceparent, callAttributes(c.target, c.iface, c.fn, c.source, callId, c.linkName));
}

/** A span of HTTP server work (the http-server provider's), parent the request's `traceparent` header. */
export function startHttpServerSpan(name: string, parent: string | undefined, attributes: Attributes): TracedSpan {
  const t = active!;
  return start(t, name, t.api.SpanKind.SERVER, parent, attributes);
}

/** End a span: failed with the error's lattice code and message when `error` is given. */
export function endSpan(s: TracedSpan, error?: unknown): void {
  if (error === undefined) return s.span.end();
  s.span.setAttribute("lattice.error_code", isLatticeError(error) ? error.code : ErrorCode.Internal);
  endFailedSpan(s, messageOf(error));
}

/** End a span as failed, saying why. */
export function endFailedSpan(s: TracedSpan, message: string): void {
  // SpanStatusCode.ERROR, should tracing have been switched off meanwhile.
  s.span.setStatus({ code: active?.api.SpanStatusCode.ERROR ?? 2, message });
  s.span.end();
}

/** End a CLIENT span with the call's outcome: who answered and after how many attempts, or the error. */
export function endClientSpan<R extends { responder?: string; attempts: number }>(s: TracedSpan, result: Promise<R>): Promise<R> {
  return result.then(
    (r) => {
      if (r.responder) s.span.setAttribute("lattice.responder", r.responder);
      s.span.setAttribute("lattice.attempts", r.attempts);
      endSpan(s);
      return r;
    },
    (e: unknown) => {
      endSpan(s, e);
      throw e;
    },
  );
}
