/**
 * A Worker that ticks for a page (worker-ticker.ts): a hidden tab's own timers are throttled (in
 * Chrome to once a minute after five minutes hidden), a dedicated worker's are not, and the
 * messages it posts reach the page at once.
 */
import type { TickerCommand } from "./worker-ticker.js";

const timers = new Map<number, ReturnType<typeof setInterval>>();

self.onmessage = (e: MessageEvent<TickerCommand>) => {
  const m = e.data;
  if (m.type === "start") timers.set(m.id, setInterval(() => self.postMessage(m.id), m.everyMs));
  else {
    clearInterval(timers.get(m.id));
    timers.delete(m.id);
  }
};
