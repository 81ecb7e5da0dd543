/**
 * The NATS layer's transport-agnostic surface: connection policy, nats-server config, the
 * artifact store, lattice state, invocations, the call ledger, call signing and the lattice view.
 * Safe in a browser. The Node edge (TCP connector, nats-server launcher, credentials files) is `./node/`;
 * signing is in `./signing/`, the rest is one module per concern here.
 */
export { RESILIENT, parseServers, redactUrl, liftUrlCredentials, withUnreachableError, NatsUnreachableError, type Connector } from "./connection-options.js";
export { renderNatsConfig, quoteConf, DEFAULT_NATS_HOST } from "./server-config.js";
export type {
  NatsServerOptions,
  ByteSize,
  WebsocketOptions,
  ClusterOptions,
  LeafRemote,
  LeafnodeOptions,
  GatewayOptions,
  GatewayRemote,
  JetStreamOptions,
  AccountOptions,
  AuthorizationOptions,
} from "./server-config.js";
export {
  ArtifactStore,
  artifactBucketName,
  assertJetStreamDomain,
  shortDigest,
  DIGEST_METADATA_KEY,
  DEFAULT_ARTIFACT_TIMEOUT_MS,
} from "./artifact-store.js";
export type { ArtifactInfo, ArtifactStoreOptions } from "./artifact-store.js";
export { LatticeState, StateCache, stateBucketName, type StateChange, type StateOptions } from "./lattice-state.js";
export { invoke, InvocationServer, type CallHandler, type IncomingCall, type InvokeRequest, type InvokeResult, type ServerOptions } from "./invocations.js";
export { CallLedger, type Claim } from "./call-ledger.js";
export { CallSigner, InvocationGuard, emptyGuardStats, type GuardOptions, type GuardStats, type RejectReason, type SignedCall } from "./signing/call-signing.js";
export { callSecurity, type CallSecurity, type CallSecurityOptions } from "./signing/call-security.js";
export { SigningKey, VerifyingKeys } from "./signing/ed25519.js";
export { SessionKeyCache, type SessionKey, type SessionKeyCacheOptions } from "./signing/session-key-cache.js";
export { SigningSessions, DEFAULT_ROTATE_MS, type Session, type SessionOptions } from "./signing/signing-sessions.js";
export { LatticeView, EXPIRY_BEATS, type ViewHost, type ViewChange, type ViewStats } from "./lattice-view.js";
