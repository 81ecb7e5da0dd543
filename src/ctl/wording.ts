/** Small wording helpers for messages people read: counts with the right noun. */

/** `1 instance`, `2 instances`; `many` for nouns that do not just take an `s`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
