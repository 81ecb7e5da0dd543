/**
 * Whether this process has just come back from a pause: stopped (SIGSTOP, a suspended VM) or its
 * event loop stuck for a while. A timer ticks every TICK_MS; a gap of PAUSE_MS or more between
 * ticks is a pause. The messages that queued up meanwhile were sent while this process could not
 * answer, and their senders have given up on them or sent them again elsewhere.
 *
 * After a stop, the event loop may read the queued messages before or after it runs its timers,
 * so both ask: a message handler finds the last tick too long ago (`sinceLastTick`), and the
 * first tick after the pause tells the listeners (`onWake`).
 */
const TICK_MS = 100;
export const PAUSE_MS = 1_000;

class PauseDetector {
  private last = performance.now();
  private readonly listeners = new Set<(pausedMs: number) => void>();

  constructor() {
    const timer = setInterval(() => {
      const now = performance.now();
      const gap = now - this.last;
      this.last = now;
      if (gap >= PAUSE_MS) for (const l of this.listeners) l(gap);
    }, TICK_MS) as unknown as { unref?: () => void };
    timer.unref?.();
  }

  /** How long since the process last ran its timers, in milliseconds. */
  sinceLastTick(): number {
    return performance.now() - this.last;
  }

  /** Be told of each pause, by the first tick after it; returns the way to stop being told. */
  onWake(listener: (pausedMs: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** One per process. */
export const pauses = new PauseDetector();
