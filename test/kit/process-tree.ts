/** A process and every process under it, found through /proc (Linux): to freeze a host and its providers at once. */
import { readdirSync, readFileSync } from "node:fs";

/** `pid` and its descendants, parents first. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (const queue = [pid]; queue.length > 0; ) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Send `signal` to `pid` and every process under it (SIGSTOP freezes a host with its providers). */
export function signalTree(pid: number, signal: NodeJS.Signals): number[] {
  const pids = processTree(pid);
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // exited
    }
  }
  return pids;
}
