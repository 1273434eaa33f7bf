import type { Pool } from 'pg';
import type { TableSelection } from '../../../contract';
import { countRows } from './counts';
import { planRanges } from './key-ranges';
import { validateRanges } from './range-checksum';
import type {
  ChecksumOptions,
  RangeResult,
  RowDifference,
  TableValidation,
  ValidateOptions,
  ValidationPlan,
  ValidationReport,
} from './types';

/** Checks every selected table: `quick` compares exact row counts, `full` checksums every row (the default). */
export async function validate(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  const started = Date.now();
  if (options.mode === 'quick') {
    const counts = await countRows(source, target, selection, { ...options, method: 'exact' });
    const tables: TableValidation[] = counts.tables.map((t) => ({
      table: t.table,
      name: t.name,
      sourceRows: t.sourceRows,
      targetRows: t.targetRows,
      status: t.status,
      differences: [],
      // Counts alone cannot list rows: at least the count difference differs (a mismatch is never "0 rows").
      differenceCount: t.status === 'mismatch' ? Math.max(1, Math.abs((t.sourceRows ?? 0) - (t.targetRows ?? 0))) : 0,
      differencesTruncated: false,
      differenceCountIsLowerBound: t.status === 'mismatch',
      rangesChecked: 0,
      durationMs: counts.durationMs,
      ...(t.error ? { error: t.error } : {}),
    }));
    return report('quick', tables, started);
  }
  options.onProgress?.({ phase: 'plan', done: 0, total: 1 });
  const plan = await planRanges(source, target, selection, options);
  options.onProgress?.({ phase: 'plan', done: 1, total: 1 });
  const rowsTotal = plan.tasks.reduce((n, t) => n + (t.estimatedRows ?? 0), 0);
  const onProgress = options.onProgress;
  const results = await validateRanges(source, target, plan.tasks, {
    ...options,
    onProgress: onProgress
      ? (p) => onProgress({ ...p, rowsDone: Math.round((rowsTotal * p.done) / Math.max(1, p.total)), rowsTotal })
      : undefined,
    exactNumeric: plan.options.exactNumeric,
    hashMethod: plan.options.hashMethod,
  });
  return { ...aggregateResults(plan, results, options), durationMs: Date.now() - started };
}

/** Folds range results (from one or many `validateRanges` calls) into the per-table report. */
export function aggregateResults(
  plan: ValidationPlan,
  results: RangeResult[],
  options: ChecksumOptions = {},
): ValidationReport {
  const cap = options.maxDifferences ?? 1000;
  const byTable = new Map<string, RangeResult[]>();
  for (const r of results) {
    const list = byTable.get(r.table) ?? [];
    list.push(r);
    byTable.set(r.table, list);
  }
  const tables: TableValidation[] = plan.tables.map((tp) => {
    const rs = byTable.get(tp.table) ?? [];
    const base = { table: tp.table, name: tp.name };
    if (tp.error) {
      return {
        ...base,
        sourceRows: null,
        targetRows: null,
        status: 'error',
        differences: [],
        differenceCount: 0,
        differencesTruncated: false,
        differenceCountIsLowerBound: false,
        rangesChecked: 0,
        durationMs: 0,
        error: tp.error,
      };
    }
    const error =
      rs.find((r) => r.error)?.error ??
      (rs.length < tp.ranges ? `${tp.ranges - rs.length} of ${tp.ranges} ranges have no result` : undefined);
    const differences: RowDifference[] = [];
    let differenceCount = 0;
    let unresolved = 0;
    for (const r of rs) {
      differenceCount += r.differenceCount;
      unresolved += r.unresolvedRanges;
      for (const d of r.differences) if (differences.length < cap) differences.push(d);
    }
    const mismatch = rs.some((r) => !r.match);
    return {
      ...base,
      sourceRows: rs.reduce((n, r) => n + r.sourceRows, 0),
      targetRows: rs.reduce((n, r) => n + r.targetRows, 0),
      status: error ? 'error' : mismatch ? 'mismatch' : 'match',
      differences,
      differenceCount,
      differencesTruncated: differenceCount > differences.length,
      differenceCountIsLowerBound: unresolved > 0,
      rangesChecked: rs.reduce((n, r) => n + r.rangesChecked, 0),
      durationMs: rs.reduce((n, r) => n + r.durationMs, 0),
      ...(error ? { error } : {}),
    };
  });
  return { ...report('full', tables, Date.now()), hashMethod: plan.options.hashMethod, durationMs: 0 };
}

/** The verdict and totals of a report over `tables`. */
export function summarize(tables: TableValidation[]): Pick<ValidationReport, 'ok' | 'summary'> {
  return {
    // Nothing selected is not a match: a misspelt --include must not pass as "everything matches".
    ok: tables.length > 0 && tables.every((t) => t.status === 'match'),
    summary: {
      tables: tables.length,
      matched: tables.filter((t) => t.status === 'match').length,
      mismatched: tables.filter((t) => t.status === 'mismatch').length,
      errors: tables.filter((t) => t.status === 'error').length,
      differences: tables.reduce((n, t) => n + t.differenceCount, 0),
      sourceRows: tables.reduce((n, t) => n + (t.sourceRows ?? 0), 0),
      targetRows: tables.reduce((n, t) => n + (t.targetRows ?? 0), 0),
    },
  };
}

function report(mode: 'quick' | 'full', tables: TableValidation[], started: number): ValidationReport {
  const { ok, summary } = summarize(tables);
  return { ok, mode, tables, summary, durationMs: Date.now() - started };
}
