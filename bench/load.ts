/** A steady call load that counts every call's fate: the yardstick of the chaos scenarios. */
export interface LoadResult {
  sent: number;
  succeeded: number;
  /** Answered with an error (within its deadline). */
  failed: number;
  /** Never settled, not even by the deadline: what must never happen. */
  lost: number;
  /** Calls whose answer (success or error) came after their deadline. */
  late: number;
  errors: Record<string, number>;
}

/**
 * Call `call` `rate` times a second for `durationMs`; each call gets `deadlineMs`. Resolves when
 * every call has settled or been given up as lost (deadline + 2 s).
 */
export async function steadyLoad(call: (deadline: number) => Promise<unknown>, rate: number, durationMs: number, deadlineMs: number): Promise<LoadResult> {
  const r: LoadResult = { sent: 0, succeeded: 0, failed: 0, lost: 0, late: 0, errors: {} };
  const pending: Promise<void>[] = [];
  const start = Date.now();
  const interval = 1000 / rate;
  for (let i = 0; Date.now() - start < durationMs; i++) {
    const due = start + i * interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    const deadline = Date.now() + deadlineMs;
    r.sent++;
    let settled = false;
    const done = call(deadline).then(
      () => {
        settled = true;
        r.succeeded++;
      },
      (e: unknown) => {
        settled = true;
        r.failed++;
        const key = (e as { code?: string }).code ?? (e instanceof Error ? e.message.slice(0, 60) : String(e));
        r.errors[key] = (r.errors[key] ?? 0) + 1;
      },
    ).then(() => {
      if (Date.now() > deadline + 50) r.late++;
    });
    const guard = new Promise<void>((res) => setTimeout(res, deadlineMs + 2_000));
    pending.push(Promise.race([done, guard]).then(() => {
      if (!settled) r.lost++;
    }));
  }
  await Promise.all(pending);
  return r;
}
