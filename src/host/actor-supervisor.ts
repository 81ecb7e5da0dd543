/**
 * The actors of one host: fetches components from the artifact store, runs them through the
 * actor runtime, and serves their invocation subjects. Each instance holds one queue
 * subscription on the actor's subjects, so NATS spreads calls over hosts in proportion to the
 * instances each runs; within a host, any idle instance takes the next call.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { ActorInstances, ActorLogSink, ActorRuntime, ImportForwarder } from "../actor/runtime.js";
import type { HostCapacity } from "./capacity.js";
import { assertComponent } from "../nats/wasm-binary.js";
import { verifyComponentClaims } from "../actor/wasm-claims.js";
import type { ArtifactStore } from "../nats/artifact-store.js";
import type { CallLedger } from "../nats/call-ledger.js";
import type { InvocationGuard } from "../nats/signing/call-signing.js";
import { InvocationServer, type InvocationPolicy } from "../nats/invocations.js";
import type { SpyTap } from "../nats/spy.js";
import {
  DEFAULT_CALL_TIMEOUT_MS,
  ErrorCode,
  EventType,
  LatticeError,
  claimsSummary,
  formatArtifactRef,
  isLatticeError,
  parseArtifactRef,
  timeProblem,
  type ActorClaims,
  type ActorEntry,
  type ActorScaleRequest,
  type ActorScaleResult,
  type ActorStopResult,
  type EventData,
  type Subjects,
} from "../protocol/index.js";
import { restrictToCaps } from "./link-router.js";
import type { Logger } from "../protocol/logging.js";
import type { PolicyGate } from "./policy.js";
import { KeyedQueue } from "../protocol/keyed-queue.js";

/** Actor config key by which an actor declares its calls non-idempotent (`false`). */
export const NON_IDEMPOTENT_KEY = "lattice.idempotent";

interface RunningActor {
  entry: ActorEntry;
  config: Record<string, string>;
  instances: ActorInstances;
  server?: InvocationServer;
  /** Its verified claims, if the component is signed. */
  claims?: ActorClaims;
}

export interface SupervisorDeps {
  nc: NatsConnection;
  subjects: Subjects;
  hostId: string;
  runtime?: ActorRuntime;
  artifacts: ArtifactStore;
  ledger: CallLedger;
  forward?: ImportForwarder;
  /** Issuers whose signed actors this host runs; set, unsigned and foreign actors are refused. */
  allowedIssuers?: readonly string[];
  /** Checks invocation signatures when the lattice asks for it. */
  guard?: InvocationGuard;
  /** Asked before an actor starts or changes ref, and before each incoming call runs. */
  policy?: PolicyGate;
  /** Refuses starts that would not fit in the host's memory, and learns what instances cost (capacity.ts). */
  capacity?: HostCapacity;
  /** Publishes a record per call to an actor someone spies on. */
  spy?: SpyTap;
  log: Logger;
  /** Where an actor's own log records go (the host's log publisher); default the runtime's logger. */
  logSink?: (actorId: string) => ActorLogSink;
  publish: <T extends EventType>(type: T, data: EventData<T>) => void;
}

export class ActorSupervisor {
  private readonly actors = new Map<string, RunningActor>();
  /** One change at a time per actor: a scale waits for the previous one. */
  private readonly serial = new KeyedQueue();
  /**
   * Components this host has checked and compiled, by digest, with their verified claims (none:
   * unsigned). A start of one of these needs no download: only the artifact's digest is read.
   */
  private readonly checked = new Map<string, { claims?: ActorClaims }>();

  constructor(private readonly d: SupervisorDeps) {}

  /** What each actor runs here, and what its instances are doing now. */
  entries(): ActorEntry[] {
    return [...this.actors.values()].map((a) => ({
      ...a.entry,
      instances: a.instances.size,
      load: { ...a.instances.load(), replaced: a.instances.stats.replaced, calls: a.instances.stats.calls },
      ...(this.d.capacity && a.entry.digest ? { instanceBytes: this.d.capacity.instanceBytes(a.entry.digest) } : {}),
      ...(a.server ? { metrics: a.server.metricsSnapshot() } : {}),
    }));
  }

  /** Whether this host runs `actorId` (it serves it and makes its calls). */
  runs(actorId: string): boolean {
    return this.actors.has(actorId);
  }

  get count(): number {
    return this.actors.size;
  }

  scale(req: ActorScaleRequest): Promise<ActorScaleResult> {
    return this.serial.run(req.actorId, () => this.doScale(req));
  }

  stop(actorId: string): Promise<ActorStopResult> {
    return this.serial.run(actorId, async () => {
      const a = this.actors.get(actorId);
      const stopped = a ? await this.remove(a) : 0;
      return { hostId: this.d.hostId, stopped };
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.actors.keys()].map((id) => this.stop(id)));
  }

  private async doScale(req: ActorScaleRequest): Promise<ActorScaleResult> {
    const current = this.actors.get(req.actorId);
    const previous = current?.instances.size ?? 0;
    const ref = formatArtifactRef(parseArtifactRef(req.ref));
    if (req.instances === 0) {
      if (current) await this.remove(current);
      const actor = current ? { ...current.entry, instances: 0 } : this.entry(req, ref, "", 0);
      return { hostId: this.d.hostId, actor, previous };
    }
    try {
      if (current && current.entry.ref === ref && sameConfig(current.config, req.config ?? current.config)) {
        // Claims that expired while the actor ran stop it from growing (running instances stay).
        const late = current.claims && req.instances > current.instances.size ? timeProblem(current.claims) : undefined;
        if (late) throw refused(req.actorId, late);
        const add = req.instances - current.instances.size;
        this.d.capacity?.admit({ actorId: req.actorId, add, digest: current.entry.digest, compiled: true });
        const before = this.d.capacity?.rss();
        await current.instances.scale(req.instances);
        if (before !== undefined) this.d.capacity?.grew(current.entry.digest, before, add);
        this.resubscribe(current);
      } else {
        // New, or a new ref or config: the new instances serve before the old ones go, so no call is dropped.
        // A request without config keeps the config the actor runs with.
        const next = await this.launch({ ...req, config: req.config ?? current?.config }, ref);
        this.actors.set(req.actorId, next);
        if (current) await this.remove(current, false);
      }
    } catch (e) {
      const error = isLatticeError(e) ? e.toWire() : { code: ErrorCode.Internal, message: String(e) };
      this.d.publish(EventType.ActorStartFailed, { hostId: this.d.hostId, actorId: req.actorId, ref: req.ref, error });
      this.d.log.warn("actor start failed", { actor: req.actorId, ref: req.ref, error: error.message });
      throw e;
    }
    const a = this.actors.get(req.actorId)!;
    a.entry.instances = a.instances.size;
    this.scaled(a.entry, previous);
    return { hostId: this.d.hostId, actor: { ...a.entry }, previous };
  }

  private async launch(req: ActorScaleRequest, ref: string): Promise<RunningActor> {
    const runtime = this.d.runtime;
    if (!runtime) throw new LatticeError(ErrorCode.Unavailable, `host ${this.d.hostId} does not run actors`);
    const { digest, claims } = await this.component(runtime, req.actorId, ref, req.instances);
    const forward = claims && this.d.forward ? restrictToCaps(claims, this.d.forward) : this.d.forward;
    const logSink = this.d.logSink?.(req.actorId);
    // What fetching and compiling left is given back before the instances' cost is measured.
    runtime.settle?.();
    const before = this.d.capacity?.rss();
    const instances = await runtime.start({ actorId: req.actorId, digest, instances: req.instances, config: req.config, forward, ...(logSink ? { logSink } : {}) });
    if (before !== undefined) this.d.capacity?.grew(digest, before, req.instances);
    const entry = this.entry(req, ref, digest, req.instances);
    if (claims) entry.claims = claimsSummary(claims);
    const running: RunningActor = { entry, config: req.config ?? {}, instances, claims };
    this.resubscribe(running);
    this.d.log.info("actor started", { actor: req.actorId, ref, digest, instances: req.instances });
    return running;
  }

  /**
   * The artifact's component, checked (claims, policy) and compiled: fetched, unless this host has
   * compiled its digest before (then its claims' times are checked again, and the policy asked).
   */
  private async component(runtime: ActorRuntime, actorId: string, ref: string, instances: number): Promise<{ digest: string; claims?: ActorClaims }> {
    const artifact = parseArtifactRef(ref);
    // Any failure here leaves it to the fetch, which words it best.
    const known = await this.d.artifacts.describe(artifact).then(
      (info) => {
        // Before anything is fetched, compiled or booted (a refusal thrown here is not the describe's failure).
        this.d.capacity?.admit({ actorId, add: instances, digest: info.digest, size: info.size, compiled: runtime.has(info.digest) });
        return runtime.has(info.digest) ? { digest: info.digest, ...this.checked.get(info.digest) } : undefined;
      },
      () => undefined,
    );
    const seen = known && this.checked.has(known.digest) ? known : undefined;
    if (seen) {
      const late = seen.claims && timeProblem(seen.claims);
      if (late) throw refused(actorId, late);
      await this.enforce(actorId, ref, seen.digest, seen.claims);
      return seen;
    }
    const { bytes, info } = await this.d.artifacts.get(artifact);
    // Before any compiling: code the host does not trust is never run.
    assertComponent(bytes, ref);
    const claims = await verifyComponentClaims(bytes, { allowedIssuers: this.d.allowedIssuers }).catch((e: unknown) => {
      throw isLatticeError(e) ? refused(actorId, e) : e;
    });
    // After the claims (the policy may decide by issuer), before compiling anything.
    await this.enforce(actorId, ref, info.digest, claims);
    const digest = await runtime.prepare(bytes, ref);
    this.checked.set(digest, claims ? { claims } : {});
    return { digest, claims };
  }

  private async enforce(actorId: string, ref: string, digest: string, claims: ActorClaims | undefined): Promise<void> {
    await this.d.policy?.enforce(
      { action: "start", kind: "actor", target: actorId, ref, digest, ...(claims ? { claims: claimsSummary(claims) } : {}) },
      () => `actor ${actorId}`,
    );
  }

  private entry(req: ActorScaleRequest, ref: string, digest: string, instances: number): ActorEntry {
    return { id: req.actorId, ref, digest, instances, startedAt: new Date().toISOString(), constraints: req.constraints ?? {} };
  }

  private scaled(entry: ActorEntry, previous: number): void {
    this.d.publish(EventType.ActorScaled, {
      hostId: this.d.hostId,
      actorId: entry.id,
      ref: entry.ref,
      digest: entry.digest,
      instances: entry.instances,
      previous,
    });
  }

  /** One queue subscription per instance. */
  private resubscribe(a: RunningActor): void {
    if (a.server) return a.server.resize(a.instances.size);
    a.server = new InvocationServer(this.d.nc, this.d.subjects, a.entry.id, (call) => a.instances.invoke(call), {
      instances: a.instances.size,
      // An actor started with config lattice.idempotent=false runs each call id once, lattice-wide.
      ledger: a.config[NON_IDEMPOTENT_KEY] === "false" ? this.d.ledger : undefined,
      guard: this.d.guard,
      policy: this.d.policy && this.invokePolicy(this.d.policy, a.entry.id),
      spy: this.d.spy,
      responder: this.d.hostId,
      defaultTimeoutMs: DEFAULT_CALL_TIMEOUT_MS,
      onError: (message) => this.d.log.warn(message, { actor: a.entry.id }),
    });
  }

  /** The InvocationServer's policy hook for an actor: who calls what, and who signed it. */
  private invokePolicy(policy: PolicyGate, target: string): InvocationPolicy {
    return (to, call) => {
      const q = {
        action: "invoke",
        source: call.source || "unknown",
        target,
        interface: to.iface,
        function: to.fn,
        // Only a verified signature says who signed: unverified, the field is the caller's word.
        ...(this.d.guard?.verifying && call.signature ? { signer: call.signature.signer } : {}),
      } as const;
      return policy.check(q, () => `call of ${target} ${q.interface ? `${q.interface}.` : ""}${q.function} by ${q.source}`);
    };
  }

  /** Stop taking calls, let the ones taken finish (within their deadline), then stop the instances. */
  private async remove(a: RunningActor, announce = true): Promise<number> {
    await a.server?.drain(DEFAULT_CALL_TIMEOUT_MS);
    const n = a.instances.size;
    if (this.actors.get(a.entry.id) === a) this.actors.delete(a.entry.id);
    await a.instances.stop();
    if (announce) this.scaled({ ...a.entry, instances: 0 }, n);
    return n;
  }

}

/** A claims refusal, naming the actor (the reason stays first after it). */
function refused(actorId: string, e: LatticeError): LatticeError {
  return new LatticeError(e.code, `actor ${actorId} refused: ${e.message}`);
}

function sameConfig(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
