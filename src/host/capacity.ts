/**
 * How much memory a host has for more actor instances, and whether a start fits. The host
 * measures itself through a `MemoryProbe` (Node: src/cli/memory-probe.ts; none in a page), learns
 * what one instance of each digest costs as its actors grow, and refuses a start that would not
 * fit with `insufficient_resources` and the figures, before anything is fetched or booted. A
 * reserve is kept for calls: under memory pressure a host sheds new starts, never the calls of
 * what it runs. Pure: no I/O but the probe's.
 */
import { ErrorCode, LatticeError } from "../protocol/errors.js";
import type { HostMemory } from "../protocol/schemas.js";

const MB = 1024 * 1024;

export interface MemorySample {
  /** Resident bytes of the process, its threads included. */
  rssBytes: number;
  /** Memory the machine could still give (Linux: MemAvailable). */
  availableBytes?: number;
  heapUsedBytes?: number;
  externalBytes?: number;
}

export interface MemoryProbe {
  sample(): MemorySample;
  /** What the host may use in all; undefined: no limit known (then only `availableBytes` bounds it). */
  readonly limitBytes?: number;
}

/**
 * One instance of a component not measured yet: a worker (~17-30 MB resident: an isolate, the
 * worker's code, the WASI shim) plus about its size again (its linear memory, data segments and
 * glue). Measured (docs/benchmarks.md): the JS echo, 11 MB, ~22 MB a further instance in the small
 * profile and ~25-37 MB in the default one; a tiny WAT actor ~20-30 MB.
 */
export const INSTANCE_BASE_BYTES = 24 * MB;
/** A digest compiled for the first time costs about twice its size (code, and V8's copy of the bytes). */
const COMPILE_FACTOR = 2;
/** No measured instance is taken to cost less than this (a worker's floor). */
const MIN_INSTANCE_BYTES = 8 * MB;

export interface Admission {
  actorId: string;
  /** Instances to add. */
  add: number;
  digest?: string;
  /** The component's size in bytes, when known. */
  size?: number;
  /** Whether this host has compiled the digest already. */
  compiled: boolean;
}

export class HostCapacity {
  /** Bytes per instance, by digest, as measured when actors grew. */
  private readonly perDigest = new Map<string, number>();

  constructor(private readonly probe: MemoryProbe) {}

  /** What one more instance of `digest` is expected to take. */
  instanceBytes(digest?: string, size = 0): number {
    return (digest && this.perDigest.get(digest)) || INSTANCE_BASE_BYTES + size;
  }

  /** Bytes the host would still give to new instances: its limit less use and the calls' reserve. */
  freeBytes(s: MemorySample = this.probe.sample()): number {
    const limit = this.probe.limitBytes;
    const reserve = reserveOf(limit ?? s.availableBytes ?? 0);
    const byLimit = limit === undefined ? Infinity : limit - s.rssBytes - reserve;
    const byMachine = s.availableBytes === undefined ? Infinity : s.availableBytes - reserve;
    const free = Math.min(byLimit, byMachine);
    return free === Infinity ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.floor(free));
  }

  /** Throws `insufficient_resources` with the figures when `a.add` more instances would not fit. */
  admit(a: Admission): void {
    if (a.add <= 0) return;
    const s = this.probe.sample();
    const each = this.instanceBytes(a.digest, a.size);
    const compile = a.compiled ? 0 : COMPILE_FACTOR * (a.size ?? 0);
    const needed = a.add * each + compile;
    const free = this.freeBytes(s);
    if (needed <= free) return;
    const fits = Math.max(0, Math.floor((free - compile) / each));
    const limit = this.probe.limitBytes;
    throw new LatticeError(
      ErrorCode.InsufficientResources,
      `no room for ${a.add} more instance${a.add === 1 ? "" : "s"} of ${a.actorId}: needs ~${mb(needed)} MB (${a.add} × ${mb(each)} MB${compile ? ` + ${mb(compile)} MB to compile` : ""}), ` +
        `has ${mb(free)} MB free (${mb(s.rssBytes)} MB in use${limit === undefined ? "" : ` of ${mb(limit)} MB`}, ${mb(reserveOf(limit ?? s.availableBytes ?? 0))} MB kept for calls); room for ${fits}`,
    );
  }

  /** The resident set now, to pass to `grew` once instances are added. */
  rss(): number {
    return this.probe.sample().rssBytes;
  }

  /** Learn what an instance of `digest` costs from the resident set before and after `added` instances. */
  grew(digest: string, rssBefore: number, added: number): void {
    if (added <= 0) return;
    const each = Math.max(MIN_INSTANCE_BYTES, (this.rss() - rssBefore) / added);
    const prior = this.perDigest.get(digest);
    // Smoothed: one reading is disturbed by garbage collection and by what compiling left behind.
    this.perDigest.set(digest, Math.round(prior === undefined ? each : (prior + each) / 2));
  }

  /** What the host advertises (HostInfo.memory). */
  info(): HostMemory {
    const s = this.probe.sample();
    const limit = this.probe.limitBytes;
    return {
      usedBytes: Math.round(s.rssBytes),
      ...(limit === undefined ? {} : { limitBytes: Math.round(limit) }),
      freeBytes: this.freeBytes(s),
      instanceBytes: INSTANCE_BASE_BYTES,
      ...(s.heapUsedBytes === undefined ? {} : { heapUsedBytes: Math.round(s.heapUsedBytes) }),
      ...(s.externalBytes === undefined ? {} : { externalBytes: Math.round(s.externalBytes) }),
    };
  }
}

/** Kept for calls in flight and their garbage: a tenth of the limit, at least 16 MB. */
function reserveOf(limit: number): number {
  return Math.max(16 * MB, limit / 10);
}

function mb(bytes: number): number {
  return Math.round(bytes / MB);
}
