/**
 * The schema of every message that crosses the wire. Each is a JSON Schema (TypeBox builds it and
 * derives the TypeScript type from it); docs/protocol.md is generated from nothing but mirrors these.
 * Objects accept unknown properties so that a newer minor version can add fields (see version.ts).
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { ERROR_CODES } from "./errors.js";
import { ARTIFACT_NAME_PATTERN } from "./artifacts.js";
import { ClaimsSummary, ISSUER_KEY_PATTERN } from "./claims.js";
import { TargetMetrics } from "./metrics.js";
import { HOST_ID_PATTERN, LABEL_KEY_PATTERN, LATTICE_NAME_PATTERN, MAX_HOST_NAME, MAX_LABEL_VALUE, TARGET_ID_PATTERN } from "./names.js";

export const HostId = Type.String({ pattern: HOST_ID_PATTERN });

export const Labels = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ maxLength: MAX_LABEL_VALUE }), {
  maxProperties: 64,
  // Without this a key that misses the pattern would simply not be checked.
  additionalProperties: false,
});
export type Labels = Static<typeof Labels>;

/** A host advertises at most this many allowed issuers (they ride in every heartbeat). */
export const MAX_ADVERTISED_ISSUERS = 64;

/**
 * What a host takes, so placement can pass over a host that would refuse without asking it.
 * Only what is cheap to say: a policy hook's answers are not known before the start is asked.
 */
export const HostAccepts = Type.Object({
  /** It runs actors (a host without an actor runtime refuses every actor). */
  actors: Type.Boolean(),
  /** It supervises capability provider processes. */
  providers: Type.Boolean(),
  /** Set: it runs only actors signed by one of these issuers (unsigned ones are refused). */
  issuers: Type.Optional(Type.Array(Type.String({ pattern: ISSUER_KEY_PATTERN }), { maxItems: MAX_ADVERTISED_ISSUERS })),
});
export type HostAccepts = Static<typeof HostAccepts>;

/**
 * A host's memory as it measures it (host/capacity.ts), so placement can pass over a host that
 * has no room for another instance. Absent from hosts of earlier versions.
 */
export const HostMemory = Type.Object({
  /** Resident bytes of the host process (its actor workers are threads of it; provider processes are not counted). */
  usedBytes: Type.Integer({ minimum: 0 }),
  /** What it may use in all: `--memory-limit`, else its cgroup's limit, else the machine's memory. */
  limitBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** What it would still give to new instances: the limit less what it uses and a reserve kept for calls. */
  freeBytes: Type.Integer({ minimum: 0 }),
  /** Its estimate of one more instance of an actor whose cost it has not measured. */
  instanceBytes: Type.Integer({ minimum: 0 }),
  /** Its main thread's V8 heap in use, and memory held outside it (process.memoryUsage), where the host can tell. */
  heapUsedBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  externalBytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type HostMemory = Static<typeof HostMemory>;

/** Who a host is. Sent in host_started, every heartbeat and every ping reply. */
export const HostInfo = Type.Object({
  id: HostId,
  name: Type.String({ minLength: 1, maxLength: MAX_HOST_NAME }),
  lattice: Type.String({ pattern: LATTICE_NAME_PATTERN }),
  labels: Labels,
  /** Software version of the host implementation. */
  version: Type.String({ maxLength: 64 }),
  /** RFC 3339 time the host started. */
  startedAt: Type.String({ format: "date-time", maxLength: 64 }),
  /** The host's heartbeat interval: views expire it after 3 missed beats. */
  heartbeatMs: Type.Integer({ minimum: 1, maximum: 3_600_000 }),
  /** Seconds since start, measured by the host itself (immune to clock skew between machines). */
  uptimeSeconds: Type.Number({ minimum: 0 }),
  /** What it takes; absent from hosts of earlier versions, which placement treats as taking anything. */
  accepts: Type.Optional(HostAccepts),
  /**
   * In ping and inventory answers of a host whose view is seeded: the live hosts it knows of,
   * itself included. A scatter-gather stops once that many hosts have answered, instead of
   * waiting out its stall.
   */
  knownHosts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  /** Its memory, where it measures it. */
  memory: Type.Optional(HostMemory),
});
export type HostInfo = Static<typeof HostInfo>;

/** Counts of what a host runs, carried in heartbeats so views stay current without asking. */
export const InventorySummary = Type.Object({
  actors: Type.Integer({ minimum: 0 }),
  providers: Type.Integer({ minimum: 0 }),
});
export type InventorySummary = Static<typeof InventorySummary>;

export const HostHeartbeat = Type.Object({
  host: HostInfo,
  summary: InventorySummary,
});
export type HostHeartbeat = Static<typeof HostHeartbeat>;

export const HostStopped = Type.Object({
  id: HostId,
  reason: Type.String({ maxLength: 1024 }),
});
export type HostStopped = Static<typeof HostStopped>;

export const TargetId = Type.String({ pattern: TARGET_ID_PATTERN });
/** An artifact reference `name[:version]` (see artifacts.ts), checked in full where it is used. */
export const ArtifactRefString = Type.String({ minLength: 1, maxLength: 200, pattern: ARTIFACT_NAME_PATTERN.replace("$", "(:.*)?$") });
export const ConfigValues = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 16 * 1024 }), { maxProperties: 256 });

/** What an actor's instances on one host are doing, as of the inventory answer. */
export const ActorLoad = Type.Object({
  /** Instances running a call. */
  busy: Type.Integer({ minimum: 0 }),
  /** Calls waiting for an instance. */
  queued: Type.Integer({ minimum: 0 }),
  /** Busy instances whose call is past its deadline: replaced unless they finish within a grace (1 s). */
  stuck: Type.Integer({ minimum: 0 }),
  /** Instances replaced since the actor started here: stuck, crashed, or never ready. */
  replaced: Type.Integer({ minimum: 0 }),
  /**
   * Calls taken since the actor started here (a counter: rates come from two answers). Absent
   * from hosts of earlier versions.
   */
  calls: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ActorLoad = Static<typeof ActorLoad>;

/** An actor as one host runs it. */
export const ActorEntry = Type.Object({
  id: TargetId,
  ref: ArtifactRefString,
  /** `sha256:<hex>` of the component. */
  digest: Type.String({ maxLength: 80 }),
  instances: Type.Integer({ minimum: 0 }),
  startedAt: Type.String({ format: "date-time", maxLength: 64 }),
  /** Label requirements it was placed with; `lattice scale` keeps to them. */
  constraints: Labels,
  /** The verified claims of a signed component. */
  claims: Type.Optional(ClaimsSummary),
  /** Set in inventory answers (an older host leaves it out). */
  load: Type.Optional(ActorLoad),
  /** Its calls served on this host, in inventory answers (an older host leaves it out). */
  metrics: Type.Optional(TargetMetrics),
  /** The host's estimate of one more instance of it, in bytes (measured as it grew, else a default). */
  instanceBytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ActorEntry = Static<typeof ActorEntry>;

/** A provider reference: a built-in name (`keyvalue`) or the path of a provider module on the host. */
export const ProviderRef = Type.String({ minLength: 1, maxLength: 1024 });

export const ProviderHealth = Type.Object({
  healthy: Type.Boolean(),
  message: Type.String({ maxLength: 1024 }),
  at: Type.String({ format: "date-time", maxLength: 64 }),
});
export type ProviderHealth = Static<typeof ProviderHealth>;

/** A capability provider as the host supervising it sees it. */
export const ProviderEntry = Type.Object({
  id: TargetId,
  ref: ProviderRef,
  state: Type.Union([Type.Literal("starting"), Type.Literal("running"), Type.Literal("restarting"), Type.Literal("stopped")]),
  /** The provider process, while there is one. */
  pid: Type.Optional(Type.Integer({ minimum: 1 })),
  restarts: Type.Integer({ minimum: 0 }),
  startedAt: Type.String({ format: "date-time", maxLength: 64 }),
  health: ProviderHealth,
  /** Its calls served, as its process last reported them (absent until it has, and from older hosts). */
  metrics: Type.Optional(TargetMetrics),
});
export type ProviderEntry = Static<typeof ProviderEntry>;

export const HostInventory = Type.Object({
  host: HostInfo,
  actors: Type.Array(ActorEntry),
  providers: Type.Array(ProviderEntry),
});
export type HostInventory = Static<typeof HostInventory>;

/** Control requests. Empty payloads are read as `{}`. */
export const PingRequest = Type.Object({});
export const InventoryRequest = Type.Object({});

/** Run `instances` instances of an actor on this host: start, rescale, or (0) stop it here. */
export const ActorScaleRequest = Type.Object({
  actorId: TargetId,
  ref: ArtifactRefString,
  instances: Type.Integer({ minimum: 0, maximum: 1000 }),
  config: Type.Optional(ConfigValues),
  constraints: Type.Optional(Labels),
});
export type ActorScaleRequest = Static<typeof ActorScaleRequest>;

export const ActorScaleResult = Type.Object({
  hostId: HostId,
  actor: ActorEntry,
  previous: Type.Integer({ minimum: 0 }),
});
export type ActorScaleResult = Static<typeof ActorScaleResult>;

export const ProviderStartRequest = Type.Object({
  providerId: TargetId,
  ref: ProviderRef,
  /** Given to the provider process at start (LATTICE_PROVIDER_CONFIG). */
  config: Type.Optional(ConfigValues),
});
export type ProviderStartRequest = Static<typeof ProviderStartRequest>;
export const ProviderStartResult = Type.Object({ hostId: HostId, provider: ProviderEntry });
export type ProviderStartResult = Static<typeof ProviderStartResult>;
export const ProviderStopRequest = Type.Object({ providerId: TargetId });
export const ProviderStopResult = Type.Object({ hostId: HostId, stopped: Type.Boolean() });
export type ProviderStopResult = Static<typeof ProviderStopResult>;

export const ActorStopRequest = Type.Object({ actorId: TargetId });
export const ActorStopResult = Type.Object({ hostId: HostId, stopped: Type.Integer({ minimum: 0 }) });
export type ActorStopResult = Static<typeof ActorStopResult>;

export const WireError = Type.Object({
  code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
  message: Type.String({ maxLength: 4096 }),
});
export type WireError = Static<typeof WireError>;

/** Every control reply is either `{ ok: true, data }` or `{ ok: false, error }`. */
export function ControlReply<T extends TSchema>(data: T) {
  return Type.Union([
    Type.Object({ ok: Type.Literal(true), data }),
    Type.Object({ ok: Type.Literal(false), error: WireError }),
  ]);
}
export const ErrorReply = Type.Object({ ok: Type.Literal(false), error: WireError });
export type ErrorReply = Static<typeof ErrorReply>;
export const PingReply = ControlReply(HostInfo);
export const InventoryReply = ControlReply(HostInventory);
export const ActorScaleReply = ControlReply(ActorScaleResult);
export const ActorStopReply = ControlReply(ActorStopResult);
export const ProviderStartReply = ControlReply(ProviderStartResult);
export const ProviderStopReply = ControlReply(ProviderStopResult);

export const ProviderStarted = Type.Object({ hostId: HostId, providerId: TargetId, ref: ProviderRef, pid: Type.Integer({ minimum: 1 }) });
export type ProviderStarted = Static<typeof ProviderStarted>;
export const ProviderStopped = Type.Object({
  hostId: HostId,
  providerId: TargetId,
  ref: ProviderRef,
  reason: Type.String({ maxLength: 1024 }),
  /** Set when the process exited by itself; the host restarts it unless it was asked to stop. */
  exitCode: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
});
export type ProviderStopped = Static<typeof ProviderStopped>;
export const ProviderHealthChanged = Type.Object({ hostId: HostId, providerId: TargetId, healthy: Type.Boolean(), message: Type.String({ maxLength: 1024 }) });
export type ProviderHealthChanged = Static<typeof ProviderHealthChanged>;

/** Data of `actor_scaled`: an actor's instance count on a host changed (0: stopped there). */
export const ActorScaled = Type.Object({
  hostId: HostId,
  actorId: TargetId,
  ref: ArtifactRefString,
  digest: Type.String({ maxLength: 80 }),
  instances: Type.Integer({ minimum: 0 }),
  previous: Type.Integer({ minimum: 0 }),
});
export type ActorScaled = Static<typeof ActorScaled>;

/** Data of `actor_start_failed`. */
export const ActorStartFailed = Type.Object({
  hostId: HostId,
  actorId: TargetId,
  ref: Type.String({ maxLength: 200 }),
  error: WireError,
});
export type ActorStartFailed = Static<typeof ActorStartFailed>;

/** The CloudEvents 1.0 envelope (structured JSON mode) of every lattice event. */
function envelope<Ty extends TSchema, D extends TSchema>(type: Ty, data: D) {
  return Type.Object({
    specversion: Type.Literal("1.0"),
    id: Type.String({ minLength: 1, maxLength: 128 }),
    /** The id of the host that emitted the event. */
    source: Type.String({ minLength: 1, maxLength: 256 }),
    type,
    time: Type.String({ format: "date-time", maxLength: 64 }),
    datacontenttype: Type.Literal("application/json"),
    data,
  });
}

export function CloudEvent<T extends TSchema>(type: string, data: T) {
  return envelope(Type.Literal(type), data);
}

/** Any lattice event, of a type known or not yet known to this version. */
export const AnyCloudEvent = envelope(Type.String({ minLength: 1, maxLength: 256 }), Type.Unknown());
export type AnyCloudEvent = Static<typeof AnyCloudEvent>;

/**
 * What a member serving a target answers on the target's members subject (`Subjects.invocationMembers`):
 * its direct address and who it is (a host id, or a provider id).
 */
export const InvocationMember = Type.Object({
  at: Type.String({ pattern: "^[a-z2-7]{12}$" }),
  by: Type.String({ minLength: 1, maxLength: 256 }),
  /** The id of the NATS server the member is connected to: a caller on the same one prefers it, as NATS does. */
  server: Type.Optional(Type.String({ maxLength: 256 })),
  /** The NATS cluster (a region of a supercluster) of that server: a caller in it prefers it to other regions' members. */
  cluster: Type.Optional(Type.String({ maxLength: 256 })),
});
export type InvocationMember = Static<typeof InvocationMember>;
