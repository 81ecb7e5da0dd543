/** The actor layer's transport-agnostic surface: the runtime interface hosts see, and Wasm checks. */
export type { ActorInstances, ActorRuntime, HostCall, ImportForwarder, InstanceLoad, InstanceStats, Invocation, StartOptions } from "./runtime.js";
export { assertComponent, digestOf, wasmKind, type WasmKind } from "../nats/wasm-binary.js";
export { CLAIMS_SECTION, claimsToken, codeHash, embedClaims, verifyComponentClaims, withoutClaims, type ComponentClaimsPolicy } from "./wasm-claims.js";
