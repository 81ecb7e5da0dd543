// The HTTP handler layer `lattice build` compiles into an actor whose world exports
// `wasi:http/incoming-handler` and whose source handles `fetch` events (or default-exports
// `{ fetch }`). It runs inside the component's JavaScript engine, not in Node.
//
// Why: the engine's own fetch-event shim serves one request per instance (StarlingMonkey#247),
// so every request needed a fresh 11 MB engine. This layer exports the handlers itself, so one
// instance serves request after request, each in a fresh `Request` and `Response`, and whatever
// the module keeps between requests stays. It serves two exports with the same handler:
// - `wasi:http/incoming-handler`, the standard one any runtime can call;
// - `lattice:http/plain-handler` (guest/lattice-http.wit), which a lattice host calls instead:
//   the request and the response are plain records, one call each way, where the wasi:http
//   resources take a dozen calls per request (measured: half the CPU of a small request).
//
// Every resource a wasi:http request brings or the layer makes is dropped before `handle`
// returns: the host keeps each one in a table until the guest drops it, so one left behind per
// request is a leak that grows with the instance's life. An error in the user's handler answers
// 500 and leaves the instance serving; only a trap (which no JavaScript error is) ends it.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Bodies given to `new Response(body)`, taken as they are: reading one back through the stream
// API costs more than the rest of a small request.
const givenBodies = new WeakMap();
const NativeResponse = globalThis.Response;
class Response extends NativeResponse {
  constructor(body, init) {
    super(body, init);
    if (typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer) givenBodies.set(this, body);
  }
}
globalThis.Response = Response;

// The `fetch` listeners the module registers while it is evaluated.
const listeners = [];
const nativeAddEventListener = globalThis.addEventListener;
globalThis.addEventListener = function addEventListener(type, listener, options) {
  if (type === "fetch") {
    if (typeof listener === "function" || typeof listener?.handleEvent === "function") listeners.push(listener);
    return;
  }
  if (typeof nativeAddEventListener === "function") nativeAddEventListener.call(globalThis, type, listener, options);
};

/** Drop a resource now rather than when (if ever) the engine collects its wrapper. */
function drop(resource) {
  resource?.[Symbol.dispose]?.();
}

function methodName(m) {
  return m.tag === "other" ? m.val : m.tag.toUpperCase();
}

function schemeName(s) {
  if (!s) return "http";
  return s.tag === "other" ? s.val : s.tag.toLowerCase();
}

/** The whole body of an incoming request (the host hands it over in memory). */
function readBody(incoming) {
  const body = incoming.consume();
  const stream = body.stream();
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(65536n);
      } catch (e) {
        if (e?.payload?.tag === "closed" || e?.tag === "closed") break;
        throw e;
      }
      if (chunk.length > 0) {
        chunks.push(chunk);
        size += chunk.length;
      }
    }
  } finally {
    drop(stream);
    drop(body);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const NO_BODY = new Set(["GET", "HEAD"]);

/** A `Request` made of a wasi:http `incoming-request`, which is dropped once read. */
function toRequest(incoming) {
  const method = methodName(incoming.method());
  const url = `${schemeName(incoming.scheme())}://${incoming.authority() ?? "localhost"}${incoming.pathWithQuery() ?? "/"}`;
  const fields = incoming.headers();
  const headers = new Headers();
  for (const [name, value] of fields.entries()) headers.append(name, decoder.decode(value));
  drop(fields);
  const init = { method, headers };
  if (!NO_BODY.has(method)) init.body = readBody(incoming);
  drop(incoming);
  return new Request(url, init);
}

async function bodyBytes(response) {
  const given = givenBodies.get(response);
  if (given !== undefined && !response.bodyUsed) {
    if (typeof given === "string") return encoder.encode(given);
    return given instanceof Uint8Array ? given : new Uint8Array(given);
  }
  if (response.bodyUsed) throw new TypeError("the handler returned a Response whose body was already read");
  return new Uint8Array(await response.arrayBuffer());
}

// Headers a single connection owns: a host drops them, and some refuse them outright.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

/** Write status, headers and body to the response outparam; `sent.set` once it is handed over. */
function respond(types, out, status, headerList, bytes, sent) {
  const response = new types.OutgoingResponse(types.Fields.fromList(headerList));
  response.setStatusCode(status);
  const body = response.body();
  types.ResponseOutparam.set(out, { tag: "ok", val: response });
  sent.set = true;
  const stream = body.write();
  // blocking-write-and-flush takes at most 4096 bytes at a time.
  for (let at = 0; at < bytes.length; at += 4096) stream.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
  drop(stream);
  types.OutgoingBody.finish(body, undefined);
}

const TEXT = [["content-type", encoder.encode("text/plain; charset=utf-8")]];
const INTERNAL_ERROR = encoder.encode("internal server error\n");

/** What the module handles requests with: its default export's `fetch`, else its fetch listeners. */
function handlerOf(module) {
  const fetch = module.default?.fetch;
  if (typeof fetch === "function") return (request) => fetch.call(module.default, request);
  if (listeners.length === 0) return undefined;
  return (request) => dispatchFetchEvent(request);
}

/** A service-worker style `fetch` event: the first listener that calls `respondWith` answers. */
function dispatchFetchEvent(request) {
  let answer;
  const waits = [];
  const event = {
    type: "fetch",
    request,
    respondWith(r) {
      if (answer !== undefined) throw new Error("respondWith was already called for this request");
      answer = Promise.resolve(r);
    },
    waitUntil(p) {
      waits.push(Promise.resolve(p).catch(() => undefined));
    },
  };
  for (const l of listeners) {
    if (typeof l === "function") l.call(globalThis, event);
    else l.handleEvent(event);
    if (answer !== undefined) break;
  }
  if (answer === undefined) throw new Error("no fetch listener called respondWith");
  return { answer, waits };
}

/** The handler's Response, awaited: from `respondWith` (with the event's `waitUntil`s) or returned. */
async function answerOf(handle, request) {
  const r = handle(request);
  if (r && typeof r === "object" && "answer" in r && "waits" in r) return { response: await r.answer, waits: r.waits };
  return { response: await r, waits: [] };
}

/** Status, headers (hop-by-hop ones left out) and body bytes of the handler's answer. */
async function parts(response) {
  if (!(response instanceof NativeResponse)) throw new TypeError(`the handler answered ${response === null ? "null" : typeof response}, not a Response`);
  if (response.status < 100) throw new TypeError(`the handler answered a Response of status ${response.status} (an error Response)`);
  const headers = [];
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
  });
  return { status: response.status, headers, body: await bodyBytes(response) };
}

function handlerOrThrow(module) {
  const handle = handlerOf(module);
  if (!handle) {
    throw new Error("this HTTP actor handles no requests: call addEventListener(\"fetch\", (event) => event.respondWith(...)) or export default { fetch(request) { ... } }");
  }
  return handle;
}

/**
 * The `incomingHandler` export for a module: `types` is the world's `wasi:http/types`. Throws
 * at build time (the module's top level runs then) when the module handles no requests.
 */
export function incomingHandlerFor(types, module) {
  const handle = handlerOrThrow(module);
  return {
    async handle(incoming, out) {
      const sent = { set: false };
      let waits = [];
      try {
        const answer = await answerOf(handle, toRequest(incoming));
        waits = answer.waits;
        const { status, headers, body } = await parts(answer.response);
        respond(types, out, status, headers.map(([n, v]) => [n, encoder.encode(v)]), body, sent);
      } catch (e) {
        console.error(`the fetch handler failed: ${e?.stack ?? e}`);
        // Once the response is handed over its status is out: the host learns of the failure itself.
        if (!sent.set) respond(types, out, 500, TEXT, INTERNAL_ERROR, sent);
      }
      if (waits.length > 0) await Promise.all(waits);
    },
  };
}

/** The `plainHandler` export (`lattice:http/plain-handler`): the same handler, plain records in and out. */
export function plainHandlerFor(module) {
  const handle = handlerOrThrow(module);
  return {
    async handle(req) {
      let waits = [];
      let out;
      try {
        const init = { method: req.method, headers: req.headers };
        if (!NO_BODY.has(req.method)) init.body = req.body;
        const answer = await answerOf(handle, new Request(`${req.scheme ?? "http"}://${req.authority ?? "localhost"}${req.pathWithQuery}`, init));
        waits = answer.waits;
        out = await parts(answer.response);
      } catch (e) {
        console.error(`the fetch handler failed: ${e?.stack ?? e}`);
        out = { status: 500, headers: [["content-type", "text/plain; charset=utf-8"]], body: INTERNAL_ERROR };
      }
      if (waits.length > 0) await Promise.all(waits);
      return out;
    },
  };
}
