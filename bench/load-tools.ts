/**
 * HTTP load, run as child processes and read back: `wrk` (closed loop: N connections, each sends
 * its next request when the last is answered) for throughput and latency, and open-loop.ts for
 * an offered load (requests at a fixed rate, answered or not). wrk is a Debian package (`npm run
 * setup`).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { findExecutable } from "../src/nats/node/index.js";

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
  return ["wrk"].filter((t) => !findExecutable(t));
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
  /** How long sending and answering took, in seconds. */
  seconds: number;
  byStatus: Record<string, number>;
  /** Requests that got no answer in time, or whose connection failed. */
  errors: number;
  /** 2xx answers per second. */
  acceptedPerSecond: number;
  /** Of the requests answered 2xx, in milliseconds. */
  acceptedMs: { p50: number; p99: number };
  /** Of the requests answered 503, in milliseconds: how promptly overload is said. */
  refusedMs: { p50: number; p99: number };
}

function pctOf(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Offer `perSecond` requests a second, evenly spaced, for `seconds` (open-loop.ts in a child process). */
export async function offeredLoad(url: string, o: { perSecond: number; seconds: number; timeoutS?: number }): Promise<OfferedLoadResult> {
  const script = fileURLToPath(new URL("./open-loop.js", import.meta.url));
  const out = await run(process.execPath, [script, url, String(o.perSecond), String(o.seconds), String(o.timeoutS ?? 10)], (o.seconds * 3 + 30) * 1000);
  const r = JSON.parse(out) as { sent: number; seconds: number; byStatus: Record<string, number>; errors: number; acceptedMs: number[]; refusedMs: number[] };
  return {
    offeredPerSecond: o.perSecond,
    sent: r.sent,
    seconds: Math.round(r.seconds * 100) / 100,
    byStatus: r.byStatus,
    errors: r.errors,
    acceptedPerSecond: Math.round(r.acceptedMs.length / r.seconds),
    acceptedMs: { p50: pctOf(r.acceptedMs, 0.5), p99: pctOf(r.acceptedMs, 0.99) },
    refusedMs: { p50: pctOf(r.refusedMs, 0.5), p99: pctOf(r.refusedMs, 0.99) },
  };
}
