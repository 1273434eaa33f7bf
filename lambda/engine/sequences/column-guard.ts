import type { Pool, PoolClient } from 'pg';
import { qualify, quoteIdent } from '../pg/identifiers';
import { userName, type SequenceRow, type SequenceUser } from './list';
import type { SequenceResult } from '../validation/types';

type Queryable = Pick<Pool | PoolClient, 'query'>;

/** The columns of one sequence whose target maximum is read, and those left out. */
export interface Guard {
  readonly columns: SequenceUser[];
  /** Left out with `skipUnindexed`: no btree index leads with the column, so its max() would scan the table. */
  readonly notChecked: SequenceUser[];
  /** Read although no btree index leads with them (a scan): a unique index includes them, so a repeat could fail. */
  readonly scanned: SequenceUser[];
}

/**
 * For each sequence, the target's columns whose values came from it: every column that draws from it on either
 * side (owned or not), that exists on the target with an integer or numeric type. One query for all of them.
 * With `skipUnindexed`, a column that no valid, non-partial btree index leads with is left out (and named): inside
 * the write freeze, its max() would read the whole table. Without a unique index that includes it, a value handed
 * out again cannot fail an insert. A column a unique index includes (`UNIQUE (tenant, seq_no)`) is read anyway
 * (and named as `scanned`): a repeat there would fail the application's inserts after the switch.
 */
export async function guardColumns(
  target: Queryable,
  pairs: readonly { readonly s: SequenceRow; readonly t: SequenceRow }[],
  skipUnindexed = false,
): Promise<Guard[]> {
  const candidates = pairs.map(({ s, t }) => {
    const byName = new Map([...s.users, ...t.users].map((u) => [userName(u), u]));
    return [...byName.values()];
  });
  const all = candidates.flat();
  if (all.length === 0) return candidates.map(() => ({ columns: [], notChecked: [], scanned: [] }));
  const r = await target.query<{ i: string; indexed: boolean; uniq: boolean }>(
    `SELECT u.i::text AS i,
            EXISTS (SELECT 1 FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid JOIN pg_am am ON am.oid = xc.relam
                     WHERE x.indrelid = r.oid AND x.indkey[0] = a.attnum AND x.indpred IS NULL AND x.indisvalid
                       AND am.amname = 'btree') AS indexed,
            EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = r.oid AND x.indisunique AND a.attnum = ANY(x.indkey))
              AS uniq
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(s, t, c, i)
       JOIN pg_namespace n ON n.nspname = u.s
       JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = u.t AND r.relkind IN ('r', 'p')
       JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = u.c AND a.attnum > 0 AND NOT a.attisdropped
      WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)`,
    [all.map((u) => u.table.schema), all.map((u) => u.table.table), all.map((u) => u.column)],
  );
  const found = new Map(r.rows.map((x) => [all[Number(x.i) - 1], x]));
  return candidates.map((list) => {
    const present = list.filter((u) => found.has(u));
    const unindexed = (u: SequenceUser): boolean => skipUnindexed && !found.get(u)!.indexed;
    const read = (u: SequenceUser): boolean => !unindexed(u) || found.get(u)!.uniq;
    return {
      columns: present.filter(read),
      notChecked: present.filter((u) => !read(u)),
      scanned: present.filter((u) => unindexed(u) && read(u)),
    };
  });
}

/** The result with the columns a guard left out, or had to scan, named when there are any. */
export function withGuardNotes(result: SequenceResult, guard: Guard): SequenceResult {
  return {
    ...result,
    ...(guard.notChecked.length ? { columnsNotChecked: guard.notChecked.map(userName) } : {}),
    ...(guard.scanned.length ? { columnsScanned: guard.scanned.map(userName) } : {}),
  };
}

/** `(SELECT ...)`: the highest value (lowest for descending sequences) over the columns as text; null when none. */
export function extremeSql(columns: readonly SequenceUser[], ascending: boolean): string | null {
  if (columns.length === 0) return null;
  const agg = ascending ? 'max' : 'min';
  const parts = columns.map((c) => `SELECT ${agg}(${quoteIdent(c.column)})::numeric AS v FROM ${qualify(c.table)}`);
  return `(SELECT ${ascending ? 'ceil' : 'floor'}(${agg}(v))::text FROM (${parts.join(' UNION ALL ')}) x)`;
}

export const extremeValue = (v: string | null): bigint | null => (v === null ? null : BigInt(v));
