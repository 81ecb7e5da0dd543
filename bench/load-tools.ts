/**
 * Real HTTP load tools, run as child processes and read back: `wrk` (closed loop: N connections,
 * each sends its next request when the last is answered) for throughput and latency, and `hey`
 * with a rate limit per worker for an offered load (open loop, as far as answers come in time),
 * its CSV giving every request's status and time. Both are Debian packages (`npm run setup`).
 */
import { spawn } from "node:child_process";
import { findExecutable } from "../src/nats/node.js";

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Milliseconds. */
  latencyMs: { p50: number; p75: number; p90: number; p99: number; max: number };
  non2xx: number;
  /** wrk's socket errors; `timeout` counts requests without an answer within --timeout. */
  errors: { connect: number; read: number; write: number; timeout: number };
}

export function missingTools(): string[] {
  return ["wrk", "hey"].filter((t) => !findExecutable(t));
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err.trim()}`));
    });
  });
}

/** A wrk duration (`452.07ms`, `1.15s`, `339.00us`) in milliseconds. */
export function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${text}`);
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** Read what `wrk --latency` prints. */
export function parseWrk(text: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)$`, "m").exec(text);
    if (!m) throw new Error(`wrk printed no ${p}% latency:\n${text}`);
    return wrkMs(m[1]!);
  };
  const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(text);
  if (!total) throw new Error(`wrk printed no request count:\n${text}`);
  const maxLine = /^\s+Latency\s+\S+\s+\S+\s+(\S+)/m.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const requests = Number(total[1]);
  const seconds = wrkMs(`${total[2]}${total[3]}`) / 1000;
  return {
    requests,
    seconds,
    requestsPerSecond: Math.round(requests / seconds),
    latencyMs: { p50: pct("50"), p75: pct("75"), p90: pct("90"), p99: pct("99"), max: maxLine ? wrkMs(maxLine[1]!) : NaN },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: sock ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) } : { connect: 0, read: 0, write: 0, timeout: 0 },
  };
}

export async function wrk(url: string, o: { connections: number; threads?: number; seconds: number; timeoutS?: number }): Promise<WrkResult> {
  const args = [`-t${o.threads ?? 2}`, `-c${o.connections}`, `-d${o.seconds}s`, `--timeout`, `${o.timeoutS ?? 10}s`, "--latency", url];
  return parseWrk(await run("wrk", args, (o.seconds + 30) * 1000));
}

export interface OfferedLoadResult {
  offeredPerSecond: number;
  sent: number;
  byStatus: Record<string, number>;
  /** Requests that got no answer in time, or whose connection failed. */
  errors: number;
  /** Of the requests answered 2xx, in milliseconds. */
  acceptedMs: { p50: number; p99: number };
  /** Of the requests answered 503, in milliseconds: how promptly overload is said. */
  refusedMs: { p50: number; p99: number };
}

function pctOf(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 1000) / 1000;
}

/** Read hey's CSV: `response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset`. */
export function parseHeyCsv(csv: string, offeredPerSecond: number): OfferedLoadResult {
  const byStatus: Record<string, number> = {};
  const accepted: number[] = [];
  const refused: number[] = [];
  let sent = 0;
  for (const line of csv.split("\n")) {
    const f = line.split(",");
    if (f.length < 8 || !/^[\d.]+$/.test(f[0]!)) continue;
    sent++;
    const ms = Number(f[0]) * 1000;
    const status = f[6]!;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (status.startsWith("2")) accepted.push(ms);
    else if (status === "503") refused.push(ms);
  }
  accepted.sort((a, b) => a - b);
  refused.sort((a, b) => a - b);
  return {
    offeredPerSecond,
    sent,
    byStatus,
    errors: 0,
    acceptedMs: { p50: pctOf(accepted, 0.5), p99: pctOf(accepted, 0.99) },
    refusedMs: { p50: pctOf(refused, 0.5), p99: pctOf(refused, 0.99) },
  };
}

/**
 * Offer `perSecond` requests a second for about `seconds`: hey's workers each send at most their
 * share of the rate, with enough of them that each has ~40 ms per request before it falls behind.
 * The number of requests is fixed, so those that got no answer (timeouts, failed connections:
 * hey leaves them out of its CSV) are the ones missing from it.
 */
export async function offeredLoad(url: string, o: { perSecond: number; seconds: number; timeoutS?: number }): Promise<OfferedLoadResult> {
  const workers = Math.max(8, Math.ceil(o.perSecond / 25));
  const perWorker = Math.max(1, Math.round(o.perSecond / workers));
  const total = workers * perWorker * o.seconds;
  const args = ["-n", String(total), "-c", String(workers), "-q", String(perWorker), "-t", String(o.timeoutS ?? 10), "-o", "csv", url];
  const r = parseHeyCsv(await run("hey", args, (o.seconds * 3 + 30) * 1000), workers * perWorker);
  r.errors = total - r.sent;
  return r;
}
