/**
 * The engine's small shared helpers (no pg, no AWS): waiting, bounded concurrency, bounded name lists, error text.
 * Used by the cutover steps, validation, preflight, the CLI and the rehearsal alike.
 */

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** At most `max` names, then `and N more`. */
export function listBounded(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).map((n) => (n.length > 70 ? `${n.slice(0, 70)}…` : n));
  return names.length > max ? `${shown.join(', ')} and ${names.length - max} more` : shown.join(', ');
}

/** The message of a thrown value (an Error's message, else its text). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
