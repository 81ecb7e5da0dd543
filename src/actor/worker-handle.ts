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

/**
 * A worker handle's listener and its death, the same on every platform: the death is told once,
 * and to a listener that comes after it (at once, but not inside `listen`).
 */
export class WorkerListener {
  private events?: WorkerEvents;
  private death?: Error;

  message(m: WorkerReply): void {
    this.events?.message(m);
  }

  listen(events: WorkerEvents): void {
    this.events = events;
    const death = this.death;
    if (death) queueMicrotask(() => this.events === events && events.died(death));
  }

  die(e: Error): void {
    if (this.death) return;
    this.death = e;
    this.events?.died(e);
  }
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
