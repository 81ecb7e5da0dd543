/**
 * The typed control client: what the CLI (and later the app reconciler) uses to ask a lattice
 * questions. Every reply is validated; a host that answers nonsense shows up as an error, not
 * as a crash or a silently wrong row.
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/nats-core";
import type { Static } from "@sinclair/typebox";
import {
  AnyCloudEvent,
  ControlOp,
  ErrorCode,
  InventoryReply,
  LatticeError,
  MAX_EVENT_PAYLOAD,
  PingReply,
  Subjects,
  decode,
  isLatticeError,
  type HostInfo,
  type HostInventory,
  type WireError,
} from "../protocol/index.js";

export interface ClientOptions {
  /** How long to wait for the first answer (and for a directed request's answer). */
  timeoutMs?: number;
  /** A scatter-gather ends once no further answer has come for this long. */
  stallMs?: number;
}

/** Answers of a scatter-gather request: the good ones, and what went wrong with the others. */
export interface Gathered<T> {
  replies: T[];
  errors: WireError[];
}

export type EventRecord = { subject: string; event: AnyCloudEvent } | { subject: string; error: string };

export class LatticeClient {
  readonly subjects: Subjects;
  private readonly timeoutMs: number;
  private readonly stallMs: number;

  constructor(
    readonly nc: NatsConnection,
    lattice: string,
    opts: ClientOptions = {},
  ) {
    this.subjects = new Subjects(lattice);
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.stallMs = opts.stallMs ?? 250;
  }

  /** Every live host, from a ping answered by each. */
  async hosts(): Promise<Gathered<HostInfo>> {
    return this.gather(ControlOp.Ping, PingReply, "ping reply");
  }

  /** The inventory of every host. */
  async inventories(): Promise<Gathered<HostInventory>> {
    return this.gather(ControlOp.Inventory, InventoryReply, "inventory reply");
  }

  /** The inventory of one host; `not_found` when no such host answers. */
  async inventory(hostId: string): Promise<HostInventory> {
    const msg = await this.request(this.subjects.controlHost(hostId, ControlOp.Inventory), `host ${hostId}`);
    const reply = decodeReply(InventoryReply, msg, "inventory reply");
    if (!reply.ok) throw new LatticeError(reply.error.code, reply.error.message);
    return reply.data;
  }

  /** Stream the lattice's events until the signal aborts. Undecodable ones come as errors. */
  async *events(signal?: AbortSignal): AsyncGenerator<EventRecord> {
    const sub = this.nc.subscribe(this.subjects.eventsWildcard());
    const stop = () => sub.unsubscribe();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      for await (const m of sub) {
        try {
          yield { subject: m.subject, event: decode(AnyCloudEvent, m.data, "event", MAX_EVENT_PAYLOAD) };
        } catch (e) {
          yield { subject: m.subject, error: isLatticeError(e) ? e.message : String(e) };
        }
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      sub.unsubscribe();
    }
  }

  private async gather<R extends typeof PingReply | typeof InventoryReply>(op: ControlOp, schema: R, what: string) {
    const out: Gathered<Extract<Static<R>, { ok: true }>["data"]> = { replies: [], errors: [] };
    let replies: AsyncIterable<Msg>;
    try {
      replies = await this.nc.requestMany(this.subjects.controlAll(op), undefined, {
        strategy: "stall",
        stall: this.stallMs,
        maxWait: this.timeoutMs,
      });
      for await (const m of replies) {
        try {
          const r = decodeReply(schema, m, what);
          if (r.ok) out.replies.push(r.data);
          else out.errors.push(r.error);
        } catch (e) {
          out.errors.push(isLatticeError(e) ? e.toWire() : { code: ErrorCode.BadReply, message: String(e) });
        }
      }
    } catch (e) {
      if (!isNoResponders(e)) throw e; // no host at all is an empty answer, not an error
    }
    return out;
  }

  private async request(subject: string, who: string): Promise<Msg> {
    try {
      return await this.nc.request(subject, undefined, { timeout: this.timeoutMs });
    } catch (e) {
      if (isNoResponders(e)) throw new LatticeError(ErrorCode.NotFound, `${who} is not in lattice ${this.subjects.lattice}`);
      if (e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError)) throw new LatticeError(ErrorCode.Timeout, `${who} did not answer within ${this.timeoutMs} ms`);
      throw e;
    }
  }
}

function decodeReply<R extends typeof PingReply | typeof InventoryReply>(schema: R, msg: Msg, what: string): Static<R> {
  try {
    return decode(schema, msg.data, what);
  } catch (e) {
    throw new LatticeError(ErrorCode.BadReply, isLatticeError(e) ? e.message : String(e));
  }
}

// nats.js reports "no responders" as a RequestError whose cause is a NoRespondersError.
function isNoResponders(e: unknown): boolean {
  return e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());
}
