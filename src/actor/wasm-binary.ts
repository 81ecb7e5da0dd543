/**
 * The Wasm checks under the actor layer's name: they live in `nats/wasm-binary.ts`, the lowest
 * layer that needs them (the artifact store checks what it stores); `lattice push` imports them here.
 */
export { assertComponent, digestOf, wasmKind, type WasmKind } from "../nats/wasm-binary.js";
