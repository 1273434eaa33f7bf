/**
 * Count + order-independent hash sum of a key range, computed inside each database (rows never leave it),
 * on both sides at once.
 */
import type { Pool } from 'pg';
import { formatTableName } from '../../../contract';
import { resolveRange } from './bisect';
import { checksum, tableContext, type TableContext } from './table-checksum';
import { mapLimit } from '../helpers';
import type { ChecksumOptions, RangeResult, RangeTask } from './types';

export { checksum, tableContext, type Checksum, type TableContext } from './table-checksum';

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
      c = tableContext(
        source,
        target,
        task.table,
        task.keyColumns,
        exactNumeric,
        options.hashMethod,
        options.excludeColumns,
        options.rowFilters,
      );
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
