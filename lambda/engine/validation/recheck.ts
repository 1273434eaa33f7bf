/**
 * While replication is live a differing row may only be in flight: after a delay, re-read each listed row on
 * both sides and mark it `confirmed` (still different) or `converged` (now equal, or now absent on both).
 */
import type { Pool } from 'pg';
import { fromTable } from '../catalog';
import { quoteIdent } from '../pg/identifiers';
import { filterCondition, keyExprs, type Side } from './key-ranges';
import { tableContext, type TableContext } from './table-checksum';
import { mapLimit, sleep } from '../helpers';
import { summarize } from './validate';
import type { DifferenceKind, RecheckOptions, RowDifference, TableValidation, ValidationReport } from './types';

export async function recheck(
  source: Pool,
  target: Pool,
  report: ValidationReport,
  options: RecheckOptions = {},
): Promise<ValidationReport> {
  if (options.delayMs) await sleep(options.delayMs);
  let done = 0;
  const todo = report.tables.filter((t) => t.differences.length > 0);
  const rechecked = await mapLimit(todo, options.concurrency ?? 2, async (t) => {
    try {
      const ctx = await tableContext(
        source,
        target,
        t.name,
        Object.keys(t.differences[0].key),
        options.exactNumeric ?? true,
        options.hashMethod ?? report.hashMethod,
        options.excludeColumns,
        options.rowFilters,
      );
      if ('error' in ctx) return { ...t, status: 'error' as const, error: ctx.error };
      return await recheckTable(source, target, ctx, t);
    } finally {
      done++;
      options.onProgress?.({ phase: 'recheck', done, total: todo.length, table: t.table });
    }
  });
  const byTable = new Map(rechecked.map((t) => [t.table, t]));
  const tables = report.tables.map((t) => byTable.get(t.table) ?? t);
  return { ...report, ...summarize(tables), tables };
}

async function recheckTable(
  source: Pool,
  target: Pool,
  ctx: TableContext,
  t: TableValidation,
): Promise<TableValidation> {
  const keys = t.differences.map((d) => ctx.keyColumns.map((k) => String(d.key[k])));
  const [s, g] = await Promise.all([
    rowsByKey(source, ctx.source, ctx.sourceHash, ctx.keyColumns, keys),
    rowsByKey(target, ctx.target, ctx.targetHash, ctx.keyColumns, keys),
  ]);
  let confirmed = 0;
  let converged = 0;
  const differences: RowDifference[] = t.differences.map((d, i) => {
    const k = JSON.stringify(keys[i]);
    const [a, b] = [s.get(k), g.get(k)];
    const kind: DifferenceKind | undefined =
      a === undefined
        ? b === undefined
          ? undefined
          : 'extra'
        : b === undefined
          ? 'missing'
          : a === b
            ? undefined
            : 'changed';
    if (kind === undefined) {
      converged++;
      return { ...d, recheck: 'converged' };
    }
    confirmed++;
    return { key: d.key, kind, recheck: 'confirmed' };
  });
  // Rows beyond the listed cap were not re-read: they stay counted as differences.
  const unlisted = t.differenceCount - t.differences.length;
  const stillDiffering = confirmed + unlisted;
  return {
    ...t,
    differences,
    differenceCount: stillDiffering,
    confirmed,
    converged,
    status:
      stillDiffering === 0 && !t.differenceCountIsLowerBound && t.sourceRows === t.targetRows ? 'match' : t.status,
  };
}

/** Row hashes of the rows with the given keys, by `JSON.stringify` of the key text forms; absent rows left out. */
export async function rowsByKey(
  pool: Pool,
  side: Side,
  hash: string,
  keyColumns: readonly string[],
  keys: string[][],
): Promise<Map<string, string>> {
  const casts = keyColumns.map((name) => side.table.columns.find((c) => c.name === name)!.castType);
  const texts = keyColumns.map((k) => `t.${quoteIdent(k)}::text`);
  const params = keyColumns.map((_k, i) => keys.map((key) => key[i]));
  const r = await pool.query({
    text: `SELECT ${texts.join(', ')}, (${hash})::text FROM ${fromTable(side.table)} t
            WHERE (${keyExprs(side, keyColumns).join(', ')}) IN (
              SELECT ${casts.map((c, i) => `u.c${i}::${c}`).join(', ')}
                FROM unnest(${params.map((_p, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${params.map((_p, i) => `c${i}`).join(', ')}))${filterCondition(side) ? ` AND ${filterCondition(side)}` : ''}`,
    values: params,
    rowMode: 'array',
  });
  const map = new Map<string, string>();
  for (const row of r.rows as string[][])
    map.set(JSON.stringify(row.slice(0, keyColumns.length)), row[keyColumns.length]);
  return map;
}
