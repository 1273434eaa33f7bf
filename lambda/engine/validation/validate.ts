import type { Pool } from 'pg';
import type { TableSelection } from '../../../contract';
import { countRows } from './counts';
import { readCatalog } from '../catalog';
import { blockScanTables, scanTablesByBlocks, type BlockTotals } from './block-scan';
import { compareNames, hashMethodFor, planKeyRanges, rangeRowsOf, targetOnlyTables } from './key-ranges';
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
    return reportOf('quick', tables, started);
  }
  options.onProgress?.({ phase: 'plan', done: 0, total: 1 });
  const [sc, tc] = await Promise.all([readCatalog(source, selection), readCatalog(target, selection)]);
  const catalogs = { source: sc, target: tc };
  const exactNumeric = options.exactNumeric ?? true;
  const hashMethod = hashMethodFor(sc, tc, options.hashMethod);
  const byBlocks = await blockScanTables(
    source,
    target,
    catalogs,
    options.blockScan ?? true,
    exactNumeric,
    hashMethod,
    options.excludeColumns,
    options.rowFilters,
  );
  options.onProgress?.({ phase: 'plan', done: 1, total: 1 });

  const rowsTotal = byBlocks.reduce((n, t) => n + Math.max(0, t.estimatedRows), 0);
  let rowsDone = 0;
  const totals = await scanTablesByBlocks(source, target, byBlocks, {
    rangeRows: rangeRowsOf(options),
    concurrency: options.concurrency ?? 2,
    onRange: (done, total, rows, table) => {
      rowsDone += rows / 2;
      options.onProgress?.({ phase: 'checksums', done, total, table, rowsDone: Math.round(rowsDone), rowsTotal });
    },
  });
  const matched = totals.filter((t) => !t.error && t.source.rows === t.target.rows && t.source.sum === t.target.sum);
  const decided = new Set(matched.map((t) => t.context.display));
  // Tables that differ (or failed) by blocks are read again by key ranges, which find the rows and decide.
  const rest = sc.tables.filter((t) => !decided.has(t.display));
  const plan = await planKeyRanges(source, catalogs, rest, options, targetOnlyTables(sc, tc));
  const keyed = plan.tasks.length ? await checkKeyRanges(source, target, plan, options, byBlocks.length > 0) : [];
  const report = aggregateResults({ ...plan, options: { exactNumeric, hashMethod } }, keyed, options);
  const blockResults = new Map(totals.map((t) => [t.context.display, t]));
  const tables = [
    ...report.tables.map((t) => withBlockRanges(t, blockResults.get(t.table))),
    ...matched.map(matchByBlocks),
  ];
  tables.sort((a, b) => compareNames(a.name, b.name));
  return { ...reportOf('full', tables, started), hashMethod };
}

/** Checksums the key ranges of the tables the blocks could not decide. */
function checkKeyRanges(
  source: Pool,
  target: Pool,
  plan: ValidationPlan,
  options: ValidateOptions,
  afterBlocks: boolean,
): Promise<RangeResult[]> {
  const rowsTotal = plan.tasks.reduce((n, t) => n + (t.estimatedRows ?? 0), 0);
  const onProgress = options.onProgress;
  // After a block pass this is the search for the differing rows; without one it is the checksum pass itself.
  const phase = afterBlocks ? 'differences' : 'checksums';
  return validateRanges(source, target, plan.tasks, {
    ...options,
    onProgress: onProgress
      ? (p) => onProgress({ ...p, phase, rowsDone: Math.round((rowsTotal * p.done) / Math.max(1, p.total)), rowsTotal })
      : undefined,
    exactNumeric: plan.options.exactNumeric,
    hashMethod: plan.options.hashMethod,
  });
}

/** A table whose totals agreed by blocks. */
function matchByBlocks(t: BlockTotals): TableValidation {
  return {
    table: t.context.display,
    name: t.context.name,
    sourceRows: t.source.rows,
    targetRows: t.target.rows,
    status: 'match',
    differences: [],
    differenceCount: 0,
    differencesTruncated: false,
    differenceCountIsLowerBound: false,
    rangesChecked: t.ranges,
    blockRangesChecked: t.ranges,
    durationMs: t.durationMs,
  };
}

/** A table decided by key ranges after its block totals differed: both passes' ranges and time count. */
function withBlockRanges(t: TableValidation, blocks: BlockTotals | undefined): TableValidation {
  if (!blocks) return t;
  return {
    ...t,
    rangesChecked: t.rangesChecked + blocks.ranges,
    blockRangesChecked: blocks.ranges,
    durationMs: t.durationMs + blocks.durationMs,
  };
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
  return { ...reportOf('full', tables, Date.now()), hashMethod: plan.options.hashMethod, durationMs: 0 };
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

function reportOf(mode: 'quick' | 'full', tables: TableValidation[], started: number): ValidationReport {
  const { ok, summary } = summarize(tables);
  return { ok, mode, tables, summary, durationMs: Date.now() - started };
}
