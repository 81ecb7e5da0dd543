/** The control client's public surface. */
export {
  LatticeClient,
  type ClientOptions,
  type EventRecord,
  type Gathered,
  type PlacementResult,
  type ProviderPlacement,
  type SkippedHost,
  type StartActorOptions,
  type StartProviderOptions,
  type CallOptions,
} from "./lattice-client.js";
export { spread, matches, type Candidate } from "./placement.js";
export { plural } from "./wording.js";
