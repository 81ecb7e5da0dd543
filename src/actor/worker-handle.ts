/**
 * What the actor pool and the worker supply need of a worker and of the thread that runs it, so
 * that the same pool runs instances in Node's worker threads (node-workers.ts) and in a page's
 * Web Workers (src/web/browser-workers.ts).
 */
import type { HostCallHandler } from "./host-bridge.js";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.js";

export interface WorkerEvents {
  message(m: WorkerReply): void;
  /** The worker died (crashed, exited, failed to load its code): once at most. */
  died(e: Error): void;
}

/** One actor worker (actor-worker.ts in Node, src/web/actor.worker.ts in a page). */
export interface WorkerHandle {
  post(m: WorkerRequest, transfer?: readonly unknown[]): void;
  /** Who hears it from now on (one listener at a time); a worker that died already is told at once. */
  listen(events: WorkerEvents): void;
  terminate(): Promise<void>;
  /** Whether it keeps its process alive (Node: a spare must not; a page has no such thing). */
  keepAlive(on: boolean): void;
}

/** The worker's end of a bridge (in the bind, with what must be transferred), and its closing. */
export interface HostBridge {
  worker: unknown;
  transfer: readonly unknown[];
  close(): void;
}

/** Where actor workers come from, and how they call their host synchronously. */
export interface WorkerPlatform {
  /** A new worker, booting (it loads a component when told to). */
  spawn(): WorkerHandle;
  bridge(handler: HostCallHandler): HostBridge;
}

/** A timer that must not keep a Node process alive (a page's timers return numbers). */
export function unrefTimer<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
