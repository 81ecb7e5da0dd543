/** The control client's public surface. */
export { LatticeClient, type ClientOptions, type EventRecord, type Gathered } from "./lattice-client.js";
