/** A host `Ticker` whose ticks come from a Worker (ticker.worker.ts), for a page that may be hidden. */
import type { Ticker } from "../host/index.js";

export type TickerCommand = { type: "start"; id: number; everyMs: number } | { type: "stop"; id: number };

export function workerTicker(worker: Worker): Ticker {
  const ticks = new Map<number, () => void>();
  let next = 1;
  worker.addEventListener("message", (e: MessageEvent<number>) => ticks.get(e.data)?.());
  const send = (m: TickerCommand) => worker.postMessage(m);
  return (everyMs, tick) => {
    const id = next++;
    ticks.set(id, tick);
    send({ type: "start", id, everyMs });
    return () => {
      ticks.delete(id);
      send({ type: "stop", id });
    };
  };
}
