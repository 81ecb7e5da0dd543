/**
 * The typed control client: what the CLI (and later the app reconciler) uses to ask a lattice
 * questions. Every reply is validated; a host that answers nonsense shows up as an error, not
 * as a crash or a silently wrong row.
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { Static } from "@sinclair/typebox";
import type { CallSigner } from "../nats/signing/call-signing.js";
import { invoke } from "../nats/invocations.js";
import { isNoResponders, isTimeout } from "../nats/request-errors.js";
import { gather } from "../nats/scatter-gather.js";
import { isHostId } from "../protocol/names.js";
import { actorRefusal, isRefusal, matches, memoryRefusal, memoryRoom, place, providerRefusal, rankForProvider, signerOf, toWireError, type Candidate } from "./placement.js";
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
  labelText,
  type HostInfo,
  type ActorEntry,
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
  /** Only this host: its id, or its name when no other host has that name. */
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
  /** Only this host: its id, or its name when no other host has that name. */
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

/** A host that placement passed over, and why: what it advertises, or its answer when asked. */
export interface SkippedHost {
  hostId: string;
  hostName: string;
  reason: string;
}

/** What a placement did: per-host results, the hosts it passed over, and the hosts that failed. */
export interface PlacementResult {
  results: Array<ActorScaleResult & { hostName: string }>;
  /** Hosts that refuse this actor; the instances went to the others. */
  skipped: SkippedHost[];
  errors: Array<{ hostId: string; hostName: string; error: WireError }>;
  /** Instances no host took (every qualifying host refused or failed). */
  unplaced: number;
}

/** A provider started, on the host named, after passing over the hosts that refuse it. */
export type ProviderPlacement = ProviderStartResult & { hostName: string; skipped: SkippedHost[] };

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
    return this.gather(ControlOp.Ping, PingReply, "ping reply", undefined, (h) => h.knownHosts);
  }

  /** The inventory of every host. */
  async inventories(): Promise<Gathered<HostInventory>> {
    return this.gather(ControlOp.Inventory, InventoryReply, "inventory reply", undefined, (i) => i.host.knownHosts);
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
    const hosts = (o.hostId !== undefined ? [await this.pickHost(inventories.replies, o.hostId)] : inventories.replies).filter((inv) => matches(inv.host.labels, constraints));
    if (hosts.length === 0) throw new LatticeError(ErrorCode.NotFound, `cannot place actor ${o.actorId}: no host matches ${describeLabels(constraints)}`);
    return this.apply(hosts, o.instances, { actorId: o.actorId, ref, config: o.config, constraints }, o.timeoutMs);
  }

  /** Rescale a running actor to `instances` in total, over the hosts its constraints allow. */
  async scaleActor(actorId: string, instances: number, timeoutMs?: number): Promise<PlacementResult> {
    const inventories = await this.inventories();
    const entry = inventories.replies.flatMap((inv) => inv.actors).find((a) => a.id === actorId);
    if (!entry) throw new LatticeError(ErrorCode.NotFound, `actor ${actorId} is not running in lattice ${this.subjects.lattice}`);
    const hosts = inventories.replies.filter((inv) => inv.actors.some((a) => a.id === actorId) || matches(inv.host.labels, entry.constraints));
    return this.apply(hosts, instances, { actorId, ref: entry.ref, constraints: entry.constraints }, timeoutMs);
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
   * constraints and takes it (a host that refuses is passed over for the next). Starting one
   * that already runs with the same ref (and no host named) changes nothing; with another ref it
   * is an error.
   */
  async startProvider(o: StartProviderOptions): Promise<ProviderPlacement> {
    assertTargetId(o.providerId);
    const inventories = await this.inventories();
    const running = inventories.replies.flatMap((inv) => inv.providers.filter((p) => p.id === o.providerId).map((p) => ({ hostId: inv.host.id, p })));
    const other = running.find((r) => r.p.ref !== o.ref);
    if (other) {
      throw new LatticeError(ErrorCode.BadRequest, `provider ${o.providerId} already runs ${other.p.ref} on host ${other.hostId}; stop it first`);
    }
    const constraints = o.constraints ?? {};
    const named = o.hostId !== undefined;
    const candidates = (o.hostId !== undefined ? [await this.pickHost(inventories.replies, o.hostId)] : inventories.replies).filter((inv) => matches(inv.host.labels, constraints));
    if (candidates.length === 0) throw new LatticeError(ErrorCode.NotFound, `cannot place provider ${o.providerId}: no host matches ${describeLabels(constraints)}`);
    // The first of them that takes it.
    const runs = (inv: HostInventory) => inv.providers.some((p) => p.id === o.providerId);
    const ranked = rankForProvider(candidates, runs);
    const skipped: SkippedHost[] = [];
    const req = { providerId: o.providerId, ref: o.ref, ...(o.config ? { config: o.config } : {}) };
    for (const inv of ranked) {
      const advertised = runs(inv) ? undefined : providerRefusal(inv.host);
      if (advertised) {
        skipped.push({ hostId: inv.host.id, hostName: inv.host.name, reason: advertised });
        continue;
      }
      try {
        return { ...(await this.startProviderOn(inv.host.id, req, o.timeoutMs)), hostName: inv.host.name, skipped };
      } catch (e) {
        const error = toWireError(e);
        // A host named by the caller answers for itself; otherwise a refusal moves on to the next.
        if (named || !isRefusal(error)) throw e;
        skipped.push({ hostId: inv.host.id, hostName: inv.host.name, reason: `${error.code}: ${error.message}` });
      }
    }
    const why = skipped.map((s) => `host ${s.hostName}: ${s.reason}`).join("; ");
    throw new LatticeError(ErrorCode.Unavailable, `cannot place provider ${o.providerId}: no host takes it (${why})`);
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

  /**
   * Place `total` instances over these hosts: those that advertise they would refuse the actor
   * (and run none of it) are passed over at once, those that refuse when asked as they answer.
   */
  private async apply(hosts: HostInventory[], total: number, req: Omit<ActorScaleRequest, "instances">, timeoutMs?: number): Promise<PlacementResult> {
    const entries = hosts.flatMap((inv) => inv.actors.filter((a) => a.id === req.actorId));
    const signer = signerOf(req.ref, entries);
    const skipped: SkippedHost[] = [];
    const candidates: Candidate[] = [];
    for (const inv of hosts) {
      const c = candidateOf(inv, req.actorId, entries);
      const why = c.current === 0 ? (actorRefusal(inv.host, req.ref, signer) ?? memoryRefusal(inv, req.actorId, entries)) : undefined;
      if (why) skipped.push({ hostId: inv.host.id, hostName: inv.host.name, reason: why });
      else candidates.push(c);
    }
    const placed = await place(candidates, total, (hostId, instances) => this.scaleOnHost(hostId, { ...req, instances }, timeoutMs));
    const names = new Map(hosts.map((inv) => [inv.host.id, inv.host.name]));
    const name = (id: string) => names.get(id) ?? id;
    const byName = (a: { hostId: string }, b: { hostId: string }) => name(a.hostId).localeCompare(name(b.hostId)) || a.hostId.localeCompare(b.hostId);
    return {
      results: placed.results.sort(byName).map((r) => ({ ...r, hostName: name(r.hostId) })),
      skipped: [...skipped, ...placed.refused.map((r) => ({ hostId: r.hostId, hostName: name(r.hostId), reason: `${r.error.code}: ${r.error.message}` }))].sort(byName),
      errors: placed.errors.sort(byName).map((e) => ({ ...e, hostName: name(e.hostId) })),
      unplaced: placed.unplaced,
    };
  }

  /** The inventory of the host `idOrName` names: its id, or a name no other host has. */
  private async pickHost(inventories: HostInventory[], idOrName: string): Promise<HostInventory> {
    const byId = inventories.find((inv) => inv.host.id === idOrName);
    if (byId) return byId;
    // A host that started a moment ago may not be in the others' counts yet, and the gather can
    // end before its answer: asked by its id, it answers for itself.
    if (isHostId(idOrName)) {
      const inv = await this.inventory(idOrName).catch((e: unknown) => {
        if (isLatticeError(e) && e.code === ErrorCode.NotFound) return undefined;
        throw e;
      });
      if (inv) return inv;
    }
    const named = inventories.filter((inv) => inv.host.name === idOrName);
    if (named.length === 1) return named[0]!;
    if (named.length > 1) {
      throw new LatticeError(ErrorCode.BadRequest, `${named.length} hosts are named ${idOrName} (${named.map((inv) => inv.host.id).join(", ")}); give the id of the one you mean`);
    }
    throw new LatticeError(ErrorCode.NotFound, `host ${idOrName} is not in lattice ${this.subjects.lattice}: no host has that id or name (\`lattice get hosts\` lists them)`);
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

  /** Every host's answer; `known` reads the count of live hosts an answer carries (ping, inventory), which can end the gather early. */
  private async gather<R extends typeof PingReply | typeof InventoryReply | typeof ActorStopReply | typeof ProviderStopReply>(
    op: ControlOp,
    schema: R,
    what: string,
    body?: Uint8Array,
    known?: (data: Extract<Static<R>, { ok: true }>["data"]) => number | undefined,
  ) {
    const out: Gathered<Extract<Static<R>, { ok: true }>["data"]> = { replies: [], errors: [] };
    try {
      await gather(this.nc, this.subjects.controlAll(op), body, { stallMs: this.stallMs, maxWaitMs: this.timeoutMs }, (m) => {
        try {
          const r = decodeReply(schema, m, what);
          if (!r.ok) return void out.errors.push(r.error);
          out.replies.push(r.data);
          return known?.(r.data);
        } catch (e) {
          out.errors.push(isLatticeError(e) ? e.toWire() : { code: ErrorCode.BadReply, message: String(e) });
          return undefined;
        }
      });
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

function candidateOf(inv: HostInventory, actorId: string, entries: readonly ActorEntry[]): Candidate {
  const room = memoryRoom(inv, actorId, entries);
  return {
    hostId: inv.host.id,
    labels: inv.host.labels,
    load: inv.actors.reduce((n, a) => n + a.instances, 0),
    current: inv.actors.find((a) => a.id === actorId)?.instances ?? 0,
    ...(room === undefined ? {} : { room }),
  };
}

function describeLabels(labels: Labels): string {
  return labelText(labels) || "(any host: the lattice has none)";
}
