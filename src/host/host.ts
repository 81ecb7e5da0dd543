/**
 * A lattice host: joins a lattice over NATS with an nkey identity, announces itself, heartbeats,
 * answers control requests, and keeps a view of every other host. Transport-agnostic: the caller
 * passes the connector (TCP in Node, WebSocket in a browser).
 */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import type { ActorRuntime, ImportForwarder } from "../actor/runtime.js";
import { ArtifactStore } from "../nats/artifact-store.js";
import type { CallSecurity } from "../nats/signing/call-security.js";
import { emptyGuardStats, type GuardStats } from "../nats/signing/call-signing.js";
import { CallLedger } from "../nats/call-ledger.js";
import type { StateCache } from "../nats/lattice-state.js";
import { member } from "../nats/member.js";
import { RESILIENT, parseServers, redactUrl, type Connector } from "../nats/connection-options.js";
import { routerOf } from "../nats/router.js";
import { SpyTap } from "../nats/spy.js";
import {
  ActorScaleRequest,
  ActorStopRequest,
  ErrorCode,
  EventType,
  LatticeError,
  ProviderStartRequest,
  ProviderStopRequest,
  InventoryRequest,
  LATTICE_VERSION,
  MAX_ADVERTISED_ISSUERS,
  PingRequest,
  Subjects,
  assertIssuerKey,
  assertLabel,
  encode,
  makeEvent,
  type EventData,
  type HostInfo,
  type HostInventory,
  type InventorySummary,
  type Labels,
} from "../protocol/index.js";
import { ActorSupervisor } from "./actor-supervisor.js";
import { HostCapacity, type MemoryProbe } from "./capacity.js";
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LATTICE } from "./defaults.js";
import { ControlResponder, type ControlStats } from "./control-responder.js";
import { hostIdentity, type HostIdentity } from "./identity.js";
import type { LatticeView } from "../nats/lattice-view.js";
import { LinkRouter } from "./link-router.js";
import { PolicyGate, type PolicyOptions, type PolicyStats } from "./policy.js";
import { ProviderSupervisor, type ProviderLauncher } from "./provider-supervisor.js";
import { silentLogger, type Logger } from "../protocol/logging.js";
import { within } from "../protocol/within.js";
import { LogPublisher, type LogRate } from "../nats/log-publisher.js";
import { actorLogSink } from "./log-forwarding.js";

/** In defaults.ts, which the CLI loads without the host. */
export { DEFAULT_LATTICE, DEFAULT_HEARTBEAT_MS };

/** Calls `tick` every `everyMs` until the function it returns is called. */
export type Ticker = (everyMs: number, tick: () => void) => () => void;

/** The ticker of a process whose timers run on time (Node): setInterval. */
export const intervalTicker: Ticker = (everyMs, tick) => {
  const timer = setInterval(tick, everyMs);
  return () => clearInterval(timer);
};

export interface HostOptions {
  /** NATS servers: any of them will do, the client fails over between them. */
  servers: string | readonly string[];
  connect: Connector;
  /** Extra NATS options (credentials, TLS…); the host's own reconnect policy applies underneath. */
  connection?: Partial<ConnectionOptions>;
  lattice?: string;
  name?: string;
  labels?: Labels;
  heartbeatMs?: number;
  /**
   * `full` (default): the host's view hears every heartbeat, so it knows which hosts live (and its
   * ping answers say how many, which ends a gather early). `lean`: it hears only joins and
   * goodbyes, so presence costs the lattice O(N) deliveries a beat instead of O(N²); for hosts in
   * a big lattice that need no live view (lattice-view.ts).
   */
  presence?: "full" | "lean";
  /**
   * What times the heartbeats; default {@link intervalTicker}. A browser page passes one driven by
   * a Worker, whose timers are not throttled in a hidden tab the way the page's own are.
   */
  ticker?: Ticker;
  /** An nkey server seed (`SN…`) to keep the same host id across restarts. */
  seed?: string;
  logger?: Logger;
  /** Runs actors; a host without one answers actor requests with `unavailable`. */
  actors?: ActorRuntime;
  /** Serves actor imports that no local capability provides; default: the actor's links. */
  forward?: ImportForwarder;
  /** JetStream domain of the lattice's state and artifacts, for hosts on leaf nodes. */
  jsDomain?: string;
  /** Starts provider processes; a host without one answers provider requests with `unavailable`. */
  providers?: ProviderLauncher;
  /**
   * Issuer public keys (`A…`/`O…`) whose signed actors this host runs. Set, it refuses unsigned,
   * tampered, expired and foreign-issued actors; unset, it runs unsigned ones too (claims that
   * are present are still verified, and their `caps` still limit the actor's links).
   */
  allowedIssuers?: readonly string[];
  /** Services that run alongside the host on its connection (the app reconciler). */
  extensions?: readonly HostExtension[];
  /** Ask a policy (a NATS service or local rules) before starts, link uses and incoming calls. */
  policy?: PolicyOptions;
  /** How many log records each actor and provider may publish (default DEFAULT_LOG_RATE). */
  logRate?: Partial<LogRate>;
  /** How the host measures its memory: set, it advertises it and refuses starts that do not fit (capacity.ts). */
  memory?: MemoryProbe;
}

/** What a connected host runs on; a missing `providers` or `policy` is the host's options, not its phase. */
interface Running {
  nc: NatsConnection;
  control: ControlResponder;
  actors: ActorSupervisor;
  providers?: ProviderSupervisor;
  state: StateCache;
  security: CallSecurity;
  policy?: PolicyGate;
  view: LatticeView;
  spy: SpyTap;
  logs: LogPublisher;
}

/** A service started once the host runs and stopped before it leaves. */
export interface HostExtension {
  start(host: Host): void;
  stop(): Promise<void>;
}

export class Host {
  readonly id: string;
  readonly name: string;
  readonly lattice: string;
  readonly labels: Readonly<Labels>;
  readonly heartbeatMs: number;
  readonly subjects: Subjects;
  private readonly identity: HostIdentity;
  private readonly log: Logger;
  private startedAtMs = 0;
  /** Everything the host runs on, there from the moment it is connected. */
  private run?: Running;
  private stopBeating?: () => void;
  /** host_stopped was sent already (leaveNow), before the host finished stopping. */
  private saidGoodbye = false;
  private viewSeeded: Promise<void> = Promise.resolve();
  private lentView?: LatticeView;
  private phase: "new" | "starting" | "running" | "stopped" = "new";
  private readonly capacity?: HostCapacity;

  constructor(private readonly opts: HostOptions) {
    this.lattice = opts.lattice ?? DEFAULT_LATTICE;
    this.subjects = new Subjects(this.lattice);
    this.identity = hostIdentity(opts.seed);
    if (opts.memory) this.capacity = new HostCapacity(opts.memory);
    this.id = this.identity.id;
    this.name = opts.name ?? `host-${this.id.slice(1, 7).toLowerCase()}`;
    this.labels = { ...opts.labels };
    for (const [k, v] of Object.entries(this.labels)) assertLabel(k, v);
    for (const key of opts.allowedIssuers ?? []) assertIssuerKey(key);
    if ((opts.allowedIssuers?.length ?? 0) > MAX_ADVERTISED_ISSUERS) throw new LatticeError(ErrorCode.BadRequest, `at most ${MAX_ADVERTISED_ISSUERS} allowed issuers (the host advertises them in every heartbeat)`);
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (!Number.isInteger(this.heartbeatMs) || this.heartbeatMs < 10) throw new LatticeError(ErrorCode.BadRequest, "heartbeat must be a whole number of milliseconds, at least 10");
    this.log = opts.logger ?? silentLogger;
  }

  /** Connect, start answering, announce. Resolves as soon as the host_started event is sent. */
  async start(): Promise<void> {
    if (this.phase !== "new") throw new LatticeError(ErrorCode.BadRequest, `host ${this.name} was already started`);
    this.phase = "starting";
    const servers = parseServers(this.opts.servers);
    const nc = await this.opts.connect({
      ...RESILIENT,
      ...this.opts.connection,
      servers,
      name: `lattice-host:${this.lattice}:${this.name}`,
    });
    this.startedAtMs = Date.now();
    // Where the host's calls go is the router's choice; when it turns from a member, say so.
    routerOf(nc).onAvoid((target, by, forMs, why) => this.log.info(`calls to ${target} avoid ${by} for ${forMs / 1000} s: ${why}`));
    let run: Running;
    try {
      run = this.wire(nc, servers);
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
    this.run = run;
    run.state.start();
    run.logs.start();
    run.control.start();
    run.spy.start();
    this.viewSeeded = run.view.start().catch((e: unknown) => this.log.warn("lattice view did not seed", { error: String(e) }));
    // The server must know our subscriptions before anyone hears of us, or a ping sent on
    // hearing host_started could miss this host.
    await nc.flush();
    this.publish(EventType.HostStarted, this.info());
    // And every view has heard of it before start() resolves: a ping sent then is answered with
    // counts that include this host, so a gather does not end before its answer.
    await nc.flush();
    this.stopBeating = (this.opts.ticker ?? intervalTicker)(this.heartbeatMs, () => this.beat());
    this.phase = "running";
    for (const x of this.opts.extensions ?? []) x.start(this);
    void this.watchConnection(nc);
    this.log.info("host started", { id: this.id, name: this.name, lattice: this.lattice, servers: servers.map(redactUrl) });
  }

  /** The host's collaborators on a fresh connection, built and not yet started. */
  private wire(nc: NatsConnection, servers: string[]): Running {
    const policy = this.opts.policy
      ? new PolicyGate(this.opts.policy, {
          nc,
          host: { id: this.id, name: this.name, labels: { ...this.labels } },
          log: this.log,
          denied: (data) => this.publish(EventType.PolicyDenied, { hostId: this.id, ...data }),
        })
      : undefined;
    // Signs (session MACs, keys served) and verifies with the host's key; trusts itself and the
    // live hosts of its view (host ids are public keys), and the setting's trusted keys.
    const { state, view, security } = member({
      nc,
      subjects: this.subjects,
      jsDomain: this.opts.jsDomain,
      seed: this.seed(),
      hostId: this.id,
      liveness: this.opts.presence !== "lean",
      stateUnreachable: onceLogged(this.log),
      warn: (message, fields) => this.log.warn(message, fields),
    });
    // Leases on ids this host serves are answered; calls to and from its actors are recorded while leased.
    const spy: SpyTap = new SpyTap(nc, this.subjects, this.id, (id) => (actors.runs(id) ? "actor" : undefined));
    const logs = new LogPublisher({ nc, subjects: this.subjects, hostId: this.id, hostName: this.name, jsDomain: this.opts.jsDomain, rate: this.opts.logRate, warn: (m, f) => this.log.warn(m, f) });
    const actors = new ActorSupervisor({
      nc,
      subjects: this.subjects,
      hostId: this.id,
      runtime: this.opts.actors,
      artifacts: new ArtifactStore(nc, this.lattice, { domain: this.opts.jsDomain }),
      ledger: new CallLedger(nc, this.lattice, this.opts.jsDomain),
      forward: this.opts.forward ?? new LinkRouter(nc, this.subjects, state, security.signer, policy, spy).forward,
      allowedIssuers: this.opts.allowedIssuers,
      guard: security.guard,
      policy,
      spy,
      log: this.log,
      logSink: (actorId) => actorLogSink(logs, this.log, actorId),
      publish: (type, data) => this.publish(type, data),
      capacity: this.capacity,
    });
    const providers = this.opts.providers
      ? new ProviderSupervisor({
          hostId: this.id,
          lattice: this.lattice,
          servers,
          jsDomain: this.opts.jsDomain,
          signingSeed: this.seed(),
          launcher: this.opts.providers,
          policy,
          log: this.log,
          logs,
          publish: (type, data) => this.publish(type, data),
        })
      : undefined;
    const control = new ControlResponder(nc, this.subjects, this.id, {
      ping: { request: PingRequest, handle: () => this.answerInfo() },
      inventory: { request: InventoryRequest, handle: () => this.inventory() },
      actor_scale: { request: ActorScaleRequest, handle: (req: ActorScaleRequest) => actors.scale(req) },
      actor_stop: { request: ActorStopRequest, handle: (req: { actorId: string }) => actors.stop(req.actorId) },
      provider_start: { request: ProviderStartRequest, handle: (req: ProviderStartRequest) => (providers ? providers.start(req) : this.noProviders()) },
      provider_stop: { request: ProviderStopRequest, handle: (req: { providerId: string }) => (providers ? providers.stop(req.providerId) : this.noProviders()) },
    }, this.log);
    return { nc, control, actors, providers, state, security, policy, view, spy, logs };
  }

  /** Leave the lattice: everyone's view drops this host at once. */
  async stop(reason = "graceful stop"): Promise<void> {
    if (this.phase === "stopped" || this.phase === "new") {
      this.phase = "stopped";
      return;
    }
    this.phase = "stopped";
    this.stopBeating?.();
    await Promise.all((this.opts.extensions ?? []).map((x) => x.stop().catch((e: unknown) => this.log.warn("extension did not stop cleanly", { error: String(e) }))));
    const run = this.run;
    run?.control.stop();
    run?.spy.stop();
    await run?.actors.stopAll();
    run?.security.stop();
    await run?.providers?.stopAll();
    run?.logs.stop();
    const stateStopped = run?.state.stop();
    await this.opts.actors?.close();
    run?.view.stop();
    const nc = run?.nc;
    if (!nc || nc.isClosed()) return;
    await stateStopped; // its state watch must not be half made when the connection closes (StateCache.stop)
    if (!this.saidGoodbye) this.publish(EventType.HostStopped, { id: this.id, reason });
    // Bounded, and failure-proof: with NATS gone the event cannot be delivered, and stopping must
    // still finish.
    await within(nc.flush().catch(() => undefined), 2_000);
    await nc.close().catch(() => undefined);
    this.log.info("host stopped", { id: this.id, reason });
  }

  /**
   * Leave now, for a process that may be gone in a moment (a page being closed): host_stopped is
   * sent before this returns, so every view drops the host at once; then it stops as stop() does.
   */
  leaveNow(reason: string): Promise<void> {
    if (this.phase === "running") {
      this.stopBeating?.();
      this.publish(EventType.HostStopped, { id: this.id, reason });
      this.saidGoodbye = true;
    }
    return this.stop(reason);
  }

  get running(): boolean {
    return this.phase === "running";
  }

  /** The view of the lattice's hosts, this one included: live, or a directory (`presence: "lean"`). */
  get view(): LatticeView {
    return this.live.view;
  }

  /**
   * A live view kept by something running in this host (the reconciler on a lean host): its count
   * of live hosts goes in this host's ping and inventory answers, so gathers end early.
   */
  lendLiveView(view: LatticeView | undefined): void {
    this.lentView = view;
  }

  /** Resolves once the view has heard the ping answers of the hosts already there. */
  viewReady(): Promise<void> {
    return this.viewSeeded;
  }

  /** JetStream domain of the lattice's state, when the host was given one. */
  get jsDomain(): string | undefined {
    return this.opts.jsDomain;
  }

  /** The host's NATS connection, for layers built on it. */
  get connection(): NatsConnection {
    return this.live.nc;
  }

  /** Invocations this host's actors accepted and refused on their signatures. */
  get invocationStats(): Readonly<GuardStats> {
    return this.run?.security.guard.stats ?? emptyGuardStats();
  }

  /** Decisions of this host's policy (all zero without one). */
  get policyStats(): Readonly<PolicyStats> {
    return this.run?.policy?.stats ?? { decided: 0, cached: 0, allowed: 0, denied: 0, unanswered: 0 };
  }

  private get live(): Running {
    if (!this.run) throw new LatticeError(ErrorCode.BadRequest, "host not started");
    return this.run;
  }

  private seed(): string {
    return new TextDecoder().decode(this.identity.keys.getSeed());
  }

  get controlStats(): Readonly<ControlStats> {
    return this.run?.control.stats ?? { requests: 0, errors: 0, ignored: 0 };
  }

  info(): HostInfo {
    return {
      id: this.id,
      name: this.name,
      lattice: this.lattice,
      labels: { ...this.labels },
      version: LATTICE_VERSION,
      startedAt: new Date(this.startedAtMs).toISOString(),
      heartbeatMs: this.heartbeatMs,
      uptimeSeconds: Math.max(0, (Date.now() - this.startedAtMs) / 1000),
      accepts: {
        actors: this.opts.actors !== undefined,
        providers: this.opts.providers !== undefined,
        ...(this.opts.allowedIssuers ? { issuers: [...this.opts.allowedIssuers] } : {}),
      },
      ...(this.capacity ? { memory: this.capacity.info() } : {}),
    };
  }

  /** `info()` as a ping or inventory answer: with the count of hosts its seeded view holds. */
  private answerInfo(): HostInfo {
    const own = this.run?.view;
    const view = own?.live ? own : this.lentView;
    return view?.live && view.seeded ? { ...this.info(), knownHosts: view.hosts().length } : this.info();
  }

  summary(): InventorySummary {
    return { actors: this.run?.actors.count ?? 0, providers: this.run?.providers?.count ?? 0 };
  }

  inventory(): HostInventory {
    return { host: this.answerInfo(), actors: this.run?.actors.entries() ?? [], providers: this.run?.providers?.entries() ?? [] };
  }

  /** The host's watched copy of lattice state (links, config). */
  get state(): StateCache {
    return this.live.state;
  }

  /** The actors this host runs. */
  get actors(): ActorSupervisor {
    return this.live.actors;
  }

  private noProviders(): never {
    throw new LatticeError(ErrorCode.Unavailable, `host ${this.name} does not supervise providers`);
  }

  private beat(): void {
    this.publish(EventType.HostHeartbeat, { host: this.info(), summary: this.summary() });
  }

  private publish<T extends EventType>(type: T, data: EventData<T>): void {
    try {
      this.run?.nc.publish(this.subjects.event(type), encode(makeEvent(type, this.id, data)));
    } catch (e) {
      // Publishing only fails on a closed connection; the host is stopping then.
      this.log.debug("event not published", { type, error: String(e) });
    }
  }

  /** After a reconnect the host may have been expired everywhere: announce it again. */
  private async watchConnection(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") this.log.warn("lost NATS connection", { server: s.server });
      if (s.type === "reconnect" && this.phase === "running") {
        this.log.info("reconnected to NATS", { server: s.server });
        this.publish(EventType.HostStarted, this.info());
      }
    }
  }
}

/** State-store trouble is logged at warn once, then at debug while it lasts (it retries every 2 s). */
function onceLogged(log: Logger): (message: string) => void {
  let last = "";
  return (message) => {
    if (message === last) return log.debug("lattice state still unreachable", { error: message });
    last = message;
    log.warn("lattice state unreachable; serving from the local copy", { error: message });
  };
}
