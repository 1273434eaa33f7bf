/**
 * Confirmed differences in words an operator can act on: each table with its count, and for a few keys whether the
 * row is missing, extra, or which columns differ (names only: rows may hold personal data).
 */
import type { Pool } from 'pg';
import type { ConfirmedTable } from '../tracking/types';
import { describeRowDiff, diffRows } from '../validation/row-diff';

/** Tables described at most, and keys per table. */
const MAX_TABLES = 5;
const MAX_KEYS = 3;

export async function describeConfirmed(
  pools: { source: Pool; target: Pool },
  confirmed: readonly ConfirmedTable[],
): Promise<string> {
  const parts: string[] = [];
  for (const t of confirmed.slice(0, MAX_TABLES)) {
    const keys = t.differences.slice(0, MAX_KEYS);
    let described: string[];
    try {
      const diffs = keys.length
        ? await diffRows(
            pools.source,
            pools.target,
            t.table,
            keys.map((k) => k.key),
            { keyColumns: t.keyColumns },
          )
        : [];
      described = diffs.map((d) => describeRowDiff(t.keyColumns, d));
    } catch {
      // The row diff is descriptive: without it, say what the row hash said.
      described = keys.map((d) => `${d.kind} (${t.keyColumns.join(', ')})=(${d.key.join(', ')})`);
    }
    if (t.reason && described.length === 0) {
      parts.push(`${t.display}: ${t.reason}`);
      continue;
    }
    const more = t.count - described.length;
    parts.push(
      `${t.display}: ${t.count} row(s)${described.length ? ` — ${described.join('; ')}` : ''}${more > 0 && described.length ? ` (+${more} more)` : ''}`,
    );
  }
  const tables = confirmed.length - Math.min(confirmed.length, MAX_TABLES);
  return `${parts.join('; ')}${tables > 0 ? `; and ${tables} more table(s)` : ''}`.slice(0, 2000);
}
