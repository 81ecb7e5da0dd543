/**
 * Work run one task at a time per key: each task starts when the one queued before it under the
 * same key has settled, whatever its outcome. A key with nothing left queued is forgotten.
 * (An actor's scale and stop on a host, a provider's start and stop, a counter's increments.)
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
