/**
 * A capability provider's life in the lattice, whatever process it runs in: it watches lattice
 * state for its links, serves its functions on `lattice.<L>.rpc.v1.<id>.>` (queue group, so
 * several copies share the load) and calls actors as itself.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { LatticeView } from "../nats/lattice-view.js";
import type { Logger } from "../protocol/logging.js";
import type { CallSecurity } from "../nats/signing/call-security.js";
import type { CallSigner, GuardStats } from "../nats/signing/call-signing.js";
import { InvocationServer, invoke, type IncomingCall, type InvokeRequest, type InvokeResult } from "../nats/invocations.js";
import { SpyTap } from "../nats/spy.js";
import type { StateCache } from "../nats/lattice-state.js";
import { member } from "../nats/member.js";
import { routerOf } from "../nats/router.js";
import { within } from "../protocol/within.js";
import { DEFAULT_CALL_TIMEOUT_MS, ErrorCode, LatticeError, Subjects, assertTargetId, messageOf, unversioned, type Link, type TargetMetrics } from "../protocol/index.js";
import type { CallContext, CallOptions, ProviderDefinition, ProviderRuntime, ResolvedLink } from "./types.js";

export interface ProviderSetup {
  nc: NatsConnection;
  id: string;
  lattice: string;
  hostId?: string;
  jsDomain?: string;
  config: Record<string, string>;
  /** Its host's nkey seed: the provider signs invocations with it when the lattice verifies them. */
  signingSeed?: string;
  log: Logger;
  onHealth: (healthy: boolean, message: string) => void;
}

/** How long a call may wait for the lattice state to be in (Provider.dispatch). */
const STATE_WAIT_MS = 2_000;

export class Provider {
  readonly subjects: Subjects;
  readonly state: StateCache;
  private def: ProviderDefinition = {};
  private server?: InvocationServer;
  private offChange?: () => void;
  private lastSource = "";
  private lastTarget = "";
  /** The lattice's live hosts: the signers this provider trusts (with the setting's trusted keys). */
  private readonly view: LatticeView;
  private readonly security: CallSecurity;
  /** Calls to and from this provider, published while someone spies on it. */
  private readonly spy: SpyTap;

  constructor(private readonly s: ProviderSetup) {
    assertTargetId(s.id);
    this.subjects = new Subjects(s.lattice);
    this.spy = new SpyTap(s.nc, this.subjects, s.id, (id) => (id === s.id ? "provider" : undefined));
    // Signs (session MACs) and fetches session keys as its host, whose seed it was given.
    ({ state: this.state, view: this.view, security: this.security } = member({
      nc: s.nc,
      subjects: this.subjects,
      jsDomain: s.jsDomain,
      seed: s.signingSeed,
      hostId: s.hostId,
      // Only to trust its peers' keys: joins and goodbyes will do.
      liveness: false,
      stateUnreachable: (m) => s.log.warn("lattice state", { error: m }),
      warn: (message, fields) => s.log.warn(message, fields),
    }));
  }

  /** Invocations this provider accepted and refused on their signatures. */
  get invocationStats(): Readonly<GuardStats> {
    return this.security.guard.stats;
  }

  /** The calls it served so far (undefined before it serves). */
  metrics(): TargetMetrics | undefined {
    return this.server?.metricsSnapshot();
  }

  /** Build the definition, follow links, then serve. */
  async start(define: (rt: ProviderRuntime) => ProviderDefinition | Promise<ProviderDefinition>): Promise<void> {
    routerOf(this.s.nc).onAvoid((target, by, forMs, why) => this.s.log.info(`calls to ${target} avoid ${by} for ${forMs / 1000} s: ${why}`));
    this.def = await define(this.runtime());
    this.state.start();
    void this.view.start().catch((e: unknown) => this.s.log.warn("lattice view did not seed", { error: String(e) }));
    this.offChange = this.state.onChange(() => void this.notifyLinks());
    // Serve at once; links that arrive later reach handlers through the cache at call time.
    this.server = new InvocationServer(this.s.nc, this.subjects, this.s.id, (c) => this.dispatch(c), {
      instances: 1,
      responder: this.s.id,
      ...(this.s.hostId ? { host: this.s.hostId } : {}),
      defaultTimeoutMs: DEFAULT_CALL_TIMEOUT_MS,
      onError: (m) => this.s.log.warn(m),
      guard: this.security.guard,
      spy: this.spy,
    });
    this.spy.start();
    await this.s.nc.flush();
    await this.notifyLinks();
  }

  async stop(): Promise<void> {
    this.server?.stop();
    this.spy.stop();
    this.security.stop();
    this.view.stop();
    this.offChange?.();
    const stateStopped = this.state.stop();
    await this.def.stop?.();
    await stateStopped; // before its connection closes (StateCache.stop)
  }

  private request(target: string, iface: string, fn: string, args: readonly unknown[], o: CallOptions): InvokeRequest {
    const deadline = o.deadline ?? Date.now() + DEFAULT_CALL_TIMEOUT_MS;
    return { target, iface, fn, args, source: this.s.id, linkName: o.linkName, deadline, attemptTimeoutMs: o.attemptTimeoutMs, callId: o.callId, traceparent: o.traceparent, signer: this.signing() };
  }

  private runtime(): ProviderRuntime {
    const s = this.s;
    return {
      id: s.id,
      lattice: s.lattice,
      hostId: s.hostId,
      config: { ...s.config },
      nc: s.nc,
      log: s.log,
      invoke: (target, iface, fn, args, o = {}) => this.invoke(this.request(target, iface, fn, args, o)),
      call: async (target, iface, fn, args, o = {}) => (await this.invoke(this.request(target, iface, fn, args, o))).value,
      setHealth: (healthy, message = healthy ? "ok" : "unhealthy") => s.onHealth(healthy, message),
    };
  }

  /** A call this provider makes; recorded while someone spies on it. */
  private invoke(r: InvokeRequest): Promise<InvokeResult> {
    if (this.spy.on && this.spy.watching(this.s.id)) return this.spy.calling(r, (x) => invoke(this.s.nc, this.subjects, x));
    return invoke(this.s.nc, this.subjects, r);
  }

  /** Calls are signed while the lattice verifies them (signing costs CPU on every call). */
  private signing(): CallSigner | undefined {
    return this.security.guard.verifying ? this.security.signer : undefined;
  }

  private resolve(l: Link): ResolvedLink {
    return { ...l, values: this.state.resolveConfig(l.config) };
  }

  private async dispatch(call: IncomingCall): Promise<unknown> {
    const iface = unversioned(call.iface);
    const handler = this.def.exports?.[iface]?.[call.fn];
    if (!handler) throw new LatticeError(ErrorCode.NotFound, `provider ${this.s.id} serves no function ${iface}.${call.fn}`);
    // A call served before the lattice state is in would miss its link and the link's config (a
    // restarted keyvalue provider counted in the wrong bucket): it waits for it, within its
    // deadline and at most STATE_WAIT_MS; with JetStream unreachable it goes on without.
    if (!this.state.loaded) await within(this.state.ready, Math.max(0, Math.min(call.deadline - Date.now(), STATE_WAIT_MS)));
    const link = this.state.findLink(call.source, iface, call.linkName);
    const resolved = link && link.target === this.s.id ? this.resolve(link) : undefined;
    const ctx: CallContext = {
      source: call.source,
      linkName: call.linkName,
      link: resolved,
      config: resolved?.values ?? {},
      deadline: call.deadline,
      callId: call.callId,
      ...(call.traceparent ? { traceparent: call.traceparent } : {}),
    };
    return await handler(ctx, ...call.args);
  }

  /** Tell the definition about its links when the set (or their config) changed. */
  private async notifyLinks(): Promise<void> {
    const all = this.state.links().map((l) => this.resolve(l));
    const source = all.filter((l) => l.source === this.s.id);
    const target = all.filter((l) => l.target === this.s.id);
    const sourceKey = JSON.stringify(source);
    const targetKey = JSON.stringify(target);
    try {
      if (sourceKey !== this.lastSource) {
        this.lastSource = sourceKey;
        await this.def.sourceLinks?.(source);
      }
      if (targetKey !== this.lastTarget) {
        this.lastTarget = targetKey;
        await this.def.targetLinks?.(target);
      }
    } catch (e) {
      this.s.log.error("provider failed to apply its links", { error: messageOf(e) });
    }
  }
}
