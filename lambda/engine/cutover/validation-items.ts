/**
 * Bounded Step Functions payloads for validation (a state's input/output is capped at 256 KB, and exceeding it
 * raises States.DataLimitExceeded, which no Catch — not even States.ALL — can handle).
 *
 * The plan's range tasks (one per table per ~200k rows: thousands for a large schema) never enter the execution
 * state. planValidation folds them into at most `MAX_VALIDATION_ITEMS` spans: a span covers, in table-name order
 * (`compareNames`), every selected table from `from` to `to`, the rows of `from.table` with a key greater than
 * `from.key` and the rows of `to.table` with a key up to `to.key` (a missing key is open). So a Map item is two
 * positions whatever the size of the database, and validateRange answers each with a summary of bounded size.
 */
import { formatTableName, type TableName } from '../../../contract';
import { compareNames } from '../validation/key-ranges';
import type { HashMethod, RangeResult, RangeTask, RowDifference, ValidationPlan } from './validation-adapter';

/** Map items per validation (the Map's whole output is at most this many bounded summaries). */
export const MAX_VALIDATION_ITEMS = 64;
/** A span never ends on a key bound longer than this (JSON characters); it ends at the next table instead. */
export const MAX_BOUND_CHARS = 512;
/** Per item: tables named, example differences, characters of an error message. */
export const MAX_ITEM_TABLES = 2;
export const MAX_ITEM_EXAMPLES = 3;
/**
 * Names of differing tables an item lists, distinct, at most this many and this many JSON characters (Map results
 * stay small: 64 items at every cap stay under half of Step Functions' 256 KB). An item with more differing tables
 * fails the pre-validation (nothing frozen) rather than seed an incomplete set.
 */
export const MAX_ITEM_MISMATCHED_NAMES = 16;
export const MAX_ITEM_MISMATCHED_NAME_CHARS = 240;
export const MAX_ITEM_ERROR_CHARS = 160;
/** Example differences whose key is longer than this (JSON characters) are counted, not listed. */
export const MAX_EXAMPLE_KEY_CHARS = 200;
/** Error tables listed in a plan outline. */
export const MAX_OUTLINE_ERRORS = 20;

export interface SpanPoint {
  readonly schema: string;
  readonly table: string;
  /** Key bound (text forms, one per key column); absent: the table's first (from) or last (to) row. */
  readonly key?: string[];
}

/** One Map item. */
export interface ValidationItem {
  readonly from: SpanPoint;
  readonly to: SpanPoint;
  /** Tables (whole or in part) the span covered when planned: fewer found means some were dropped. */
  readonly tables: number;
}

/** What aggregateValidation needs from the plan (bounded). */
export interface PlanOutline {
  /** Tables selected on either side. */
  readonly tables: number;
  readonly options: { readonly exactNumeric: boolean; readonly hashMethod: HashMethod };
  /** Tables that cannot be validated and are in no span (target only), first few. */
  readonly errors: { readonly table: string; readonly error: string }[];
  readonly errorCount: number;
}

export interface ItemMismatch {
  readonly table: string;
  readonly name: TableName;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly differenceCount: number;
  readonly lowerBound: boolean;
  readonly examples: RowDifference[];
}

/** validateRange's answer for one ValidationItem: bounded whatever the span holds. */
export interface ValidationItemResult {
  readonly item: true;
  readonly tables: number;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly rangesChecked: number;
  readonly durationMs: number;
  readonly differences: number;
  /** Tables (portions) with differences; the first few with their counts and examples in `mismatches`. */
  readonly mismatched: number;
  readonly mismatches: ItemMismatch[];
  /** The tables with differences, by name, distinct (bounded: MAX_ITEM_MISMATCHED_NAMES and _NAME_CHARS). */
  readonly mismatchedNames?: TableName[];
  /** False when some differing table could not be named within the bounds. */
  readonly mismatchedNamesComplete?: boolean;
  readonly errorCount: number;
  readonly errors: { readonly table: string; readonly error: string }[];
}

const pointOf = (name: TableName, key?: readonly string[]): SpanPoint => ({
  schema: name.schema,
  table: name.table,
  ...(key ? { key: [...key] } : {}),
});

const sameTable = (a: TableName, b: TableName): boolean => a.schema === b.schema && a.table === b.table;

/**
 * Folds range tasks into at most `maxItems` spans of about equal estimated rows. Tasks of one table must be in
 * key order (as planRanges makes them); tables may come in any order.
 */
export function groupRangeTasks(tasks: readonly RangeTask[], maxItems = MAX_VALIDATION_ITEMS): ValidationItem[] {
  if (tasks.length === 0) return [];
  const order = tasks.map((t, i) => ({ t, i }));
  order.sort((a, b) => compareNames(a.t.table, b.t.table) || a.i - b.i);
  const sorted = order.map((o) => o.t);
  const weight = (t: RangeTask): number => Math.max(1, t.estimatedRows ?? 0);
  const total = sorted.reduce((n, t) => n + weight(t), 0);
  const items: ValidationItem[] = [];
  let start = 0;
  let acc = 0;
  const close = (end: number): void => {
    const slice = sorted.slice(start, end + 1);
    let tables = 0;
    slice.forEach((t, i) => {
      if (i === 0 || !sameTable(t.table, slice[i - 1].table)) tables++;
    });
    items.push({
      from: pointOf(slice[0].table, slice[0].lower),
      to: pointOf(slice[slice.length - 1].table, slice[slice.length - 1].upper),
      tables,
    });
    start = end + 1;
  };
  for (let j = 0; j < sorted.length; j++) {
    acc += weight(sorted[j]);
    if (j === sorted.length - 1) {
      close(j);
      break;
    }
    const due = acc >= (total * (items.length + 1)) / maxItems && items.length < maxItems - 1;
    const tableEnds = !sameTable(sorted[j].table, sorted[j + 1].table);
    const boundFits = JSON.stringify(sorted[j].upper ?? null).length <= MAX_BOUND_CHARS;
    if (due && (tableEnds || boundFits)) close(j);
  }
  return items;
}

export function isValidationItem(value: unknown): value is ValidationItem {
  const v = value as ValidationItem;
  const point = (p: SpanPoint | undefined): boolean =>
    !!p &&
    typeof p.schema === 'string' &&
    typeof p.table === 'string' &&
    (p.key === undefined || (Array.isArray(p.key) && p.key.every((k) => typeof k === 'string')));
  return !!v && typeof v === 'object' && point(v.from) && point(v.to) && typeof v.tables === 'number';
}

/** The range tasks of a span, given the selected source tables (one task per table portion). */
export function spanTasks(item: ValidationItem, tables: readonly TableName[]): RangeTask[] {
  const from = { schema: item.from.schema, table: item.from.table };
  const to = { schema: item.to.schema, table: item.to.table };
  return [...tables]
    .filter((n) => compareNames(n, from) >= 0 && compareNames(n, to) <= 0)
    .sort(compareNames)
    .map((name, i) => ({
      id: String(i),
      table: { schema: name.schema, table: name.table },
      keyColumns: [], // the validator reads them from the catalog
      ...(sameTable(name, from) && item.from.key ? { lower: item.from.key } : {}),
      ...(sameTable(name, to) && item.to.key ? { upper: item.to.key } : {}),
    }));
}

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Summarizes one item's range results (bounded). `missing`: tables planned in the span but not found. */
export function summarizeItem(results: readonly RangeResult[], expectedTables: number): ValidationItemResult {
  const mismatches: ItemMismatch[] = [];
  const mismatchedNames: TableName[] = [];
  const named = new Set<string>();
  let nameChars = 0;
  let mismatchedNamesComplete = true;
  const nameTable = (name: TableName): void => {
    const display = formatTableName(name);
    if (named.has(display)) return;
    const chars = JSON.stringify(name).length;
    if (mismatchedNames.length >= MAX_ITEM_MISMATCHED_NAMES || nameChars + chars > MAX_ITEM_MISMATCHED_NAME_CHARS) {
      mismatchedNamesComplete = false;
      return;
    }
    named.add(display);
    nameChars += chars;
    mismatchedNames.push(name);
  };
  const errors: { table: string; error: string }[] = [];
  let examples = 0;
  let mismatched = 0;
  let errorCount = 0;
  for (const r of results) {
    if (r.error) {
      errorCount++;
      if (errors.length < MAX_ITEM_TABLES) errors.push({ table: r.table, error: clip(r.error, MAX_ITEM_ERROR_CHARS) });
    } else if (!r.match) {
      mismatched++;
      nameTable(r.name);
      if (mismatches.length < MAX_ITEM_TABLES) {
        const listed: RowDifference[] = [];
        for (const d of r.differences) {
          if (examples >= MAX_ITEM_EXAMPLES) break;
          if (JSON.stringify(d.key).length > MAX_EXAMPLE_KEY_CHARS) continue;
          listed.push(d);
          examples++;
        }
        mismatches.push({
          table: r.table,
          name: r.name,
          sourceRows: r.sourceRows,
          targetRows: r.targetRows,
          differenceCount: r.differenceCount,
          lowerBound: r.unresolvedRanges > 0 || r.differenceCount > r.differences.length,
          examples: listed,
        });
      }
    }
  }
  const missing = expectedTables - results.length;
  if (missing > 0) {
    errorCount++;
    if (errors.length < MAX_ITEM_TABLES) {
      errors.push({ table: '(span)', error: `${missing} planned table(s) no longer exist on the source` });
    }
  }
  return {
    item: true,
    tables: results.length,
    sourceRows: results.reduce((n, r) => n + r.sourceRows, 0),
    targetRows: results.reduce((n, r) => n + r.targetRows, 0),
    rangesChecked: results.reduce((n, r) => n + r.rangesChecked, 0),
    durationMs: results.reduce((n, r) => n + r.durationMs, 0),
    differences: results.reduce((n, r) => n + r.differenceCount, 0),
    mismatched,
    mismatches,
    mismatchedNames,
    mismatchedNamesComplete,
    errorCount,
    errors,
  };
}

export function isItemResult(value: unknown): value is ValidationItemResult {
  return !!value && typeof value === 'object' && (value as ValidationItemResult).item === true;
}

/**
 * The Map items and the outline of a plan. A table that cannot be validated but exists on the source gets one
 * unbounded task, so the span holding it reports why; target-only tables are named in the outline.
 */
export function planItems(
  plan: ValidationPlan,
  maxItems = MAX_VALIDATION_ITEMS,
): { items: ValidationItem[]; outline: PlanOutline } {
  const tasks: RangeTask[] = [...plan.tasks];
  const errors: { table: string; error: string }[] = [];
  for (const t of plan.tables) {
    if (!t.error) continue;
    if (t.error === `table ${t.table} exists on the target but not on the source`) {
      errors.push({ table: t.table, error: t.error });
    } else {
      tasks.push({ id: `error:${t.table}`, table: t.name, keyColumns: [], estimatedRows: 1 });
    }
  }
  return {
    items: groupRangeTasks(tasks, maxItems),
    outline: {
      tables: plan.tables.length,
      options: plan.options,
      errors: errors.slice(0, MAX_OUTLINE_ERRORS).map((e) => ({ ...e, error: clip(e.error, MAX_ITEM_ERROR_CHARS) })),
      errorCount: errors.length,
    },
  };
}
