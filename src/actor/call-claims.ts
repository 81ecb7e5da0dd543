/**
 * Who runs a call posted to an instance's worker behind another (actor-pool.ts): the worker, when
 * it comes to it, or the pool, taking it back for another instance while it still waits there.
 * One cell of shared memory a call, claimed by compare-and-swap, so that exactly one of them
 * has it: a call taken back is never run, and one the worker has started is never given again.
 */

const POSTED = 0;
const RUN = 1;
const TAKEN_BACK = 2;

/** Cells per instance: more than the calls that can be posted to one worker at once (PIPELINE_MAX_DEPTH + 1). */
const CELLS = 64;

/** The pool's side, one per instance. */
export class CallClaims {
  readonly buffer = new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT);
  private readonly cells = new Int32Array(this.buffer);
  private next = 0;

  /** A cell for a call about to be posted. */
  issue(): number {
    const cell = this.next;
    this.next = (cell + 1) % CELLS;
    Atomics.store(this.cells, cell, POSTED);
    return cell;
  }

  /** Take the call back: whether it had not started (and now never will). */
  takeBack(cell: number): boolean {
    return Atomics.compareExchange(this.cells, cell, POSTED, TAKEN_BACK) === POSTED;
  }
}

/** The worker's side: whether it may run the call (the pool has not taken it back). */
export function claimCall(cells: Int32Array, cell: number): boolean {
  return Atomics.compareExchange(cells, cell, POSTED, RUN) === POSTED;
}
