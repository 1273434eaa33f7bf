/**
 * Bookkeeping of keys that differed: a key is `pending` (its change may still be in flight) until a recheck at
 * least `recheckDelayMs` after it was first seen differing still finds it different (`confirmed`) or finds it equal
 * (dropped). Pure and JSON-serializable, so the state can live in the state store between steps; bounded, so a table
 * with too many differing keys is flagged for range re-verification instead of listed.
 */
import type { ConfirmedTable, KeyVerification, PendingKey, PendingState, PendingTable } from './types';

export interface PendingLimits {
  /** Keys kept per table. @default 10000 */
  readonly maxKeysPerTable?: number;
  /** Past this fraction of a table's rows (when known), re-verify the table by ranges. @default 0.05 */
  readonly maxFractionOfRows?: number;
  /** Row counts (estimates) by display name. */
  readonly tableRows?: Readonly<Record<string, number>>;
}

/** One table's fresh key checks, or a reason to re-verify it by ranges (truncated, too many keys, error). */
export type FreshChecks = Pick<KeyVerification, 'table' | 'display' | 'keyColumns' | 'checked'> & {
  readonly rangeCheck?: string;
  readonly error?: string;
};

export const EMPTY_PENDING: PendingState = { tables: {} };

const sameColumns = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((c, i) => c === b[i]);

export function mergePending(
  previous: PendingState | undefined,
  fresh: readonly FreshChecks[],
  now: number,
  recheckDelayMs: number,
  limits: PendingLimits = {},
): { pending: PendingState; confirmed: ConfirmedTable[] } {
  const maxKeys = Math.max(1, limits.maxKeysPerTable ?? 10_000);
  const tables: Record<string, PendingTable> = { ...(previous ?? EMPTY_PENDING).tables };
  const confirmed: ConfirmedTable[] = [];

  for (const f of fresh) {
    const prev = tables[f.display];
    if (prev?.rangeCheck) continue; // the whole table is re-verified anyway
    const base = { table: f.table, keyColumns: f.keyColumns };
    const reason =
      f.rangeCheck ??
      f.error ??
      (prev && !sameColumns(prev.keyColumns, f.keyColumns) ? 'key columns changed between checks' : undefined);
    if (reason) {
      tables[f.display] = { ...base, keys: [], rangeCheck: reason };
      continue;
    }
    const keys = new Map<string, PendingKey>((prev?.keys ?? []).map((p) => [JSON.stringify(p.key), p]));
    const done: PendingKey[] = [];
    for (const { key, status } of f.checked) {
      const k = JSON.stringify(key);
      const seen = keys.get(k);
      if (status === 'equal') keys.delete(k);
      else if (seen && now - seen.since >= recheckDelayMs) {
        done.push({ ...seen, key, kind: status });
        keys.delete(k);
      } else keys.set(k, { ...seen, key, kind: status, since: seen?.since ?? now });
    }
    if (done.length) {
      confirmed.push({ ...base, display: f.display, differences: done.slice(0, maxKeys), count: done.length });
    }
    const rows = limits.tableRows?.[f.display];
    const fraction = limits.maxFractionOfRows ?? 0.05;
    const cap = rows && rows > 0 ? Math.min(maxKeys, Math.max(1, Math.floor(rows * fraction))) : maxKeys;
    if (keys.size > cap) {
      tables[f.display] = { ...base, keys: [], rangeCheck: `more than ${cap} differing keys pending` };
    } else if (keys.size) tables[f.display] = { ...base, keys: [...keys.values()] };
    else delete tables[f.display];
  }
  return { pending: { tables }, confirmed };
}
