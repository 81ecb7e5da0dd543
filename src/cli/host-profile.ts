/**
 * What each `--profile` of `lattice host` / `lattice up` trades (docs/cli.md; the figures are in
 * docs/benchmarks.md, "Host memory").
 *
 * - `default`: warm starts. The worker supply keeps a booted blank worker and a loaded instance of
 *   each of the last 4 digests, so a start or a scale-up only binds (a few ms); compiled
 *   components and the jco thread stay for the host's life; V8 tiers hot Wasm up to TurboFan.
 * - `small`: least memory, for a small device. No spare worker and no pre-loaded instance (each
 *   start boots a worker and instantiates: tens of ms for a tiny component, a few hundred for a
 *   JS actor); compiled components bounded by bytes; the jco thread stopped once idle; actor
 *   workers with a 2 MB young generation and the WASI shim's I/O thread started only when an
 *   instance first needs it (files, stdio, polls: ~20 ms then); Wasm run by V8's baseline compiler only (Liftoff): the
 *   TurboFan tier-up of a JS actor's engine costs ~25 MB on its first calls, for faster guest code;
 *   a full GC after a new compile, before the instances start (its fetched bytes are garbage by then).
 *   bin/lattice starts such a host with the V8 flags and malloc settings that only work from the
 *   process's start (docs/cli.md).
 */
import v8 from "node:v8";
import type { NodeRuntimeOptions } from "../actor/node-runtime.js";
import type { HostProfile } from "./host-options.js";

/** The small profile keeps compiled components up to this many component bytes (a JS actor is ~11 MB). */
const SMALL_COMPILED_BYTES = 48 * 1024 * 1024;

export function runtimeOptions(profile: HostProfile): NodeRuntimeOptions {
  if (profile === "default") return {};
  // `gc` is there when node runs with --expose-gc, as bin/lattice starts a small host.
  const gc = (globalThis as { gc?: () => void }).gc;
  return {
    blank: 0,
    digests: 0,
    keepTranspiler: false,
    maxCompiledBytes: SMALL_COMPILED_BYTES,
    workerLimits: { maxYoungGenerationSizeMb: 2 },
    lazyShimThread: true,
    // Twice: a collection first completes the previous one's freeing of array buffers (done in the
    // background), so what the first freed is gone before the instances' cost is measured.
    ...(gc ? { collectGarbage: () => (gc(), gc()) } : {}),
  };
}

/**
 * Process-wide V8 settings of the profile, before anything is compiled. Set at run time they take
 * effect for code compiled from then on (the flag on `node`'s command line does a little more:
 * docs/cli.md).
 */
export function applyProfileFlags(profile: HostProfile): void {
  if (profile === "small") v8.setFlagsFromString("--liftoff-only");
}
