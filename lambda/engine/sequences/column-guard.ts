import type { Pool, PoolClient } from 'pg';
import { qualify, quoteIdent } from '../pg/identifiers';
import { userName, type SequenceRow, type SequenceUser } from './list';

type Queryable = Pick<Pool | PoolClient, 'query'>;

/**
 * For each sequence, the target's columns whose values came from it: every column that draws from it on either
 * side (owned or not), that exists on the target with an integer or numeric type. One query for all of them.
 */
export async function guardColumns(
  target: Queryable,
  pairs: readonly { readonly s: SequenceRow; readonly t: SequenceRow }[],
): Promise<SequenceUser[][]> {
  const candidates = pairs.map(({ s, t }) => {
    const byName = new Map([...s.users, ...t.users].map((u) => [userName(u), u]));
    return [...byName.values()];
  });
  const all = candidates.flat();
  if (all.length === 0) return candidates;
  const r = await target.query<{ i: string }>(
    `SELECT u.i::text AS i FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(s, t, c, i)
       JOIN pg_namespace n ON n.nspname = u.s
       JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = u.t AND r.relkind IN ('r', 'p')
       JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = u.c AND a.attnum > 0 AND NOT a.attisdropped
      WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)`,
    [all.map((u) => u.table.schema), all.map((u) => u.table.table), all.map((u) => u.column)],
  );
  const present = new Set(r.rows.map((x) => all[Number(x.i) - 1]));
  return candidates.map((list) => list.filter((u) => present.has(u)));
}

/** `(SELECT ...)`: the highest value (lowest for descending sequences) over the columns as text; null when none. */
export function extremeSql(columns: readonly SequenceUser[], ascending: boolean): string | null {
  if (columns.length === 0) return null;
  const agg = ascending ? 'max' : 'min';
  const parts = columns.map((c) => `SELECT ${agg}(${quoteIdent(c.column)})::numeric AS v FROM ${qualify(c.table)}`);
  return `(SELECT ${ascending ? 'ceil' : 'floor'}(${agg}(v))::text FROM (${parts.join(' UNION ALL ')}) x)`;
}

export const extremeValue = (v: string | null): bigint | null => (v === null ? null : BigInt(v));
