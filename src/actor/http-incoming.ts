/**
 * Calling a `wasi:http/incoming-handler` export with plain values (protocol/http.ts), inside the
 * actor worker, synchronously and in memory.
 *
 * The guest's `handle(request, response-out)` takes wasi:http resources. jco checks a resource
 * only by `instanceof` against the classes of the import object (the preview2 shim's) and calls
 * its methods by name, so the request is a real `IncomingRequest` (made with the class's bare
 * constructor) whose methods answer from the HttpRequest value, and its body a real `InputStream`
 * reading from the request's bytes. On the way out, while a call is in progress, the shim's
 * `outgoing-response.body`, `outgoing-body.finish` and `response-outparam.set` are diverted so
 * that the response body is collected in memory and the response handed back to the call. Nothing
 * touches the shim's I/O thread but the "ready" pollables the streams return.
 *
 * Why not the shim's `HTTPServer` (serve the export on 127.0.0.1 and send the request to
 * oneself): its response body is piped by the shim's I/O thread to a socket whose reader is this
 * thread, which is blocked inside the guest while the guest writes, so a response bigger than the
 * socket buffers (4-8 MiB here) deadlocks until the deadline; it also folds repeated response
 * headers into one, exits the thread on `response-outparam.set(err)`, and opens a port any local
 * process can reach.
 *
 * What is guarded, so that a broken handler fails its call and not the worker: a trap inside
 * `handle` (the worker classifies the guest's error), `response-outparam.set(err)` (a guest error
 * with the `error-code` as payload), `handle` returning without a response, and a response body
 * over MAX_HTTP_BODY (`payload_too_large`, the guest is stopped at the write that crosses it).
 *
 * Whether an instance serves one request or many is the worker's business (actor-instance.ts):
 * every object made here belongs to one call, and the guest drops them.
 */
import * as shimClocks from "@bytecodealliance/preview2-shim/clocks";
import * as shimHttp from "@bytecodealliance/preview2-shim/http";
import * as shimIo from "@bytecodealliance/preview2-shim/io";
import { ErrorCode, LatticeError } from "../protocol/errors.js";
import { HOP_BY_HOP_HEADERS, MAX_HTTP_BODY, type HttpRequest, type HttpResponse } from "../protocol/http.js";

/** An exported `handle(request, response-out)` as jco presents it. */
export type IncomingHandle = (request: unknown, responseOut: unknown) => void;

/** The handler's `response-outparam.set(err(error-code))`: its `error-code` is the payload. */
export class HttpHandlerError extends Error {
  override readonly name = "HttpHandlerError";
  constructor(readonly payload: unknown) {
    super(`the HTTP handler answered an error instead of a response: ${JSON.stringify(payload, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
  }
}

/** `handle` returned and never set its response-outparam. */
export class HttpNoResponseError extends Error {
  override readonly name = "HttpNoResponseError";
  constructor() {
    super("the HTTP handler returned without setting a response");
  }
}

// The shim's classes, as far as this module uses them. (The package's type map points TypeScript
// at the browser declarations; Node loads dist/nodejs/*, with the same classes.)
type Ctor = new () => object;
type Static<T> = Ctor & T;
interface ShimFields {
  entries(): Array<[string, Uint8Array]>;
}
interface ShimOutgoingResponse {
  statusCode(): number;
  headers(): ShimFields;
}
type ResponseVariant = { tag: "ok"; val: unknown } | { tag: "err"; val: unknown };

const http = shimHttp.types as unknown as {
  Fields: Ctor & { fromList(entries: Array<[string, Uint8Array]>): object };
  IncomingRequest: Ctor;
  IncomingBody: Ctor;
  OutgoingBody: Static<{ finish(body: unknown, trailers: unknown): void }>;
  OutgoingResponse: Ctor;
  ResponseOutparam: Static<{ set(param: unknown, response: ResponseVariant): void }>;
};
const { InputStream, OutputStream } = shimIo.streams as unknown as { InputStream: Ctor; OutputStream: Ctor };
const clocks = shimClocks.monotonicClock as unknown as { subscribeDuration(ns: bigint): object };

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** The `result` error a guest sees: jco lowers a thrown error's `payload`. */
function resultError(payload: unknown): Error {
  return Object.assign(new Error("wasi:http error"), { payload });
}

const STREAM_CLOSED = { tag: "closed" };
/** Always ready: everything a stream here holds is in memory. */
const ready = () => clocks.subscribeDuration(0n);
/** What `check-write` grants each time; the limit is enforced by the writes themselves. */
const WRITE_BUDGET = 1024n * 1024n;

interface MemoryBody {
  chunks: Uint8Array[];
  size: number;
  streamTaken: boolean;
  finished: boolean;
}

interface Call {
  out: object;
  set: boolean;
  response?: ShimOutgoingResponse;
  failure?: unknown;
}

let current: Call | undefined;
const bodyOf = new WeakMap<object, object>(); // outgoing-response → its outgoing-body
const memoryOf = new WeakMap<object, MemoryBody>(); // outgoing-body → its bytes

// Diversions of the shim, active only for the objects of a call made here.
const OutgoingResponseProto = http.OutgoingResponse.prototype as { body: (this: object) => object };
const shimBody = OutgoingResponseProto.body;
OutgoingResponseProto.body = function (this: object): object {
  if (!current) return shimBody.call(this);
  if (bodyOf.has(this)) throw resultError(undefined);
  const body = new http.OutgoingBody();
  const mem: MemoryBody = { chunks: [], size: 0, streamTaken: false, finished: false };
  memoryOf.set(body, mem);
  Object.assign(body, {
    write: () => {
      if (mem.streamTaken) throw resultError(undefined);
      mem.streamTaken = true;
      return outputStream(mem);
    },
  });
  bodyOf.set(this, body);
  return body;
};

const shimFinish = http.OutgoingBody.finish.bind(http.OutgoingBody);
http.OutgoingBody.finish = (body, trailers) => {
  const mem = memoryOf.get(body as object);
  if (!mem) return shimFinish(body, trailers);
  if (trailers !== undefined && trailers !== null) throw resultError({ tag: "internal-error", val: "trailers are not supported" });
  mem.finished = true;
};

const shimSet = http.ResponseOutparam.set.bind(http.ResponseOutparam);
http.ResponseOutparam.set = (param, response) => {
  const call = current;
  if (!call || param !== call.out) return shimSet(param, response);
  if (call.set) throw new LatticeError(ErrorCode.BadRequest, "response-outparam.set called twice");
  call.set = true;
  if (response.tag === "err") call.failure ??= new HttpHandlerError(response.val);
  else call.response = response.val as ShimOutgoingResponse;
};

/** A wasi:http `method` variant. */
function methodOf(m: string): { tag: string; val?: string } {
  const lower = m.toLowerCase();
  return ["get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"].includes(lower) && m === m.toUpperCase() ? { tag: lower } : { tag: "other", val: m };
}

function schemeOf(s: string | null | undefined): { tag: string; val?: string } {
  const lower = (s || "http").toLowerCase();
  return lower === "http" ? { tag: "HTTP" } : lower === "https" ? { tag: "HTTPS" } : { tag: "other", val: lower };
}

/** The request's headers as immutable wasi:http fields; hop-by-hop ones and `host` left out. */
function requestFields(req: HttpRequest): object {
  const encoder = new TextEncoder();
  const entries: Array<[string, Uint8Array]> = [];
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length" || HOP_BY_HOP_HEADERS.has(lower)) continue;
    entries.push([name, encoder.encode(value)]);
  }
  if (req.body.length > 0) entries.push(["content-length", encoder.encode(String(req.body.length))]);
  let fields: object;
  try {
    fields = http.Fields.fromList(entries);
  } catch (e) {
    const tag = (e as { tag?: unknown } | null)?.tag;
    throw new LatticeError(ErrorCode.BadRequest, `invalid HttpRequest headers: ${typeof tag === "string" ? tag : String(e)}`);
  }
  const immutable = () => {
    throw resultError({ tag: "immutable" });
  };
  return Object.assign(fields, { set: immutable, append: immutable, delete: immutable });
}

/** An input-stream over bytes in memory. */
function inputStream(bytes: Uint8Array): object {
  let at = 0;
  const read = (len: bigint): Uint8Array => {
    if (at >= bytes.length) throw resultError(STREAM_CLOSED);
    const n = Math.min(Number(len), bytes.length - at);
    const chunk = bytes.slice(at, at + n);
    at += n;
    return chunk;
  };
  const skip = (len: bigint): bigint => BigInt(read(len).length);
  return Object.assign(new InputStream(), { read, blockingRead: read, skip, blockingSkip: skip, subscribe: ready });
}

/** An output-stream collecting a response body in memory, up to MAX_HTTP_BODY. */
function outputStream(mem: MemoryBody): object {
  const append = (buf: Uint8Array): void => {
    if (mem.finished) throw resultError(STREAM_CLOSED);
    if (mem.size + buf.length > MAX_HTTP_BODY) {
      if (current) current.failure ??= new LatticeError(ErrorCode.PayloadTooLarge, `the HTTP response body is over ${MAX_HTTP_BODY} bytes`);
      throw new LatticeError(ErrorCode.PayloadTooLarge, "HTTP response body over the limit"); // stops the guest
    }
    mem.chunks.push(buf.slice());
    mem.size += buf.length;
  };
  const zeroes = (len: bigint) => append(new Uint8Array(Math.min(Number(len), MAX_HTTP_BODY + 1)));
  const splice = (blocking: boolean) => (src: { read(len: bigint): Uint8Array; blockingRead(len: bigint): Uint8Array }, len: bigint) => {
    const chunk = blocking ? src.blockingRead(len) : src.read(len);
    append(chunk);
    return BigInt(chunk.length);
  };
  const nothing = () => undefined;
  return Object.assign(new OutputStream(), {
    checkWrite: () => WRITE_BUDGET,
    write: append,
    blockingWriteAndFlush: append,
    flush: nothing,
    blockingFlush: nothing,
    writeZeroes: zeroes,
    blockingWriteZeroesAndFlush: zeroes,
    splice: splice(false),
    blockingSplice: splice(true),
    subscribe: ready,
  });
}

/** The guest's view of an HttpRequest: an `incoming-request` and its body. */
function incomingRequest(req: HttpRequest): object {
  const fields = requestFields(req);
  let body: object | undefined = Object.assign(new http.IncomingBody(), {
    stream: (() => {
      let stream: object | undefined = inputStream(req.body);
      return () => {
        if (!stream) throw resultError(undefined);
        const s = stream;
        stream = undefined;
        return s;
      };
    })(),
  });
  const method = methodOf(req.method);
  const scheme = schemeOf(req.scheme);
  const authority = req.authority || req.headers.find(([n]) => n.toLowerCase() === "host")?.[1] || "localhost";
  return Object.assign(new http.IncomingRequest(), {
    method: () => method,
    pathWithQuery: () => req.pathWithQuery,
    scheme: () => scheme,
    authority: () => authority,
    headers: () => fields,
    consume: () => {
      if (!body) throw resultError(undefined);
      const b = body;
      body = undefined;
      return b;
    },
  });
}

function responseOf(r: ShimOutgoingResponse): HttpResponse {
  const decoder = new TextDecoder();
  const headers: Array<[string, string]> = [];
  for (const [name, value] of r.headers().entries()) {
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP_HEADERS.has(lower)) headers.push([lower, decoder.decode(value)]);
  }
  const bodyObj = bodyOf.get(r);
  const mem = bodyObj ? memoryOf.get(bodyObj) : undefined;
  const body = new Uint8Array(mem?.size ?? 0);
  let at = 0;
  for (const c of mem?.chunks ?? []) {
    body.set(c, at);
    at += c.length;
  }
  return { status: r.statusCode(), headers, body };
}

/**
 * Serve one request with the guest's `handle`. Returns the HttpResponse; throws a LatticeError
 * (bad headers, oversized body), HttpHandlerError, HttpNoResponseError, or whatever the guest
 * threw (a trap). Synchronous: the guest runs to completion inside `handle`.
 */
export function serveHttp(handle: IncomingHandle, req: HttpRequest): HttpResponse {
  const request = incomingRequest(req);
  const call: Call = { out: new http.ResponseOutparam(), set: false };
  current = call;
  try {
    handle(request, call.out);
  } catch (e) {
    throw toError(call.failure ?? e);
  } finally {
    current = undefined;
  }
  if (call.failure !== undefined) throw toError(call.failure);
  if (!call.response) throw new HttpNoResponseError();
  return responseOf(call.response);
}
