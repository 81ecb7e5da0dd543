/**
 * The typed control client: what the CLI (and later the app reconciler) uses to ask a lattice
 * questions. Every reply is validated; a host that answers nonsense shows up as an error, not
 * as a crash or a silently wrong row.
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { Static } from "@sinclair/typebox";
import type { CallSigner } from "../nats/call-signing.js";
import { invoke } from "../nats/invocations.js";
import { isNoResponders, isTimeout } from "../nats/request-errors.js";
import { matches, spread, type Candidate } from "./placement.js";
import {
  ActorScaleReply,
  ActorStopReply,
  AnyCloudEvent,
  ControlOp,
  DEFAULT_CALL_TIMEOUT_MS,
  encode,
  parseArtifactRef,
  formatArtifactRef,
  assertTargetId,
  type ActorScaleRequest,
  type ActorScaleResult,
  type Labels,
  ErrorCode,
  InventoryReply,
  LatticeError,
  MAX_EVENT_PAYLOAD,
  PingReply,
  ProviderStartReply,
  ProviderStopReply,
  Subjects,
  decode,
  isLatticeError,
  type HostInfo,
  type HostInventory,
  type ProviderStartRequest,
  type ProviderStartResult,
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

export interface StartActorOptions {
  actorId: string;
  ref: string;
  instances: number;
  /** Only this host. */
  hostId?: string;
  /** Only hosts with all these labels. */
  constraints?: Labels;
  config?: Record<string, string>;
  /** How long each host may take to fetch, compile and start (default 60 s). */
  timeoutMs?: number;
}

export interface StartProviderOptions {
  providerId: string;
  /** A built-in provider (`keyvalue`…) or the path of a provider module on the host. */
  ref: string;
  /** Only this host. */
  hostId?: string;
  /** Only hosts with all these labels. */
  constraints?: Labels;
  /** Given to the provider process at start. */
  config?: Record<string, string>;
  /** How long the host may take to start it and hear it is ready (default 30 s). */
  timeoutMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  /** Who calls (an actor, a host, `cli`). */
  source?: string;
  /** Sign the call with this key (needed when the lattice verifies invocations). */
  signer?: CallSigner;
}

/** What a placement did: per-host results, and the hosts that refused. */
export interface PlacementResult {
  results: ActorScaleResult[];
  errors: Array<{ hostId: string; error: WireError }>;
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

  /** Run `instances` instances of an actor on one host (0 stops it there). */
  async scaleOnHost(hostId: string, req: ActorScaleRequest, timeoutMs = 60_000): Promise<ActorScaleResult> {
    const msg = await this.request(this.subjects.controlHost(hostId, ControlOp.ActorScale), `host ${hostId}`, encode(req), timeoutMs);
    const reply = decodeReply(ActorScaleReply, msg, "actor_scale reply");
    if (!reply.ok) throw new LatticeError(reply.error.code, reply.error.message);
    return reply.data;
  }

  /** Start an actor: its instances spread over the hosts that qualify. */
  async startActor(o: StartActorOptions): Promise<PlacementResult> {
    assertTargetId(o.actorId);
    const ref = formatArtifactRef(parseArtifactRef(o.ref));
    const inventories = await this.inventories();
    const running = inventories.replies.flatMap((inv) => inv.actors.filter((a) => a.id === o.actorId));
    const other = running.find((a) => a.ref !== ref);
    if (other) {
      throw new LatticeError(ErrorCode.BadRequest, `actor ${o.actorId} already runs ${other.ref}; stop it first, or scale it with \`lattice scale actor\``);
    }
    const constraints = o.constraints ?? {};
    const candidates = candidatesOf(inventories.replies, o.actorId).filter(
      (c) => (o.hostId === undefined || c.hostId === o.hostId) && matches(c.labels, constraints),
    );
    if (candidates.length === 0) {
      const why = o.hostId !== undefined ? `host ${o.hostId} is not in lattice ${this.subjects.lattice}` : `no host matches ${describeLabels(constraints)}`;
      throw new LatticeError(ErrorCode.NotFound, `cannot place actor ${o.actorId}: ${why}`);
    }
    return this.apply(candidates, o.instances, { actorId: o.actorId, ref, config: o.config, constraints }, o.timeoutMs);
  }

  /** Rescale a running actor to `instances` in total, over the hosts its constraints allow. */
  async scaleActor(actorId: string, instances: number, timeoutMs?: number): Promise<PlacementResult> {
    const inventories = await this.inventories();
    const entry = inventories.replies.flatMap((inv) => inv.actors).find((a) => a.id === actorId);
    if (!entry) throw new LatticeError(ErrorCode.NotFound, `actor ${actorId} is not running in lattice ${this.subjects.lattice}`);
    const candidates = candidatesOf(inventories.replies, actorId).filter((c) => c.current > 0 || matches(c.labels, entry.constraints));
    return this.apply(candidates, instances, { actorId, ref: entry.ref, constraints: entry.constraints }, timeoutMs);
  }

  /** Stop an actor everywhere; resolves with the number of instances stopped. */
  async stopActor(actorId: string): Promise<number> {
    assertTargetId(actorId);
    const { replies, errors } = await this.gather(ControlOp.ActorStop, ActorStopReply, "actor_stop reply", encode({ actorId }));
    if (errors.length > 0 && replies.length === 0) throw new LatticeError(errors[0]!.code, errors[0]!.message);
    return replies.reduce((n, r) => n + r.stopped, 0);
  }

  /**
   * Start a provider on one host: the given one, or the least loaded host that matches the
   * constraints. Starting one that already runs with the same ref (and no host named) changes
   * nothing; with another ref it is an error.
   */
  async startProvider(o: StartProviderOptions): Promise<ProviderStartResult> {
    assertTargetId(o.providerId);
    const inventories = await this.inventories();
    const running = inventories.replies.flatMap((inv) => inv.providers.filter((p) => p.id === o.providerId).map((p) => ({ hostId: inv.host.id, p })));
    const other = running.find((r) => r.p.ref !== o.ref);
    if (other) {
      throw new LatticeError(ErrorCode.BadRequest, `provider ${o.providerId} already runs ${other.p.ref} on host ${other.hostId}; stop it first`);
    }
    const constraints = o.constraints ?? {};
    const candidates = inventories.replies.filter((inv) => (o.hostId === undefined || inv.host.id === o.hostId) && matches(inv.host.labels, constraints));
    if (candidates.length === 0) {
      const why = o.hostId !== undefined ? `host ${o.hostId} is not in lattice ${this.subjects.lattice}` : `no host matches ${describeLabels(constraints)}`;
      throw new LatticeError(ErrorCode.NotFound, `cannot place provider ${o.providerId}: ${why}`);
    }
    // Where it runs already (the start is then a no-op), else the host with the fewest providers,
    // then the fewest actor instances.
    const instances = (inv: HostInventory) => inv.actors.reduce((n, a) => n + a.instances, 0);
    const target =
      candidates.find((inv) => inv.providers.some((p) => p.id === o.providerId)) ??
      [...candidates].sort((a, b) => a.providers.length - b.providers.length || instances(a) - instances(b) || a.host.id.localeCompare(b.host.id))[0]!;
    return this.startProviderOn(target.host.id, { providerId: o.providerId, ref: o.ref, ...(o.config ? { config: o.config } : {}) }, o.timeoutMs);
  }

  /** Start a provider on one given host (no placement, no checks). */
  async startProviderOn(hostId: string, req: ProviderStartRequest, timeoutMs = 30_000): Promise<ProviderStartResult> {
    const msg = await this.request(this.subjects.controlHost(hostId, ControlOp.ProviderStart), `host ${hostId}`, encode(req), timeoutMs);
    const reply = decodeReply(ProviderStartReply, msg, "provider_start reply");
    if (!reply.ok) throw new LatticeError(reply.error.code, reply.error.message);
    return reply.data;
  }

  /** Stop a provider on one host; resolves with whether it ran there. */
  async stopProviderOn(hostId: string, providerId: string): Promise<boolean> {
    const msg = await this.request(this.subjects.controlHost(hostId, ControlOp.ProviderStop), `host ${hostId}`, encode({ providerId: assertTargetId(providerId) }), 30_000);
    const reply = decodeReply(ProviderStopReply, msg, "provider_stop reply");
    if (!reply.ok) throw new LatticeError(reply.error.code, reply.error.message);
    return reply.data.stopped;
  }

  /** Stop a provider on every host that runs it; resolves with the number of hosts that stopped it. */
  async stopProvider(providerId: string): Promise<number> {
    assertTargetId(providerId);
    const { replies, errors } = await this.gather(ControlOp.ProviderStop, ProviderStopReply, "provider_stop reply", encode({ providerId }));
    if (errors.length > 0 && replies.length === 0) throw new LatticeError(errors[0]!.code, errors[0]!.message);
    return replies.filter((r) => r.stopped).length;
  }

  /** Call a function of an actor; resolves with its result, rejects with a LatticeError. */
  async call(target: string, iface: string, fn: string, args: readonly unknown[], o: CallOptions = {}): Promise<unknown> {
    const timeout = o.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const r = await invoke(this.nc, this.subjects, { target, iface, fn, args, source: o.source ?? "cli", deadline: Date.now() + timeout, signer: o.signer });
    return r.value;
  }

  private async apply(
    candidates: Candidate[],
    total: number,
    req: Omit<ActorScaleRequest, "instances">,
    timeoutMs?: number,
  ): Promise<PlacementResult> {
    const plan = spread(candidates, total);
    const out: PlacementResult = { results: [], errors: [] };
    await Promise.all(
      candidates
        .filter((c) => plan.get(c.hostId) !== c.current)
        .map(async (c) => {
          try {
            out.results.push(await this.scaleOnHost(c.hostId, { ...req, instances: plan.get(c.hostId) ?? 0 }, timeoutMs));
          } catch (e) {
            out.errors.push({ hostId: c.hostId, error: isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: String(e) } });
          }
        }),
    );
    return out;
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

  private async gather<R extends typeof PingReply | typeof InventoryReply | typeof ActorStopReply | typeof ProviderStopReply>(op: ControlOp, schema: R, what: string, body?: Uint8Array) {
    const out: Gathered<Extract<Static<R>, { ok: true }>["data"]> = { replies: [], errors: [] };
    let replies: AsyncIterable<Msg>;
    try {
      replies = await this.nc.requestMany(this.subjects.controlAll(op), body, {
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

  private async request(subject: string, who: string, body?: Uint8Array, timeoutMs = this.timeoutMs): Promise<Msg> {
    try {
      return await this.nc.request(subject, body, { timeout: timeoutMs });
    } catch (e) {
      if (isNoResponders(e)) throw new LatticeError(ErrorCode.NotFound, `${who} is not in lattice ${this.subjects.lattice}`);
      if (isTimeout(e)) throw new LatticeError(ErrorCode.Timeout, `${who} did not answer within ${timeoutMs} ms`);
      throw e;
    }
  }
}

function decodeReply<
  R extends typeof PingReply | typeof InventoryReply | typeof ActorScaleReply | typeof ActorStopReply | typeof ProviderStartReply | typeof ProviderStopReply,
>(schema: R, msg: Msg, what: string): Static<R> {
  try {
    return decode(schema, msg.data, what);
  } catch (e) {
    throw new LatticeError(ErrorCode.BadReply, isLatticeError(e) ? e.message : String(e));
  }
}

function candidatesOf(inventories: HostInventory[], actorId: string): Candidate[] {
  return inventories.map((inv) => ({
    hostId: inv.host.id,
    labels: inv.host.labels,
    load: inv.actors.reduce((n, a) => n + a.instances, 0),
    current: inv.actors.find((a) => a.id === actorId)?.instances ?? 0,
  }));
}

function describeLabels(labels: Labels): string {
  const s = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(", ");
  return s === "" ? "(any host: the lattice has none)" : s;
}
