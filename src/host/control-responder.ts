/**
 * Answers control requests on a host's two control subjects (to all hosts, and to this host).
 * Every request is size-checked and schema-validated before its handler runs; anything wrong
 * is answered with a structured error, and a message without a reply subject is ignored.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Static, TSchema } from "@sinclair/typebox";
import {
  ErrorCode,
  LatticeError,
  decode,
  encode,
  isControlOp,
  isLatticeError, messageOf,
  type ControlOp,
  type Subjects,
} from "../protocol/index.js";
import type { Logger } from "../protocol/logging.js";

export interface ControlHandler<S extends TSchema = TSchema> {
  request: S;
  handle(req: Static<S>): unknown;
}

export type ControlHandlers = { [op in ControlOp]: ControlHandler };

export interface ControlStats {
  requests: number;
  errors: number;
  /** Messages without a reply subject: nobody to answer, so they are dropped. */
  ignored: number;
}

export class ControlResponder {
  private subs: Subscription[] = [];
  readonly stats: ControlStats = { requests: 0, errors: 0, ignored: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly hostId: string,
    private readonly handlers: ControlHandlers,
    private readonly log: Logger,
  ) {}

  start(): void {
    const callback = (err: Error | null, msg: Msg): void => {
      if (!err) void this.answer(msg);
    };
    this.subs = [
      this.nc.subscribe(this.subjects.controlAllWildcard(), { callback }),
      this.nc.subscribe(this.subjects.controlHostWildcard(this.hostId), { callback }),
    ];
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }

  private async answer(msg: Msg): Promise<void> {
    if (!msg.reply) {
      this.stats.ignored++;
      return;
    }
    this.stats.requests++;
    const op = this.subjects.controlOpOf(msg.subject);
    let reply: unknown;
    try {
      if (!isControlOp(op)) throw new LatticeError(ErrorCode.UnknownOperation, `unknown control operation ${JSON.stringify(op)}`);
      const handler = this.handlers[op];
      const req = decode(handler.request, msg.data, `${op} request`);
      reply = { ok: true, data: await handler.handle(req) };
    } catch (e) {
      this.stats.errors++;
      const error = isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: messageOf(e) };
      if (error.code === ErrorCode.Internal) this.log.error("control handler failed", { op, error: error.message });
      else this.log.debug("control request refused", { op, ...error });
      reply = { ok: false, error };
    }
    try {
      msg.respond(encode(reply));
    } catch (e) {
      this.log.warn("could not send control reply", { op, error: String(e) });
    }
  }
}
