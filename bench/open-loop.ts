/**
 * An open-loop HTTP load: requests sent at a fixed rate, spread evenly in time, whether or not the
 * earlier ones have been answered, which is what overload is (a closed-loop tool like wrk only
 * sends when an answer comes back, and hey's rate-limited workers tick in step, so they offer
 * their load in bursts with idle gaps between). Runs as its own process, so its CPU shows apart.
 *
 *   node open-loop.js URL PER_SECOND SECONDS [TIMEOUT_S]
 *
 * Prints one JSON line: `{ sent, seconds, byStatus, errors, acceptedMs: [..], refusedMs: [..] }`
 * with the milliseconds of every 2xx and 503 answer, sorted.
 */
import { Agent, request } from "node:http";

const [url, perSecondText, secondsText, timeoutText] = process.argv.slice(2);
if (!url || !perSecondText || !secondsText) throw new Error("usage: open-loop URL PER_SECOND SECONDS [TIMEOUT_S]");
const perSecond = Number(perSecondText);
const total = Math.round(perSecond * Number(secondsText));
const timeoutMs = Number(timeoutText ?? 10) * 1000;
/** Connections, opened before the clock starts: opening hundreds at once overflows a listen backlog (SYN retries, a second each). */
const SOCKETS = 256;
const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
const target = new URL(url);

await Promise.all(
  Array.from(
    { length: SOCKETS },
    () =>
      new Promise<void>((resolve) => {
        const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, agent }, (res) => res.resume().once("end", resolve));
        req.once("error", () => resolve());
        req.end();
      }),
  ),
);

const byStatus: Record<string, number> = {};
const accepted: number[] = [];
const refused: number[] = [];
let errors = 0;
let sent = 0;
let done = 0;
const t0 = performance.now();

function one(): void {
  const start = performance.now();
  sent++;
  const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, agent, timeout: timeoutMs }, (res) => {
    res.resume();
    res.once("end", () => {
      const ms = performance.now() - start;
      const status = String(res.statusCode);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status.startsWith("2")) accepted.push(ms);
      else if (status === "503") refused.push(ms);
      finish();
    });
  });
  req.once("timeout", () => req.destroy(new Error("timeout")));
  req.once("error", () => {
    errors++;
    finish();
  });
  req.end();
}

function finish(): void {
  if (++done < total) return;
  const round = (xs: number[]) => xs.sort((a, b) => a - b).map((x) => Math.round(x * 100) / 100);
  process.stdout.write(JSON.stringify({ sent, seconds: (performance.now() - t0) / 1000, byStatus, errors, acceptedMs: round(accepted), refusedMs: round(refused) }) + "\n");
  agent.destroy();
}

// Every tick, send what the clock says is due: even spacing, whatever the answers do.
const timer = setInterval(() => {
  const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * perSecond));
  while (sent < due) one();
  if (sent >= total) clearInterval(timer);
}, 1);
