/**
 * The built-in `http-server` provider: HTTP in, actor calls out.
 *
 * For every link whose SOURCE is this provider and whose interface is `wasi:http/incoming-handler`
 * (or the whole `wasi:http` package), it listens on the link's `address` and hands each request to
 * the link's target actor as `wasi:http/incoming-handler.handle([HttpRequest])`, writing back the
 * HttpResponse it answers (see protocol/http.ts). One listener per link, so several actors are
 * served on several addresses by links with different names:
 *
 *   lattice link put http hello wasi:http/incoming-handler --name hello --config hello-http
 *   lattice config put hello-http address=0.0.0.0:8080 timeout=5s
 *
 * Link config (named configs of the link, resolved by the SDK):
 *   address    host:port to listen on ([v6]:port, :port for every interface); default 127.0.0.1:8080
 *   timeout    deadline of each request's actor call: 1500 (ms), 500ms, 10s, 2m; default 10s
 *   max_body   largest request body in bytes (also 512k, 8m); default 8m. A bigger one gets 413.
 *              An invocation holds at most about 1 MiB, so that is the limit in practice.
 *   retry      when to send a request to the actor again while it has no answer, within the
 *              timeout: what carries a request past an instance that died or froze holding it.
 *              `auto` (default): after the retransmission timeout the lattice's router keeps for
 *              the actor (its round trips: between 50 ms and 2 s), to another member, under the
 *              retry budget; a duration: after that long; `off`: never. Every method is resent:
 *              each request carries one idempotency key (a client's Idempotency-Key header, else
 *              a fresh one) through every resend, so what it does downstream is done once.
 *
 * Changes apply live: a new link opens a listener, a changed address moves it (in-flight requests
 * on the old one finish), a deleted link closes it; target, timeout and max_body apply to the next
 * request. A listener that cannot bind (address in use) makes the provider unhealthy, with the
 * reason, and is retried every 3 s.
 *
 * Status codes of failures, each with a one-line text body: 413 body too large, 502 no instance
 * of the actor answers (or it is no HTTP actor), 503 the actor is stopping or overloaded (with
 * `Retry-After: 1`: its instances refuse calls that find their queue full or would wait past
 * their deadline, and this provider what is over its limit of requests in flight to the actor,
 * concurrency-limit.ts), and 503 at once while the provider's NATS connection is down (a request
 * then could only wait out its deadline; those already on their way keep waiting, within theirs,
 * for the connection to come back), 504 the deadline passed, 500 any other failure (a trap, a
 * guest error), 400/422 a bad or reused Idempotency-Key.
 *
 * A request's W3C `traceparent` header is honoured (http-trace.ts): traced, the request is a span
 * of that trace and the response carries its `traceresponse`; untraced, the header is passed on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { NatsConnection } from "@nats-io/nats-core";
import { ErrorCode, LatticeError, MAX_INVOCATION_PAYLOAD, durationOr, encodeCall, isLatticeError, linkKey, sizeOr, messageOf } from "../../protocol/index.js";
import { HOP_BY_HOP_HEADERS, HTTP_HANDLE, HTTP_INCOMING_HANDLER, MAX_HTTP_BODY, httpResponseOf, type HttpRequest, type HttpResponse } from "../../protocol/http.js";
import { runProvider, type ProviderRuntime, type ResolvedLink } from "../index.js";
import { ConcurrencyLimit, type Outcome } from "./concurrency-limit.js";
import { addTraceResponse, requestTrace } from "./http-trace.js";
import { RequestKeys } from "./request-keys.js";

const DEFAULT_ADDRESS = "127.0.0.1:8080";
const DEFAULT_TIMEOUT_MS = 10_000;
const RETRY_MS = 3_000;
/** In-flight requests on a closed listener get this long before their connections are cut. */
const CLOSE_GRACE_MS = 10_000;

interface Settings {
  target: string;
  linkName: string;
  timeoutMs: number;
  maxBody: number;
  /** Resend a request after this long without an answer: `auto` (the router's retransmission timeout), ms, or 0 never. */
  retryMs: number | "auto";
}

interface Listener {
  key: string;
  address: string;
  settings: Settings;
  server?: Server;
  /** Why it is not listening (bad address, bind failure), or undefined while it is. */
  error?: string;
  retry?: ReturnType<typeof setTimeout>;
  closed: boolean;
}

/** `host:port`, `[v6]:port`, `:port` (every interface) or a bare port (127.0.0.1). */
function parseAddress(address: string): { host?: string; port: number } {
  const a = address.trim();
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):)?(\d{1,5})$/.exec(a);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new LatticeError(ErrorCode.BadRequest, `invalid address ${JSON.stringify(address)}: expected host:port`);
  if (!a.includes(":") || m[1] === undefined && m[2] === undefined) return { host: "127.0.0.1", port };
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}

function isHttpLink(l: ResolvedLink): boolean {
  return l.interface === HTTP_INCOMING_HANDLER || l.interface === "wasi:http";
}

/** A failure as an HTTP status and a one-line reason. */
function statusOf(e: unknown): { status: number; reason: string } {
  const message = messageOf(e);
  if (!isLatticeError(e)) return { status: 500, reason: `internal error: ${message}` };
  switch (e.code) {
    case ErrorCode.Timeout:
      return { status: 504, reason: `gateway timeout: ${message}` };
    case ErrorCode.NotFound:
    case ErrorCode.BadReply:
      return { status: 502, reason: `bad gateway: ${message}` };
    case ErrorCode.Unavailable:
      return { status: 503, reason: `service unavailable: ${message}` };
    case ErrorCode.PayloadTooLarge:
      return { status: 502, reason: `bad gateway: ${message}` };
    case ErrorCode.Trap:
      return { status: 500, reason: "internal server error: the actor trapped" };
    default:
      return { status: 500, reason: `internal server error: ${e.code}` };
  }
}

class HttpServerProvider {
  private readonly listeners = new Map<string, Listener>();
  /** Per target actor: how many requests may be in flight to it (see concurrency-limit.ts). */
  private readonly limits = new Map<string, ConcurrencyLimit>();
  private readonly keys = new RequestKeys();
  private readonly lattice: ConnectionState;
  private health = "";
  private stopped = false;

  constructor(private readonly rt: ProviderRuntime) {
    this.lattice = new ConnectionState(rt.nc);
  }

  /** Make the listeners match the links. */
  apply(links: ResolvedLink[]): void {
    const wanted = new Map<string, ResolvedLink>();
    for (const l of links.filter(isHttpLink)) wanted.set(linkKey(l.source, l.interface, l.name), l);
    for (const [key, lis] of this.listeners) {
      const l = wanted.get(key);
      if (!l || (l.values.address ?? DEFAULT_ADDRESS) !== lis.address) {
        void this.close(lis);
        this.listeners.delete(key);
      }
    }
    for (const [key, l] of wanted) {
      let settings: Settings;
      try {
        settings = {
          target: l.target,
          linkName: l.name,
          timeoutMs: durationOr(l.values.timeout, DEFAULT_TIMEOUT_MS, "timeout"),
          maxBody: sizeOr(l.values.max_body, MAX_HTTP_BODY, "max_body"),
          retryMs: retrySetting(l.values.retry),
        };
      } catch (e) {
        settings = { target: l.target, linkName: l.name, timeoutMs: DEFAULT_TIMEOUT_MS, maxBody: MAX_HTTP_BODY, retryMs: "auto" };
        this.rt.log.warn(`link ${l.name} → ${l.target}: ${messageOf(e)}; using the default`);
      }
      const existing = this.listeners.get(key);
      if (existing) {
        existing.settings = settings;
        continue;
      }
      const lis: Listener = { key, address: l.values.address ?? DEFAULT_ADDRESS, settings, closed: false };
      this.listeners.set(key, lis);
      this.open(lis);
    }
    this.report();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.listeners.values()].map((l) => this.close(l, 0)));
    this.listeners.clear();
  }

  private open(lis: Listener): void {
    let where: { host?: string; port: number };
    try {
      where = parseAddress(lis.address);
    } catch (e) {
      lis.error = messageOf(e);
      return;
    }
    const server = createServer((req, res) => void this.serve(lis, req, res));
    let listening = false;
    server.on("error", (e: NodeJS.ErrnoException) => {
      if (listening) {
        this.rt.log.warn(`listener on ${lis.address}: ${e.message}`);
        return;
      }
      if (lis.server === server) lis.server = undefined;
      lis.error = `listen on ${lis.address} failed: ${e.code ?? e.message}`;
      this.rt.log.warn(`link ${lis.settings.linkName} → ${lis.settings.target}: ${lis.error}; retrying every ${RETRY_MS / 1000} s`);
      this.report();
      if (!lis.closed && !this.stopped) {
        lis.retry = setTimeout(() => {
          lis.retry = undefined;
          if (!lis.closed && !this.stopped) this.open(lis);
        }, RETRY_MS);
      }
    });
    server.listen({ host: where.host, port: where.port }, () => {
      listening = true;
      if (lis.closed) {
        server.close();
        return;
      }
      lis.error = undefined;
      this.rt.log.info(`listening on ${lis.address} for ${lis.settings.target} (link ${lis.settings.linkName})`);
      this.report();
    });
    lis.server = server;
  }

  private async close(lis: Listener, graceMs = CLOSE_GRACE_MS): Promise<void> {
    lis.closed = true;
    if (lis.retry) clearTimeout(lis.retry);
    const server = lis.server;
    lis.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
      if (graceMs === 0) server.closeAllConnections();
    });
  }

  private report(): void {
    const failed = [...this.listeners.values()].filter((l) => l.error !== undefined);
    const healthy = failed.length === 0;
    const message = healthy
      ? this.listeners.size === 0
        ? "no links"
        : `serving ${[...this.listeners.values()].map((l) => `${l.address} → ${l.settings.target}`).join(", ")}`
      : failed.map((l) => `link ${l.settings.linkName} → ${l.settings.target}: ${l.error}`).join("; ");
    const key = `${healthy}|${message}`;
    if (key === this.health) return;
    this.health = key;
    this.rt.setHealth(healthy, message);
  }

  private async serve(lis: Listener, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const s = lis.settings;
    const traceparent = requestTrace(req, res, s.target, s.linkName, this.rt.hostId);
    let body: Uint8Array | undefined;
    try {
      if (Number(req.headers["content-length"]) > s.maxBody) return tooLarge(res, s.maxBody);
      body = await readBody(req, s.maxBody);
    } catch (e) {
      return this.failed(req, res, s, e);
    }
    if (!body) return tooLarge(res, s.maxBody);
    // Nothing can reach the actor now: say so at once rather than when the deadline has passed.
    if (!this.lattice.up) return text(res, 503, "service unavailable: this server has lost its connection to the lattice; try again shortly", ["retry-after", "1"]);
    // Taken once the body is in: a client slow to send it holds no place in the actor's limit.
    let gate = this.limits.get(s.target);
    if (!gate) this.limits.set(s.target, (gate = new ConcurrencyLimit()));
    if (!gate.tryAcquire()) return text(res, 503, `service unavailable: ${s.target} is overloaded (${gate.current} requests in flight); try again shortly`, ["retry-after", "1"]);
    let outcome: Outcome = "failed";
    try {
      const headers: Array<[string, string]> = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!.toLowerCase();
        if (name !== "host" && !HOP_BY_HOP_HEADERS.has(name)) headers.push([name, req.rawHeaders[i + 1]!]);
      }
      const request: HttpRequest = {
        method: req.method ?? "GET",
        pathWithQuery: req.url ?? "/",
        scheme: "http",
        authority: req.headers.host ?? null,
        headers,
        body,
      };
      // The whole request must fit one invocation: say so as 413 rather than as a failed call.
      if (body.length > 64 * 1024) {
        try {
          encodeCall({ args: [request], deadline: 0, callId: "", source: "" });
        } catch {
          return tooLarge(res, MAX_INVOCATION_PAYLOAD);
        }
      }
      const key = this.keys.callIdFor(s.target, headerValue(req, "idempotency-key"), request.method, request.pathWithQuery, body, Date.now() + s.timeoutMs);
      if ("status" in key) return text(res, key.status, key.reason);
      // Every resend carries the request's key: whatever it does downstream is done once.
      const { value, responder, attempts } = await this.rt.invoke(s.target, HTTP_INCOMING_HANDLER, HTTP_HANDLE, [request], {
        linkName: s.linkName,
        deadline: key.deadline ?? Date.now() + s.timeoutMs,
        callId: key.callId,
        attemptTimeoutMs: s.retryMs,
        traceparent,
      });
      outcome = "served";
      write(res, request.method, httpResponseOf(value), responder, attempts);
    } catch (e) {
      if (isLatticeError(e) && e.code === ErrorCode.Unavailable) outcome = "refused";
      this.failed(req, res, s, e);
    } finally {
      gate.release(outcome);
    }
  }

  /** Answer a failure with its status and a one-line reason (nobody, if the client went away). */
  private failed(req: IncomingMessage, res: ServerResponse, s: Settings, e: unknown): void {
    if (req.destroyed && !req.complete) return; // the client went away
    const { status, reason } = statusOf(e);
    if (status === 500 || status === 502) this.rt.log.warn(`${req.method} ${req.url} → ${s.target}: ${messageOf(e)}`);
    // Overload and stopping pass: a client may try again in a second.
    text(res, status, reason, status === 503 ? ["retry-after", "1"] : []);
  }
}

/** Whether a NATS connection is up: down from a disconnect until it is back. */
class ConnectionState {
  up = true;

  constructor(nc: NatsConnection) {
    void this.follow(nc);
  }

  private async follow(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting" || s.type === "staleConnection" || s.type === "close") this.up = false;
      else if (s.type === "reconnect") this.up = true;
    }
  }
}

/** The `retry` link config: `auto` (the default), `off`, or a duration. */
function retrySetting(v: string | undefined): number | "auto" {
  const t = v?.trim();
  if (t === undefined || t === "" || t === "auto") return "auto";
  if (t === "off") return 0;
  return durationOr(t, 0, "retry");
}

/** A request header's value; the first, if it came more than once. */
function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request body, or undefined once it grows over `limit` (the rest is left unread). */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      const out = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      resolve(out);
    });
    req.once("error", reject);
    req.once("close", () => reject(new Error("the client closed the request")));
  });
}

function text(res: ServerResponse, status: number, reason: string, extra: string[] = []): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(`${reason.replace(/[\r\n]+/g, " ").slice(0, 500)}\n`);
  const headers = ["content-type", "text/plain; charset=utf-8", "content-length", String(body.length), ...extra];
  addTraceResponse(res, headers);
  res.writeHead(status, headers);
  res.end(body);
}

function tooLarge(res: ServerResponse, limit: number): void {
  // The rest of the body is not read: the connection cannot be reused.
  text(res, 413, `payload too large: the request body is over ${limit} bytes`, ["connection", "close"]);
}

/** Tells a client which host's instance answered (for people debugging a lattice, and for tests). */
export const RESPONDER_HEADER = "x-lattice-responder";
/** On an answer that took more than one attempt: how many (the others went unanswered in time). */
export const ATTEMPTS_HEADER = "x-lattice-attempts";

/** Write an actor's answer: its headers (hop-by-hop ones dropped) and body, with its length. */
function write(res: ServerResponse, method: string, r: HttpResponse, responder?: string, attempts = 1): void {
  if (r.status < 200) {
    text(res, 502, `bad gateway: the actor answered status ${r.status}`);
    return;
  }
  const noBody = method === "HEAD" || r.status === 204 || r.status === 304;
  const headers: string[] = [];
  for (const [name, value] of r.headers) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower)) continue;
    if (lower === "content-length" && method !== "HEAD") continue;
    headers.push(name, value);
  }
  if (!noBody) headers.push("content-length", String(r.body.length));
  if (responder) headers.push(RESPONDER_HEADER, responder);
  if (attempts > 1) headers.push(ATTEMPTS_HEADER, String(attempts));
  addTraceResponse(res, headers);
  try {
    res.writeHead(r.status, headers);
  } catch (e) {
    text(res, 502, `bad gateway: the actor's response headers are not valid HTTP (${messageOf(e)})`);
    return;
  }
  res.end(noBody ? undefined : r.body);
}

void runProvider((rt) => {
  const p = new HttpServerProvider(rt);
  rt.setHealth(true, "no links");
  return {
    sourceLinks: (links) => p.apply(links),
    stop: () => p.stop(),
  };
});
