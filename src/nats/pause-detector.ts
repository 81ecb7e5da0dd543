/**
 * Whether this process has just come back from a pause: stopped (SIGSTOP, a suspended VM) or its
 * event loop stuck for a while. A timer ticks every TICK_MS; when a message is handled and the
 * last tick is longer ago than PAUSE_MS, the process was not running while that message waited,
 * and its sender has given up on it or sent it again elsewhere. After a stop the messages that
 * queued up are read before any timer runs, so it is the message handler that asks.
 */
const TICK_MS = 100;
export const PAUSE_MS = 1_000;

class PauseDetector {
  private last = performance.now();

  constructor() {
    const timer = setInterval(() => (this.last = performance.now()), TICK_MS) as unknown as { unref?: () => void };
    timer.unref?.();
  }

  /** How long since the process last ran its timers, in milliseconds. */
  sinceLastTick(): number {
    return performance.now() - this.last;
  }
}

/** One per process. */
export const pauses = new PauseDetector();
