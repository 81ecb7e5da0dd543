/** The host layer's public surface. */
export { Host, DEFAULT_HEARTBEAT_MS, DEFAULT_LATTICE, intervalTicker, type HostOptions, type HostExtension, type Ticker } from "./host.js";
export { LatticeView, EXPIRY_BEATS, type ViewHost, type ViewChange, type ViewStats } from "../nats/lattice-view.js";
export { hostIdentity, type HostIdentity } from "./identity.js";
export { silentLogger, type Logger, type LogLevel } from "../protocol/logging.js";
export { consoleLogger } from "../provider/console-logger.js";
export type { ControlStats } from "./control-responder.js";
export { ActorSupervisor, NON_IDEMPOTENT_KEY, type SupervisorDeps } from "./actor-supervisor.js";
export { HostCapacity, INSTANCE_BASE_BYTES, type Admission, type MemoryProbe, type MemorySample } from "./capacity.js";
export {
  ProviderSupervisor,
  DEFAULT_BACKOFF,
  type LaunchSpec,
  type LaunchedProcess,
  type ProviderLauncher,
  type ProviderSupervisorDeps,
  type RestartBackoff,
} from "./provider-supervisor.js";
export { LinkRouter } from "./link-router.js";
export {
  PolicyGate,
  parsePolicyRules,
  evaluateRules,
  DEFAULT_POLICY_CACHE_TTL_MS,
  DEFAULT_POLICY_TIMEOUT_MS,
  type PolicyOptions,
  type PolicyRules,
  type PolicyStats,
  type PolicyDecision,
  type PolicyFailMode,
} from "./policy.js";
