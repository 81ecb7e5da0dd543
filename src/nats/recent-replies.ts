/**
 * Entries by call id, each kept until its `until` and at most `limit` of them, the oldest dropped
 * first: what lets a server answer a retry of a call it has taken with the same reply instead of
 * running it again (and a provider remember the effects it applied).
 *
 * Ids leave in the order they came (close to deadline order) from a queue beside the map. A
 * Map alone, iterated from its front to find what to drop, walks every entry deleted since V8
 * last rehashed it: at 27k calls/s that walk was a fifth of a provider's CPU.
 */
export interface Remembered {
  reply: Promise<Uint8Array>;
  /** Epoch milliseconds after which the call's caller has given up. */
  until: number;
  /**
   * Which call it was: the function and its caller, which every retry of a call keeps with its
   * arguments (its deadline need not: a client resending with an Idempotency-Key counts its time
   * anew). A call id that comes back with others is another call reusing the key.
   */
  call: string;
  /** Its arguments, as decoded: a retry brings the same. */
  args: unknown;
}

export class RecentReplies<T extends { until: number } = Remembered> {
  private readonly byId = new Map<string, T>();
  private order: Array<[string, T]> = [];
  private head = 0;

  constructor(private readonly limit: number) {}

  get(callId: string): T | undefined {
    return this.byId.get(callId);
  }

  /** Forget `callId` if `entry` is still what it holds. */
  drop(callId: string, entry: T): void {
    if (this.byId.get(callId) === entry) this.byId.delete(callId);
  }

  add(callId: string, entry: T): void {
    this.byId.set(callId, entry);
    this.order.push([callId, entry]);
    const now = Date.now();
    while (this.head < this.order.length) {
      const [id, e] = this.order[this.head]!;
      if (e.until >= now && this.byId.size <= this.limit) break;
      if (this.byId.get(id) === e) this.byId.delete(id);
      this.order[this.head++] = undefined as unknown as [string, T];
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
