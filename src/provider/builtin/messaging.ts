/**
 * The built-in `messaging` provider: NATS publish/subscribe for actors, as `wasmcloud:messaging@0.2.0`
 * (WIT in wit/deps/messaging/).
 *
 * Actors → NATS (links whose TARGET is this provider, interface `wasmcloud:messaging` or
 * `wasmcloud:messaging/consumer`): the provider serves
 *   publish(msg: broker-message) -> result<_, string>
 *   request(subject: string, body: list<u8>, timeout-ms: u32) -> result<broker-message, string>
 * where `broker-message` is `{ subject, body: bytes, replyTo: string | null }`. Failures (a bad
 * subject, no responder, a timeout) are the `string` error the actor sees. A request waits at most
 * `timeout-ms`, and never past the deadline of the actor's own call.
 *
 * NATS → actors (links whose SOURCE is this provider and TARGET an actor, interface
 * `wasmcloud:messaging` or `wasmcloud:messaging/handler`): it subscribes to the subjects of the
 * link's config and calls the actor's `wasmcloud:messaging/handler.handle-message(msg)` for each
 * message. Replying is the actor's job: it publishes to the message's `replyTo`.
 *
 *   lattice link put messaging echo wasmcloud:messaging/handler --config echo-subs
 *   lattice config put echo-subs subscriptions=demo.echo,demo.ping.*
 *   lattice link put echo messaging wasmcloud:messaging/consumer
 *
 * Link config of a handler link:
 *   subscriptions  comma-separated subjects (wildcards allowed); none: the link delivers nothing
 *   queue          queue group of the subscriptions; default one per link, so that copies of this
 *                  provider on several hosts deliver each message once. `queue=` (empty): none,
 *                  every copy delivers every message.
 *   timeout        deadline of each handle-message call: 1500 (ms), 500ms, 10s; default 10s
 *   max_in_flight  calls in progress per link (default 100); more messages wait, and past 10000
 *                  waiting they are dropped (and counted in the log)
 *
 * Messages travel on the lattice's own NATS connection, so subjects the lattice itself uses are
 * refused both ways: `lattice.…`, and the system subjects starting with `$` (`$JS`, `$KV`, `$SYS`…).
 * Reply subjects (`_INBOX.…`) are allowed. Delivery order is not kept across concurrent calls.
 */
import { NoRespondersError, RequestError, TimeoutError, headers, type Msg, type Subscription } from "@nats-io/nats-core";
import { ErrorCode, LatticeError, durationOr, linkKey, messageOf } from "../../protocol/index.js";
import { runProvider, type CallContext, type ProviderRuntime, type ResolvedLink } from "../index.js";

const CONSUMER = "wasmcloud:messaging/consumer";
const HANDLER = "wasmcloud:messaging/handler";
const PACKAGE = "wasmcloud:messaging";

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_IN_FLIGHT = 100;
const MAX_WAITING = 10_000;

/** `wasmcloud:messaging/types.broker-message` as a component value. */
interface BrokerMessage {
  subject: string;
  body: Uint8Array;
  replyTo?: string | null;
}

/** The `string` error of a messaging function: what the actor gets as `err`. */
function failure(message: string): LatticeError {
  const e = new LatticeError(ErrorCode.GuestError, message);
  e.payload = message;
  return e;
}

const TOKEN = /^[^\s.*>]+$/;

/** A subject an actor may publish to or subscribe to; throws a message saying why not. */
function checkSubject(subject: unknown, what: string, wildcards: boolean): string {
  if (typeof subject !== "string" || subject.length === 0 || subject.length > 1024) throw new LatticeError(ErrorCode.BadRequest, `${what} must be a non-empty subject`);
  const tokens = subject.split(".");
  tokens.forEach((t, i) => {
    const ok = TOKEN.test(t) || (wildcards && (t === "*" || (t === ">" && i === tokens.length - 1)));
    if (!ok) throw new LatticeError(ErrorCode.BadRequest, `${what} ${JSON.stringify(subject)} is not a valid NATS subject${wildcards ? "" : " (no wildcards)"}`);
  });
  const first = tokens[0]!;
  if (first === "lattice" || first.startsWith("$") || (wildcards && (first === "*" || first === ">"))) {
    throw new LatticeError(ErrorCode.BadRequest, `${what} ${JSON.stringify(subject)} is reserved: the lattice itself uses lattice.> and the $ system subjects`);
  }
  return subject;
}

function errorText(e: unknown): string {
  return messageOf(e);
}

interface Delivery {
  key: string;
  /** What the subscriptions were made from: a change re-subscribes. */
  shape: string;
  link: ResolvedLink;
  timeoutMs: number;
  maxInFlight: number;
  subs: Subscription[];
  inFlight: number;
  waiting: Msg[];
  dropped: number;
  error?: string;
}

class MessagingProvider {
  private readonly deliveries = new Map<string, Delivery>();
  private health = "";

  constructor(private readonly rt: ProviderRuntime) {}

  // ---------------------------------------------------------------------------------------------
  // consumer: actors → NATS

  publish = (ctx: CallContext, msg: unknown): null => {
    const m = this.message(msg);
    try {
      // The call's idempotency key as the message id: a stream that captures the subject takes a
      // retried publish once (JetStream's dedupe); a retry to this provider is answered from the
      // invocation server's memory without publishing again.
      const h = headers();
      h.set("Nats-Msg-Id", ctx.callId);
      this.rt.nc.publish(m.subject, m.body, { headers: h, ...(m.replyTo ? { reply: checkSubject(m.replyTo, "reply-to", false) } : {}) });
    } catch (e) {
      throw failure(`publish to ${m.subject} failed: ${errorText(e)}`);
    }
    return null;
  };

  request = async (ctx: CallContext, subject: unknown, body: unknown, timeoutMs: unknown): Promise<BrokerMessage> => {
    let s: string;
    try {
      s = checkSubject(subject, "subject", false);
    } catch (e) {
      throw failure(errorText(e));
    }
    if (!(body instanceof Uint8Array)) throw new LatticeError(ErrorCode.BadRequest, "request: body must be bytes");
    const asked = typeof timeoutMs === "number" || typeof timeoutMs === "bigint" ? Number(timeoutMs) : NaN;
    if (!Number.isFinite(asked) || asked < 0) throw new LatticeError(ErrorCode.BadRequest, "request: timeout-ms must be a u32");
    const timeout = Math.max(1, Math.min(asked || 1, ctx.deadline - Date.now() - 50));
    try {
      const reply = await this.rt.nc.request(s, body, { timeout });
      return { subject: reply.subject, body: reply.data, replyTo: reply.reply ?? null };
    } catch (e) {
      const none = e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());
      const late = e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError);
      const why = none ? "no responders" : late ? `no reply within ${timeout} ms` : errorText(e);
      throw failure(`request to ${s}: ${why}`);
    }
  };

  /** A broker-message argument, checked; a bad subject is the actor's error, a bad shape a bad request. */
  private message(v: unknown): BrokerMessage {
    const m = v as Partial<BrokerMessage> | null;
    if (typeof m !== "object" || m === null || !(m.body instanceof Uint8Array)) {
      throw new LatticeError(ErrorCode.BadRequest, "expected a broker-message { subject, body: bytes, replyTo? }");
    }
    try {
      checkSubject(m.subject, "subject", false);
    } catch (e) {
      throw failure(errorText(e));
    }
    return m as BrokerMessage;
  }

  // ---------------------------------------------------------------------------------------------
  // handler: NATS → actors

  apply(links: ResolvedLink[]): void {
    const wanted = new Map<string, ResolvedLink>();
    for (const l of links) {
      if (l.interface === HANDLER || l.interface === PACKAGE) wanted.set(linkKey(l.source, l.interface, l.name), l);
    }
    for (const [key, d] of this.deliveries) {
      if (!wanted.has(key)) {
        this.unsubscribe(d);
        this.deliveries.delete(key);
      }
    }
    for (const [key, link] of wanted) {
      const v = link.values;
      const shape = JSON.stringify([v.subscriptions ?? "", v.queue ?? null]);
      let d = this.deliveries.get(key);
      if (d && d.shape !== shape) {
        this.unsubscribe(d);
        d = undefined;
      }
      if (!d) {
        d = { key, shape, link, timeoutMs: DEFAULT_TIMEOUT_MS, maxInFlight: DEFAULT_MAX_IN_FLIGHT, subs: [], inFlight: 0, waiting: [], dropped: 0 };
        this.deliveries.set(key, d);
        this.subscribe(d);
      }
      d.link = link;
      try {
        d.timeoutMs = durationOr(v.timeout, DEFAULT_TIMEOUT_MS, "timeout");
        const max = Number(v.max_in_flight ?? DEFAULT_MAX_IN_FLIGHT);
        d.maxInFlight = Number.isInteger(max) && max >= 1 ? max : DEFAULT_MAX_IN_FLIGHT;
      } catch (e) {
        this.rt.log.warn(`link ${link.name} → ${link.target}: ${errorText(e)}; using the default`);
      }
    }
    this.report();
  }

  stop(): void {
    for (const d of this.deliveries.values()) this.unsubscribe(d);
    this.deliveries.clear();
  }

  private subscribe(d: Delivery): void {
    const l = d.link;
    const subjects = (l.values.subscriptions ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const queue = l.values.queue ?? `lattice.${this.rt.lattice}.messaging.${this.rt.id}.${l.target}.${l.name}`;
    try {
      for (const s of subjects) checkSubject(s, "subscription", true);
    } catch (e) {
      d.error = errorText(e);
      return;
    }
    d.error = undefined;
    for (const subject of subjects) {
      d.subs.push(
        this.rt.nc.subscribe(subject, {
          ...(queue !== "" ? { queue } : {}),
          callback: (err, msg) => {
            if (err) {
              d.error = `subscription ${subject}: ${err.message}`;
              this.report();
              return;
            }
            this.deliver(d, msg);
          },
        }),
      );
    }
    if (subjects.length > 0) this.rt.log.info(`delivering ${subjects.join(", ")} to ${l.target} (link ${l.name})`);
  }

  private unsubscribe(d: Delivery): void {
    for (const s of d.subs.splice(0)) s.unsubscribe();
    d.waiting.length = 0;
  }

  private deliver(d: Delivery, msg: Msg): void {
    if (d.inFlight >= d.maxInFlight) {
      if (d.waiting.length >= MAX_WAITING) {
        if (d.dropped++ % 1000 === 0) this.rt.log.warn(`${d.link.target} is behind: ${d.dropped} message(s) dropped on link ${d.link.name}`);
        return;
      }
      d.waiting.push(msg);
      return;
    }
    d.inFlight++;
    const link = d.link;
    const m: BrokerMessage = { subject: msg.subject, body: msg.data, replyTo: msg.reply ?? null };
    this.rt
      .call(link.target, HANDLER, "handle-message", [m], { linkName: link.name, deadline: Date.now() + d.timeoutMs })
      .catch((e: unknown) => this.rt.log.warn(`handle-message of ${link.target} failed for ${msg.subject}: ${errorText(e)}`))
      .finally(() => {
        d.inFlight--;
        const next = d.waiting.shift();
        if (next && this.deliveries.get(d.key) === d) this.deliver(d, next);
      });
  }

  private report(): void {
    const failed = [...this.deliveries.values()].filter((d) => d.error !== undefined);
    const healthy = failed.length === 0;
    const message = healthy ? `${this.deliveries.size} handler link(s)` : failed.map((d) => `link ${d.link.name} → ${d.link.target}: ${d.error}`).join("; ");
    const key = `${healthy}|${message}`;
    if (key === this.health) return;
    this.health = key;
    this.rt.setHealth(healthy, message);
  }
}

void runProvider((rt) => {
  const p = new MessagingProvider(rt);
  rt.setHealth(true, "0 handler link(s)");
  return {
    exports: { [CONSUMER]: { publish: p.publish, request: p.request } },
    sourceLinks: (links) => p.apply(links),
    stop: () => p.stop(),
  };
});
