/** A host's defaults, apart from the host's code: the CLI shows them in its flags' help. */
export const DEFAULT_LATTICE = "default";
export const DEFAULT_HEARTBEAT_MS = 1_000;
export const DEFAULT_POLICY_TIMEOUT_MS = 1_000;
export const DEFAULT_POLICY_CACHE_TTL_MS = 10_000;
