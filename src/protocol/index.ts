/**
 * The lattice protocol: subjects, schemas, codecs, events, error codes, invocations, claims, apps
 * and policy. Pure: no I/O.
 *
 * Listed name by name, values and types apart: what the other layers and the package's users
 * import from here, nothing else. The Logger interface (protocol/logging.ts), the host ↔
 * provider process contract (provider-process.ts), the HTTP values (http.ts) and the helpers
 * used inside protocol/ are imported from their own modules.
 */
export { LATTICE_VERSION } from "./version.js";

export { ErrorCode, ERROR_CODES, isErrorCode, LatticeError, isLatticeError, messageOf } from "./errors.js";

export { assertLatticeName, assertLabel, assertTargetId, assertJetStreamDomain, labelText } from "./names.js";

export { ControlOp, CONTROL_OPS, isControlOp, Subjects } from "./subjects.js";
export type { InvocationAddress } from "./subjects.js";

export {
  Labels,
  MAX_ADVERTISED_ISSUERS,
  HostAccepts,
  HostMemory,
  HostInfo,
  InventorySummary,
  ActorLoad,
  ActorEntry,
  ProviderEntry,
  HostInventory,
  PingRequest,
  InventoryRequest,
  ActorScaleRequest,
  ActorScaleResult,
  ProviderStartRequest,
  ProviderStartResult,
  ProviderStopRequest,
  ProviderStopResult,
  ActorStopRequest,
  ActorStopResult,
  WireError,
  PingReply,
  InventoryReply,
  ActorScaleReply,
  ActorStopReply,
  ProviderStartReply,
  ProviderStopReply,
  AnyCloudEvent,
  InvocationMember,
} from "./schemas.js";

export { LATENCY_BUCKETS_MS, LatencyHistogram, TargetMetrics, histogramCount, histogramQuantile } from "./metrics.js";
export { MAX_SPY_LEASE_MS, SPY_LEASE_MS, SPY_RENEW_MS, SpyLease, SpyPresence, SpyRecord } from "./spy.js";

export { EventType, EVENT_DATA, EVENT_SCHEMAS, isEventType, shortEventType, makeEvent } from "./events.js";
export type { EventData } from "./events.js";

export { MAX_CONTROL_PAYLOAD, MAX_EVENT_PAYLOAD, validate, schemaProblems, decode, encode } from "./codec.js";

export { LATEST, parseArtifactRef, formatArtifactRef } from "./artifacts.js";
export type { ArtifactRef } from "./artifacts.js";

export {
  DEFAULT_CALL_TIMEOUT_MS,
  MAX_CALL_ID,
  callIdProblem,
  childCallId,
  MAX_INVOCATION_PAYLOAD,
  isResourceRef,
  encodeCall,
  sessionFields,
  encodeSessionCall,
  decodeCall,
  encodeReply,
  encodeResult,
  decodeReply,
  replyError,
} from "./invocation.js";
export type { CallEnvelope, InvocationReply, ResourceRef, SessionFields } from "./invocation.js";

export {
  SIGNATURE_BYTES,
  MAC_BYTES,
  isSignerKey,
  signedLength,
  signedMessage,
  placeSignature,
  INVOCATION_SECURITY_KEY,
  DEFAULT_SIGNATURE_WINDOW_MS,
  InvocationSecurity,
  issuedAtProblem,
  ReplayMemory,
} from "./invocation-signature.js";

export {
  DEFAULT_LINK_NAME,
  Link,
  NamedConfig,
  assertLinkInterface,
  assertLinkName,
  assertConfigName,
  linkKey,
  configKey,
  LINK_KEY_PREFIX,
  CONFIG_KEY_PREFIX,
  unversioned,
  findLink,
} from "./links.js";

export { parseDuration, durationOr, sizeOr } from "./durations.js";

export { base32Decode } from "./base32.js";

export { createModuleKey, moduleKeyFromSeed, isModulePublicKey } from "./module-keys.js";

export {
  ActorClaims,
  ClaimsError,
  signClaims,
  parseClaimsToken,
  signatureValid,
  timeProblem,
  verifyClaims,
  capsAllow,
  claimsSummary,
  assertIssuerKey,
} from "./claims.js";
export type { SignOptions } from "./claims.js";

export {
  MAX_MANIFEST_BYTES,
  MAX_APP_VERSIONS,
  ManifestComponent,
  ManifestLink,
  Manifest,
  AppRecord,
  AppPhase,
  ComponentStatus,
  OwnedResources,
  AppStatus,
  AppStatusChanged,
  ReconcilerLease,
  assertAppName,
  assertAppVersion,
  APP_KEY_PREFIX,
  LEASE_KEY,
  appKey,
  manifestKey,
  statusKey,
} from "./apps.js";

export { POLICY_ACTIONS, PolicyHost, PolicyRequest, PolicyReply, PolicyDenied } from "./policy.js";

export {
  SESSION_KEY_BYTES,
  MAX_SESSION_LIFETIME_MS,
  SessionKeyRequest,
  SessionKeyAnswer,
  SessionKeyReply,
  sessionRequestMessage,
  sessionAnswerMessage,
  toBase64Url,
  fromBase64Url,
} from "./session-keys.js";
