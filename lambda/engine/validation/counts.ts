import type { Pool } from 'pg';
import { readCatalog } from '../catalog';
import type { TableSelection } from '../../../contract';
import { mapLimit } from '../helpers';
import { compareNames, exactCount as count, targetOnlyProblem, targetOnlyTables } from './key-ranges';
import type { CountsOptions, CountsReport, TableCount } from './types';

/**
 * Row counts of every selected table on both sides: exact (`count(*)`, tables in parallel, both databases at
 * once) or the planner's estimate (`reltuples`; null when never analyzed; estimates "match" within 10% or 1000 rows).
 */
export async function countRows(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: CountsOptions = {},
): Promise<CountsReport> {
  const started = Date.now();
  const method = options.method ?? 'exact';
  const [sc, tc] = await Promise.all([readCatalog(source, selection), readCatalog(target, selection)]);
  let done = 0;
  const tables = await mapLimit(sc.tables, options.concurrency ?? 2, async (t): Promise<TableCount> => {
    const other = tc.byName(t.name);
    const base = { table: t.display, name: t.name };
    try {
      if (!other) {
        const sourceRows = method === 'exact' ? await count(source, t) : estimate(t.estimatedRows);
        return {
          ...base,
          sourceRows,
          targetRows: null,
          status: 'error',
          error: `table ${t.display} exists on the source but not on the target`,
        };
      }
      const [s, g] =
        method === 'exact'
          ? await Promise.all([count(source, t), count(target, other)])
          : [estimate(t.estimatedRows), estimate(other.estimatedRows)];
      const close =
        method === 'exact'
          ? s === g
          : s !== null && g !== null && Math.abs(s - g) <= Math.max(1000, 0.1 * Math.max(s, g));
      return { ...base, sourceRows: s, targetRows: g, status: close ? 'match' : 'mismatch' };
    } catch (error) {
      return { ...base, sourceRows: null, targetRows: null, status: 'error', error: (error as Error).message };
    } finally {
      done++;
      options.onProgress?.({ phase: 'counts', done, total: sc.tables.length, table: t.display });
    }
  });
  for (const t of targetOnlyTables(sc, tc)) {
    tables.push({
      table: t.display,
      name: t.name,
      sourceRows: null,
      targetRows: method === 'exact' ? await count(target, t) : estimate(t.estimatedRows),
      status: 'error',
      error: targetOnlyProblem(t),
    });
  }
  tables.sort((a, b) => compareNames(a.name, b.name));
  return {
    ok: tables.length > 0 && tables.every((t) => t.status === 'match'),
    method,
    tables,
    durationMs: Date.now() - started,
  };
}

function estimate(reltuples: number): number | null {
  return reltuples < 0 ? null : Math.round(reltuples);
}
