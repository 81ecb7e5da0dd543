/**
 * Declarative applications: the manifest a user deploys and the records the reconciler keeps,
 * all in a JetStream KV bucket per lattice (`lattice_<L>_apps`):
 *
 *   app.<name>                  → AppRecord     (which version is deployed, the history)
 *   manifest.<name>.<version>   → Manifest      (each version as deployed, immutable)
 *   status.<name>               → AppStatus     (what the reconciler last saw and did)
 *   lease                       → ReconcilerLease (which host reconciles)
 */
import { Type, type Static } from "@sinclair/typebox";
import { ErrorCode, LatticeError } from "./errors.js";
import { LINK_INTERFACE_PATTERN, LINK_NAME_PATTERN } from "./links.js";
import { ArtifactRefString, ConfigValues, HostId, Labels, ProviderRef, TargetId } from "./schemas.js";

export const APP_NAME_PATTERN = "^[a-z0-9][a-z0-9-]{0,39}$";
/** Dot-separated words, so that a version is a valid tail of a KV key. */
export const APP_VERSION_PATTERN = "^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$";
export const MAX_APP_VERSION = 64;
/** A manifest file larger than this is refused before parsing. */
export const MAX_MANIFEST_BYTES = 256 * 1024;
/** Versions kept per app for rollback; older ones are dropped on deploy. */
export const MAX_APP_VERSIONS = 20;

/**
 * `region=eu` or `region=eu,cloud=aws`: the hosts a share of a spread goes to.
 * Checked in full (each key a label key) by the manifest parser.
 */
export const LABEL_SELECTOR_PATTERN = "^[^=,\\s]+=[^,]*(,[^=,\\s]+=[^,]*)*$";

export const SpreadPlacement = Type.Object(
  {
    /** Instances in total (actors), or hosts to run on (providers). */
    instances: Type.Integer({ minimum: 0, maximum: 1000 }),
    /** Shares of the instances by label selector, e.g. `region=eu: 60`; relative weights. */
    weights: Type.Optional(
      Type.Record(Type.String({ pattern: LABEL_SELECTOR_PATTERN, maxLength: 512 }), Type.Integer({ minimum: 0, maximum: 1_000_000 }), {
        maxProperties: 32,
        additionalProperties: false,
      }),
    ),
  },
  { additionalProperties: false },
);
export type SpreadPlacement = Static<typeof SpreadPlacement>;

export const DaemonPlacement = Type.Object(
  {
    /** Actor instances on each host (providers always run once per host). */
    instances: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type DaemonPlacement = Static<typeof DaemonPlacement>;

export const Placement = Type.Object(
  {
    /** Every host used must have all these labels. */
    labels: Type.Optional(Labels),
    spread: Type.Optional(SpreadPlacement),
    daemon: Type.Optional(DaemonPlacement),
  },
  { additionalProperties: false },
);
export type Placement = Static<typeof Placement>;

export const ManifestComponent = Type.Object(
  {
    /** The actor's or provider's id in the lattice: what links name as source or target. */
    id: TargetId,
    /** An artifact reference `name[:version]` in the lattice's artifact store. */
    actor: Type.Optional(ArtifactRefString),
    /** A built-in provider (`keyvalue`, `http-server`, `messaging`) or a provider module path. */
    provider: Type.Optional(ProviderRef),
    config: Type.Optional(ConfigValues),
    placement: Type.Optional(Placement),
  },
  { additionalProperties: false },
);
export type ManifestComponent = Static<typeof ManifestComponent>;

export const ManifestLink = Type.Object(
  {
    source: TargetId,
    target: TargetId,
    interface: Type.String({ pattern: LINK_INTERFACE_PATTERN, maxLength: 256 }),
    name: Type.Optional(Type.String({ pattern: LINK_NAME_PATTERN })),
    /** Values the target reads for this link (an `address` for http-server, a `bucket`…). */
    config: Type.Optional(ConfigValues),
  },
  { additionalProperties: false },
);
export type ManifestLink = Static<typeof ManifestLink>;

export const Manifest = Type.Object(
  {
    name: Type.String({ pattern: APP_NAME_PATTERN }),
    version: Type.String({ pattern: APP_VERSION_PATTERN, maxLength: MAX_APP_VERSION }),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    components: Type.Array(ManifestComponent, { minItems: 1, maxItems: 256 }),
    links: Type.Optional(Type.Array(ManifestLink, { maxItems: 1024 })),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof Manifest>;

export const AppRecord = Type.Object({
  name: Type.String({ pattern: APP_NAME_PATTERN }),
  /** The version the lattice is held at; null once an undeploy is asked for. */
  deployed: Type.Union([Type.String({ pattern: APP_VERSION_PATTERN, maxLength: MAX_APP_VERSION }), Type.Null()]),
  /** Stored versions, oldest first. */
  versions: Type.Array(Type.String({ maxLength: MAX_APP_VERSION }), { maxItems: MAX_APP_VERSIONS }),
  updatedAt: Type.String({ format: "date-time", maxLength: 64 }),
});
export type AppRecord = Static<typeof AppRecord>;

export const AppPhase = Type.Union([
  Type.Literal("deployed"),
  Type.Literal("reconciling"),
  Type.Literal("unsatisfied"),
  Type.Literal("failed"),
  Type.Literal("undeploying"),
]);
export type AppPhase = Static<typeof AppPhase>;

/** Instance counts by host id. */
const PerHost = Type.Record(Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 }), { maxProperties: 10_000 });

export const ComponentStatus = Type.Object({
  id: TargetId,
  kind: Type.Union([Type.Literal("actor"), Type.Literal("provider")]),
  ref: Type.String({ maxLength: 1024 }),
  /** Digest of what was last applied everywhere (ref and config): a change re-applies it. */
  spec: Type.Optional(Type.String({ maxLength: 128 })),
  desired: PerHost,
  running: PerHost,
  /** Why desired and running differ, when known (no matching host, a start failure…). */
  reasons: Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 64 }),
});
export type ComponentStatus = Static<typeof ComponentStatus>;

export const OwnedLink = Type.Object({ source: TargetId, interface: Type.String({ maxLength: 256 }), name: Type.String({ maxLength: 64 }) });
export type OwnedLink = Static<typeof OwnedLink>;

/** Everything an app has created in the lattice: what undeploying (or a new version) removes. */
export const OwnedResources = Type.Object({
  actors: Type.Array(TargetId),
  providers: Type.Array(TargetId),
  links: Type.Array(OwnedLink),
  configs: Type.Array(Type.String({ maxLength: 64 })),
});
export type OwnedResources = Static<typeof OwnedResources>;

export const AppStatus = Type.Object({
  name: Type.String({ pattern: APP_NAME_PATTERN }),
  version: Type.Union([Type.String({ maxLength: MAX_APP_VERSION }), Type.Null()]),
  phase: AppPhase,
  reasons: Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 256 }),
  components: Type.Array(ComponentStatus),
  owned: OwnedResources,
  /** The host whose reconciler wrote this. */
  reconciler: HostId,
  updatedAt: Type.String({ format: "date-time", maxLength: 64 }),
});
export type AppStatus = Static<typeof AppStatus>;

/** Data of `app_status`: an app's phase or version changed (`removed` once undeploying is done). */
export const AppStatusChanged = Type.Object({
  name: Type.String({ pattern: APP_NAME_PATTERN }),
  version: Type.Union([Type.String({ maxLength: MAX_APP_VERSION }), Type.Null()]),
  phase: Type.Union([AppPhase, Type.Literal("removed")]),
  /** The first few reasons, when it is not `deployed`. */
  reasons: Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 8 }),
});
export type AppStatusChanged = Static<typeof AppStatusChanged>;

export const ReconcilerLease = Type.Object({
  holder: HostId,
  /** Informational: takeover is decided by the revision not changing, not by clocks. */
  renewedAt: Type.String({ format: "date-time", maxLength: 64 }),
});
export type ReconcilerLease = Static<typeof ReconcilerLease>;

const appName = new RegExp(APP_NAME_PATTERN);
const appVersion = new RegExp(APP_VERSION_PATTERN);

export function assertAppName(name: string): string {
  if (!appName.test(name)) throw new LatticeError(ErrorCode.BadRequest, `invalid app name ${JSON.stringify(name)}: 1-40 lower-case letters, digits or '-'`);
  return name;
}

export function assertAppVersion(version: string): string {
  if (version.length > MAX_APP_VERSION || !appVersion.test(version)) {
    throw new LatticeError(ErrorCode.BadRequest, `invalid app version ${JSON.stringify(version)}: letters and digits, separated by '.', '_' or '-'`);
  }
  return version;
}

export const APP_KEY_PREFIX = "app.";
export const LEASE_KEY = "lease";

export function appKey(name: string): string {
  return `${APP_KEY_PREFIX}${name}`;
}

export function manifestKey(name: string, version: string): string {
  return `manifest.${name}.${version}`;
}

export function statusKey(name: string): string {
  return `status.${name}`;
}
