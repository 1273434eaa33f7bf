/**
 * Pre- and post-validation as Map-state steps: PlanValidation splits every selected table into key ranges,
 * ValidateRange counts and checksums one range on both sides, AggregateValidation re-checks rows in flight and
 * decides (a difference that outlives the recheck delay fails the cutover).
 */
import { beginPhase, endPhase, notifyPhase, succeededPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { readCatalog } from '../catalog';
import { CutoverError, ERRORS, formatTableName } from '../../../contract';
import { seedPending, seedsOf, type PendingSeed } from './pending-seeds';
import {
  aggregateResults,
  planRanges,
  recheck,
  validateRanges,
  type RangeResult,
  type RangeTask,
  type TableValidation,
  type ValidationPlan,
  type ValidationReport,
} from './validation-adapter';
import {
  isItemResult,
  isValidationItem,
  planItems,
  spanTasks,
  summarizeItem,
  type PlanOutline,
  type ValidationItem,
  type ValidationItemResult,
} from './validation-items';

export type ValidationPhase = 'preValidation' | 'postValidation';

/** Differences kept per range result (Map results must stay small). */
const MAX_DIFFERENCES_PER_RANGE = 20;
/** Wait before re-reading differing rows during live replication (they may be in flight). */
export const PRE_VALIDATION_RECHECK_DELAY_MS = 2_000;

function assertPhase(phase: unknown): ValidationPhase {
  if (phase !== 'preValidation' && phase !== 'postValidation') {
    throw new Error(`validation steps need "phase": "preValidation" or "postValidation", got ${JSON.stringify(phase)}`);
  }
  return phase;
}

export type { PlanOutline } from './validation-items';

/** Bounded whatever the database holds: at most MAX_VALIDATION_ITEMS spans and a fixed-size outline. */
export interface PlanValidationResult {
  readonly phase: ValidationPhase;
  readonly tables: number;
  readonly estimatedRows: number;
  /** One Map item each (`range` of validateRange). Empty when the phase already succeeded (resume). */
  readonly items: ValidationItem[];
  /** What aggregateValidation needs back (pass it as the event's `plan`). */
  readonly plan: PlanOutline;
  readonly skipped?: boolean;
}

function outlineOf(plan: ValidationPlan): { items: ValidationItem[]; outline: PlanOutline } {
  return planItems(plan);
}

export async function planValidation(ctx: StepContext, rawPhase: unknown): Promise<PlanValidationResult> {
  const phase = assertPhase(rawPhase);
  const done = await succeededPhase(ctx, phase);
  if (done) {
    return {
      ...(done as object),
      phase,
      tables: Number(done.tables ?? 0),
      estimatedRows: 0,
      items: [],
      plan: { tables: 0, options: { exactNumeric: true, hashMethod: 'text' }, errors: [], errorCount: 0 },
      skipped: true,
    };
  }
  const started = await beginPhase(ctx, phase);
  try {
    const plan = await withPools(ctx, ({ source, target }) =>
      planRanges(source, target, ctx.deps.tables, ctx.deps.rowsPerRange ? { rangeRows: ctx.deps.rowsPerRange } : {}),
    );
    const { items, outline } = outlineOf(plan);
    return {
      phase,
      tables: plan.tables.length,
      estimatedRows: plan.tables.reduce((n, t) => n + t.estimatedRows, 0),
      items,
      plan: outline,
    };
  } catch (error) {
    await endPhase(ctx, phase, started, 'failed', {}, (error as Error).message).catch(() => undefined);
    throw error;
  }
}

function isRangeTask(value: unknown): value is RangeTask {
  const t = value as RangeTask;
  return (
    !!t &&
    typeof t === 'object' &&
    typeof t.id === 'string' &&
    !!t.table &&
    typeof t.table.schema === 'string' &&
    typeof t.table.table === 'string' &&
    Array.isArray(t.keyColumns)
  );
}

/**
 * Checks one Map item. A ValidationItem (what planValidation makes) returns a bounded ValidationItemResult;
 * a RangeTask or a list of them (direct callers) returns their RangeResults (differences capped).
 */
export async function validateRange(ctx: StepContext, range: ValidationItem): Promise<ValidationItemResult>;
export async function validateRange(ctx: StepContext, range: unknown): Promise<RangeResult[] | ValidationItemResult>;
export async function validateRange(ctx: StepContext, range: unknown): Promise<RangeResult[] | ValidationItemResult> {
  if (isValidationItem(range)) {
    const item = range;
    return withPools(ctx, async ({ source, target }) => {
      const catalog = await readCatalog(source, ctx.deps.tables);
      const tasks = spanTasks(
        item,
        catalog.tables.map((t) => t.name),
      );
      const results = await validateRanges(source, target, tasks, { maxDifferences: MAX_DIFFERENCES_PER_RANGE });
      return summarizeItem(results, item.tables);
    });
  }
  const tasks = Array.isArray(range) ? range : [range];
  if (tasks.length === 0 || !tasks.every(isRangeTask)) {
    throw new Error(
      `validateRange needs "range": a validation range task from planValidation, got ${JSON.stringify(range)?.slice(0, 200)}`,
    );
  }
  return withPools(ctx, ({ source, target }) =>
    validateRanges(source, target, tasks, { maxDifferences: MAX_DIFFERENCES_PER_RANGE }),
  );
}

function flattenResults(rangeResults: unknown): RangeResult[] {
  if (!Array.isArray(rangeResults)) throw new Error('aggregateValidation needs "rangeResults": the Map results');
  const out: RangeResult[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object' && 'taskId' in v) out.push(v as RangeResult);
    else if (v && typeof v === 'object' && 'Payload' in v) visit((v as { Payload: unknown }).Payload);
  };
  rangeResults.forEach(visit);
  return out;
}

export interface AggregateValidationResult {
  readonly ok: boolean;
  readonly phase: ValidationPhase;
  readonly tables: number;
  readonly mismatchedTables: string[];
  readonly errorTables: string[];
  readonly differences: number;
  readonly firstDifferences: { table: string; key: Record<string, unknown>; kind: string; recheck?: string }[];
  readonly sourceRows: number;
  readonly targetRows: number;
  /** preValidation: differences found while replication is live (a warning, not a failure). */
  readonly warning?: string;
  /** preValidation: tables whose differing rows joined the pending set. */
  readonly pendingTables?: number;
  readonly skipped?: boolean;
}

function summarize(phase: ValidationPhase, report: ValidationReport): AggregateValidationResult {
  const firstDifferences: AggregateValidationResult['firstDifferences'] = [];
  for (const t of report.tables) {
    for (const d of t.differences) {
      if (firstDifferences.length >= 10) break;
      firstDifferences.push({ table: t.table, key: d.key, kind: d.kind, ...(d.recheck ? { recheck: d.recheck } : {}) });
    }
  }
  return {
    ok: report.ok,
    phase,
    tables: report.tables.length,
    mismatchedTables: report.tables
      .filter((t) => t.status === 'mismatch')
      .map((t) => t.table)
      .slice(0, 50),
    errorTables: report.tables
      .filter((t) => t.status === 'error')
      .map((t) => `${t.table}: ${t.error ?? 'error'}`)
      .slice(0, 20),
    differences: report.summary.differences,
    firstDifferences,
    sourceRows: report.summary.sourceRows,
    targetRows: report.summary.targetRows,
  };
}

/**
 * Folds the Map's range results into the verdict.
 * - preValidation (replication live): differing rows are re-read after a short delay (they may be in flight);
 *   remaining differences are a warning only. Tables that cannot be validated at all (missing on the target,
 *   no key, different columns) fail it: post-validation would fail after the freeze otherwise.
 * - postValidation (optional, after the switch): judged the same way, since the application already writes to the
 *   target; its differences are reported, never fatal. The exact proof is the change proof before the switch.
 *
 * `plan` is planValidation's `plan` (the outline); without it, the plan is rebuilt from the catalogs.
 */
export async function aggregateValidation(
  ctx: StepContext,
  rawPhase: unknown,
  rangeResults: unknown,
  planOutline?: unknown,
): Promise<AggregateValidationResult> {
  const phase = assertPhase(rawPhase);
  // Both validations run while the target changes (replication before the switch, the application after it):
  // differences are rechecked and reported, never fatal here; the exact proof is the change proof in the freeze.
  const done = await succeededPhase(ctx, phase);
  if (done) return { ...(done as unknown as AggregateValidationResult), skipped: true };
  const started = await beginPhase(ctx, phase);
  let result: AggregateValidationResult;
  let seeds: PendingSeed[];
  try {
    const outlineGiven = planOutline as PlanOutline | undefined;
    const itemResults = Array.isArray(rangeResults)
      ? rangeResults.map((v) =>
          v && typeof v === 'object' && 'Payload' in v ? (v as { Payload: unknown }).Payload : v,
        )
      : [];
    if (
      outlineGiven &&
      typeof outlineGiven.tables === 'number' &&
      outlineGiven.options &&
      itemResults.every(isItemResult)
    ) {
      ({ result, seeds } = await foldItems(ctx, phase, itemResults, outlineGiven));
    } else {
      ({ result, seeds } = await foldRangeResults(ctx, phase, rangeResults, planOutline));
    }
  } catch (error) {
    await endPhase(ctx, phase, started, 'failed', {}, (error as Error).message).catch(() => undefined);
    throw error;
  }
  return finish(ctx, phase, started, result, seeds);
}

/** Folds bounded item results (the state machine's path). Rechecks listed differences while rows may be in flight. */
async function foldItems(
  ctx: StepContext,
  phase: ValidationPhase,
  items: ValidationItemResult[],
  outline: PlanOutline,
): Promise<Folded> {
  const byTable = new Map<string, TableValidation>();
  let unlistedMismatches = 0;
  for (const item of items) {
    unlistedMismatches += item.mismatched - item.mismatches.length;
    for (const m of item.mismatches) {
      const t = byTable.get(m.table);
      byTable.set(m.table, {
        table: m.table,
        name: m.name,
        sourceRows: (t?.sourceRows ?? 0) + m.sourceRows,
        targetRows: (t?.targetRows ?? 0) + m.targetRows,
        status: 'mismatch',
        differences: [...(t?.differences ?? []), ...m.examples],
        differenceCount: (t?.differenceCount ?? 0) + m.differenceCount,
        differencesTruncated: false,
        differenceCountIsLowerBound: (t?.differenceCountIsLowerBound ?? false) || m.lowerBound,
        rangesChecked: 0,
        durationMs: 0,
      });
    }
  }
  let tables = [...byTable.values()];
  const listedDifferences = tables.reduce((n, t) => n + t.differenceCount, 0);
  if (tables.some((t) => t.differences.length > 0)) {
    // Row counts of a partly listed table portion are not the whole table's: recheck compares the rows only.
    const report: ValidationReport = {
      ok: false,
      mode: 'full',
      tables: tables.map((t) => ({ ...t, targetRows: t.sourceRows })),
      summary: { tables: 0, matched: 0, mismatched: 0, errors: 0, differences: 0, sourceRows: 0, targetRows: 0 },
      hashMethod: outline.options.hashMethod,
      durationMs: 0,
    };
    const rechecked = await withPools(ctx, ({ source, target }) =>
      recheck(source, target, report, {
        delayMs: PRE_VALIDATION_RECHECK_DELAY_MS,
        exactNumeric: outline.options.exactNumeric,
      }),
    );
    tables = rechecked.tables.map((t) => ({ ...t, targetRows: byTable.get(t.table)!.targetRows }));
  }
  const stillMismatched = tables.filter((t) => t.status !== 'match');
  const differences =
    items.reduce((n, i) => n + i.differences, 0) -
    listedDifferences +
    tables.reduce((n, t) => n + t.differenceCount, 0);
  const errorCount = outline.errorCount + items.reduce((n, i) => n + i.errorCount, 0);
  const errorTables = [...outline.errors, ...items.flatMap((i) => i.errors)]
    .map((e) => `${e.table}: ${e.error}`)
    .slice(0, 20);
  if (errorCount > errorTables.length) errorTables.push(`(+${errorCount - errorTables.length} more)`);
  const mismatchedTables = stillMismatched.map((t) => t.table).slice(0, 50);
  if (unlistedMismatches > 0) mismatchedTables.push(`(+${unlistedMismatches} more table portion(s))`);
  const firstDifferences: AggregateValidationResult['firstDifferences'] = [];
  for (const t of stillMismatched) {
    for (const d of t.differences) {
      if (firstDifferences.length >= 10) break;
      firstDifferences.push({ table: t.table, key: d.key, kind: d.kind, ...(d.recheck ? { recheck: d.recheck } : {}) });
    }
  }
  const unlistedNames = items.flatMap((i) => i.mismatchedNames ?? []).filter((n) => !byTable.has(formatTableName(n)));
  const result = {
    ok: outline.tables > 0 && errorCount === 0 && stillMismatched.length === 0 && unlistedMismatches === 0,
    phase,
    tables: outline.tables,
    mismatchedTables,
    errorTables,
    differences,
    firstDifferences,
    sourceRows: items.reduce((n, i) => n + i.sourceRows, 0),
    targetRows: items.reduce((n, i) => n + i.targetRows, 0),
  };
  // Portions whose names no item could list (bounded names): every table of the plan with differences is unknown,
  // so say so rather than seed nothing.
  const unnamed = items.filter((i) => i.mismatched > 0 && i.mismatchedNamesComplete === false).length;
  if (unnamed > 0 && phase === 'preValidation') {
    throw new Error(
      `${unnamed} validation item(s) found more differing tables than they could name; nothing was frozen: ` +
        `run zdm validate to list them`,
    );
  }
  return { result, seeds: seedsOf(stillMismatched, unlistedNames) };
}

interface Folded {
  readonly result: AggregateValidationResult;
  /** Rows (or tables) still differing: they stay pending until re-verified equal. */
  readonly seeds: PendingSeed[];
}

/** Folds full RangeResults (direct callers that validated plan tasks themselves). */
async function foldRangeResults(
  ctx: StepContext,
  phase: ValidationPhase,
  rangeResults: unknown,
  planOutline: unknown,
): Promise<Folded> {
  {
    const results = flattenResults(rangeResults);
    // No database work unless the outline is missing or differences need a recheck.
    let outline = planOutline as Omit<ValidationPlan, 'tasks'> | undefined;
    if (!outline || !Array.isArray(outline.tables) || !outline.options) {
      const plan = await withPools(ctx, ({ source, target }) =>
        planRanges(source, target, ctx.deps.tables, ctx.deps.rowsPerRange ? { rangeRows: ctx.deps.rowsPerRange } : {}),
      );
      const ranges = new Map<string, Set<string>>();
      for (const r of results) ranges.set(r.table, (ranges.get(r.table) ?? new Set()).add(r.taskId));
      outline = {
        options: plan.options,
        tables: plan.tables.map((t) => (ranges.has(t.table) ? { ...t, ranges: ranges.get(t.table)!.size } : t)),
      };
    }
    const options = outline.options;
    let report = aggregateResults({ ...outline, tasks: [] }, results, {});
    if (!report.ok && report.summary.differences > 0) {
      const first = report;
      report = await withPools(ctx, ({ source, target }) =>
        recheck(source, target, first, {
          delayMs: PRE_VALIDATION_RECHECK_DELAY_MS,
          exactNumeric: options.exactNumeric,
        }),
      );
    }
    return { result: summarize(phase, report), seeds: seedsOf(report.tables) };
  }
}

async function finish(
  ctx: StepContext,
  phase: ValidationPhase,
  started: Awaited<ReturnType<typeof beginPhase>>,
  folded: AggregateValidationResult,
  seeds: readonly PendingSeed[],
): Promise<AggregateValidationResult> {
  let result = folded;
  const failMessage =
    result.errorTables.length > 0
      ? `${result.errorTables.length} table(s) cannot be validated: ${result.errorTables.slice(0, 5).join('; ')}`
      : undefined;
  if (failMessage) {
    await endPhase(ctx, phase, started, 'failed', { ...result }, failMessage);
    await notifyPhase(ctx, phase, 'failed', failMessage);
    throw new CutoverError(ERRORS.validationFailed, `${phase}: ${failMessage}`);
  }
  // Before the switch, every row still differing stays pending until it is re-verified equal: the wait for sync
  // fails when one still differs after the recheck delay with replication healthy, and the change proof re-reads it.
  const pending = phase === 'preValidation' ? await seedPending(ctx, seeds) : 0;
  if (!result.ok) {
    result = {
      ...result,
      ok: true,
      ...(pending > 0 ? { pendingTables: pending } : {}),
      warning:
        `${result.differences} difference(s) in ${result.mismatchedTables.join(', ')} while replication is live ` +
        `(rechecked after ${PRE_VALIDATION_RECHECK_DELAY_MS / 1000}s; may still be in flight); ` +
        (phase === 'preValidation'
          ? `they stay pending: each must be re-verified equal before the freeze, or the wait for sync fails naming it`
          : 'after the switch: rows the application changed on the target since then are counted too'),
    };
  }
  await endPhase(ctx, phase, started, 'succeeded', { ...result });
  await notifyPhase(
    ctx,
    phase,
    'done',
    result.warning
      ? `WARNING: ${result.warning}.`
      : `${result.tables} table(s) match (${result.sourceRows} source rows, ${result.targetRows} target rows).`,
  );
  return result;
}
