/**
 * Count + order-independent hash sum of a key range, computed inside each database (rows never leave it),
 * on both sides at once.
 */
import type { Pool } from 'pg';
import { formatTableName, type TableName } from '../table-selection';
import { fromTable, readTable } from '../catalog';
import { planColumnHashes, rowHashSql } from './column-hash';
import { hashMethodFor, rangeWhere, tableProblem, type Side } from './key-ranges';
import { resolveRange } from './bisect';
import { mapLimit } from './concurrency';
import type { ChecksumOptions, HashMethod, RangeResult, RangeTask } from './types';

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8', 'oid']);

/** Everything needed to query one table on both sides. */
export interface TableContext {
  readonly name: TableName;
  readonly display: string;
  readonly keyColumns: string[];
  readonly source: Side;
  readonly target: Side;
  readonly sourceHash: string;
  readonly targetHash: string;
  readonly method: HashMethod;
  /** Report these key columns as numbers (integers that fit a double). */
  readonly integerKey: boolean[];
}

export interface Checksum {
  readonly rows: number;
  readonly sum: string;
}

/** Reads both catalogs for a table; returns the context or why the table cannot be compared. */
export async function tableContext(
  source: Pool,
  target: Pool,
  name: TableName,
  keyColumns: readonly string[] | undefined,
  exactNumeric: boolean,
  hashMethod?: HashMethod,
): Promise<TableContext | { error: string }> {
  const [s, t] = await Promise.all([readTable(source, name), readTable(target, name)]);
  if (!s.table) return { error: `table ${formatTableName(name)} does not exist on the source` };
  const problem = tableProblem(s.table, t.table);
  if (problem) return { error: problem };
  const keys = keyColumns && keyColumns.length ? [...keyColumns] : s.table.keyColumns;
  const src: Side = { catalog: s.catalog, table: s.table };
  const tgt: Side = { catalog: t.catalog, table: t.table! };
  const method = hashMethodFor(s.catalog, t.catalog, hashMethod);
  const plan = planColumnHashes(s.table.columns, t.table!.columns, exactNumeric);
  return {
    name,
    display: s.table.display,
    keyColumns: keys,
    source: src,
    target: tgt,
    sourceHash: rowHashSql(plan, s.table.columns, method),
    targetHash: rowHashSql(plan, t.table!.columns, method),
    method,
    integerKey: keys.map((k) => INTEGER_TYPES.has(s.table!.columns.find((c) => c.name === k)?.typeName ?? '')),
  };
}

/** Count and hash sum of the rows of one side in `(lower, upper]`. */
export async function checksum(
  pool: Pool,
  side: Side,
  hash: string,
  keyColumns: readonly string[],
  lower?: readonly string[],
  upper?: readonly string[],
): Promise<Checksum> {
  const where = rangeWhere(side, keyColumns, lower, upper);
  const r = await pool.query<{ n: string; s: string }>(
    `SELECT count(*) AS n, coalesce(sum(${hash}), 0)::text AS s FROM ${fromTable(side.table)} t WHERE ${where.sql}`,
    where.params,
  );
  return { rows: Number(r.rows[0].n), sum: r.rows[0].s };
}

/** Checksums the given range tasks (a Map state's batch), bisecting differing ranges down to rows. */
export async function validateRanges(
  source: Pool,
  target: Pool,
  tasks: RangeTask[],
  options: ChecksumOptions = {},
): Promise<RangeResult[]> {
  const exactNumeric = options.exactNumeric ?? true;
  const contexts = new Map<string, Promise<TableContext | { error: string }>>();
  const contextFor = (task: RangeTask): Promise<TableContext | { error: string }> => {
    const key = JSON.stringify([task.table.schema, task.table.table, task.keyColumns]);
    let c = contexts.get(key);
    if (!c) {
      c = tableContext(source, target, task.table, task.keyColumns, exactNumeric, options.hashMethod);
      contexts.set(key, c);
    }
    return c;
  };
  const budgets = new Map<string, { remaining: number }>();
  const budgetFor = (table: string): { remaining: number } => {
    let b = budgets.get(table);
    if (!b) {
      b = { remaining: options.maxDifferences ?? 1000 };
      budgets.set(table, b);
    }
    return b;
  };
  let done = 0;
  return mapLimit(tasks, options.concurrency ?? 2, async (task) => {
    const started = Date.now();
    const base = { taskId: task.id, table: formatTableName(task.table), name: task.table };
    const failed = (error: string): RangeResult => ({
      ...base,
      sourceRows: 0,
      targetRows: 0,
      match: false,
      differences: [],
      differenceCount: 0,
      unresolvedRanges: 0,
      rangesChecked: 0,
      durationMs: Date.now() - started,
      error,
    });
    try {
      const ctx = await contextFor(task);
      if ('error' in ctx) return failed(ctx.error);
      const [s, t] = await Promise.all([
        checksum(source, ctx.source, ctx.sourceHash, ctx.keyColumns, task.lower, task.upper),
        checksum(target, ctx.target, ctx.targetHash, ctx.keyColumns, task.lower, task.upper),
      ]);
      const match = s.rows === t.rows && s.sum === t.sum;
      const resolved = match
        ? { differences: [], differenceCount: 0, unresolvedRanges: 0, rangesChecked: 0 }
        : await resolveRange(source, target, ctx, task.lower, task.upper, s, t, options, budgetFor(base.table));
      return {
        ...base,
        sourceRows: s.rows,
        targetRows: t.rows,
        match,
        ...resolved,
        rangesChecked: resolved.rangesChecked + 1,
        durationMs: Date.now() - started,
      };
    } catch (error) {
      return failed(`${base.table}: ${(error as Error).message}`);
    } finally {
      done++;
      options.onProgress?.({ phase: 'checksums', done, total: tasks.length, table: base.table });
    }
  });
}
