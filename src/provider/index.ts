/** The provider SDK: write a capability provider as a definition, run it with runProvider. */
export { runProvider } from "./run.js";
export { callLog } from "./call-log.js";
export type { ProviderIpc } from "../protocol/provider-process.js";
export { Provider, type ProviderSetup } from "./provider.js";
export type { CallContext, CallOptions, ProviderDefinition, ProviderHandler, ProviderRuntime, ResolvedLink } from "./types.js";
export { NodeProviderLauncher, BUILTIN_PROVIDERS, resolveProviderRef, providerEnvironment, type NodeLauncherOptions } from "./node-launcher.js";
