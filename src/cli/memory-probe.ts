/**
 * The Node host's memory probe (host/capacity.ts): its resident set and main-thread heap from
 * process.memoryUsage, what the machine could still give from /proc/meminfo, and its limit from
 * `--memory-limit`, else its cgroup (v2 `memory.max`, v1 `hierarchical_memory_limit`), else the
 * machine's memory. A limit set by `prlimit --as` is not one: V8 reserves ~10 GB of address space
 * for each Wasm memory, so an address-space limit fails Wasm long before memory runs out.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import type { MemoryProbe, MemorySample } from "../host/capacity.js";

/** cgroup files say "no limit" with a huge number (v1) or `max` (v2). */
const NO_LIMIT = 2 ** 60;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The memory limit of this process's cgroup, if it has one (the tightest on its path, v2). */
export function cgroupMemoryLimit(): number | undefined {
  const lines = (read("/proc/self/cgroup") ?? "").split("\n");
  const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes("memory"))?.split(":")[2];
  if (v1 !== undefined) {
    const stat = read(`/sys/fs/cgroup/memory${v1 === "/" ? "" : v1}/memory.stat`);
    const n = Number(/^hierarchical_memory_limit (\d+)$/m.exec(stat ?? "")?.[1]);
    if (n > 0 && n < NO_LIMIT) return n;
  }
  const v2 = lines.find((l) => l.startsWith("0::"))?.slice(3);
  if (v2 === undefined) return undefined;
  let tightest: number | undefined;
  for (let dir = v2; ; dir = dir.slice(0, dir.lastIndexOf("/")) || "/") {
    const n = Number(read(`/sys/fs/cgroup${dir === "/" ? "" : dir}/memory.max`)?.trim());
    if (n > 0 && n < NO_LIMIT) tightest = Math.min(tightest ?? n, n);
    if (dir === "/") break;
  }
  return tightest;
}

function availableBytes(): number | undefined {
  const kb = Number(/^MemAvailable:\s+(\d+) kB$/m.exec(read("/proc/meminfo") ?? "")?.[1]);
  return kb > 0 ? kb * 1024 : undefined;
}

/** `limitBytes`: the host's `--memory-limit`; unset, its cgroup's, else the machine's memory. */
export function nodeMemoryProbe(limitBytes?: number): MemoryProbe {
  const cgroup = cgroupMemoryLimit();
  const limit = Math.min(limitBytes ?? Infinity, cgroup ?? Infinity, totalmem());
  return {
    limitBytes: limit,
    sample(): MemorySample {
      const m = process.memoryUsage();
      const available = availableBytes();
      return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, externalBytes: m.external, ...(available === undefined ? {} : { availableBytes: available }) };
    },
  };
}
