import type { RangeResult, RangeTask, ValidationPlan } from '../../../../lambda/engine/cutover/validation-adapter';
import {
  MAX_ITEM_ERROR_CHARS,
  MAX_VALIDATION_ITEMS,
  groupRangeTasks,
  planItems,
  spanTasks,
  summarizeItem,
  type ValidationItemResult,
} from '../../../../lambda/engine/cutover/validation-items';
import type { AggregateValidationResult } from '../../../../lambda/engine/cutover/validation-steps';
import { formatTableName, type TableName } from '../../../../contract';
import { figures } from '../../../support/figures';

const LIMIT = 256 * 1024;
const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v), 'utf8');

/** 2,000 tables with long names × 8 ranges, composite (uuid, timestamp) keys: ~16,000 range tasks. */
function bigPlan(tablesCount = 2000, rangesPerTable = 8): ValidationPlan {
  const tables: ValidationPlan['tables'][number][] = [];
  const tasks: RangeTask[] = [];
  for (let ti = 0; ti < tablesCount; ti++) {
    const name: TableName = { schema: `tenant_${ti % 40}`, table: `events_with_a_rather_long_table_name_${ti}` };
    const keyColumns = ['tenant_id', 'created_at'];
    const bound = (i: number): string[] => [
      `${String(ti).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`,
      `2026-01-01 00:00:${String(i).padStart(2, '0')}+00`,
    ];
    for (let i = 0; i < rangesPerTable; i++) {
      tasks.push({
        id: `${ti}:${i}`,
        table: name,
        keyColumns,
        ...(i > 0 ? { lower: bound(i - 1) } : {}),
        ...(i < rangesPerTable - 1 ? { upper: bound(i) } : {}),
        estimatedRows: 200_000,
      });
    }
    tables.push({
      table: formatTableName(name),
      name,
      keyColumns,
      ranges: rangesPerTable,
      estimatedRows: 200_000 * rangesPerTable,
    });
  }
  return { tables, tasks, options: { exactNumeric: true, hashMethod: 'record' } };
}

/** The largest result an item can return: every list at its cap, long names, long messages. */
function worstItemResult(): ValidationItemResult {
  const name = { schema: 'x'.repeat(63), table: 'y'.repeat(63) };
  const results: RangeResult[] = [];
  for (let i = 0; i < 10; i++) {
    // distinct tables, so that the item names as many as its bounds allow
    const table = { ...name, table: `${i}${name.table}`.slice(0, 63) };
    results.push({
      taskId: String(i),
      table: formatTableName(table),
      name: table,
      sourceRows: 1e12,
      targetRows: 1e12,
      match: false,
      differences: Array.from({ length: 20 }, (_, j) => ({
        key: { ['k'.repeat(63)]: 'v'.repeat(200), id: j },
        kind: 'changed' as const,
      })),
      differenceCount: 1e9,
      unresolvedRanges: 5,
      rangesChecked: 1000,
      durationMs: 1e7,
      ...(i % 2 ? { error: 'e'.repeat(5000) } : {}),
    });
  }
  return summarizeItem(results, 20);
}

describe('bounded validation payloads (Step Functions caps state input/output at 256 KB)', () => {
  const plan = bigPlan();
  const { items, outline } = planItems(plan);
  const planResult = { phase: 'postValidation', tables: plan.tables.length, estimatedRows: 0, items, plan: outline };

  test('before: the old plan result (tasks + table outline) and range results exceed 256 KB', () => {
    const { tasks, ...oldOutline } = plan;
    const oldPlanResult = { phase: 'postValidation', tables: 2000, estimatedRows: 0, tasks, plan: oldOutline };
    const oldMapOutput = plan.tasks.map((t) => ({
      taskId: t.id,
      table: formatTableName(t.table),
      name: t.table,
      sourceRows: 200_000,
      targetRows: 200_000,
      match: true,
      differences: [],
      differenceCount: 0,
      unresolvedRanges: 0,
      rangesChecked: 1,
      durationMs: 1234,
    }));
    figures(
      `old plan result ${bytes(oldPlanResult)} B (${plan.tasks.length} tasks), old Map output ${bytes(oldMapOutput)} B`,
    );
    expect(bytes(oldPlanResult)).toBeGreaterThan(LIMIT);
    expect(bytes(oldMapOutput)).toBeGreaterThan(LIMIT);
  });

  test('the plan result, each Map item, the Map output and the state after aggregation stay far under 256 KB', () => {
    expect(items.length).toBeLessThanOrEqual(MAX_VALIDATION_ITEMS);
    expect(items.length).toBeGreaterThan(MAX_VALIDATION_ITEMS / 2);
    const largestItem = Math.max(...items.map(bytes));
    // The Map's output at its worst: every item at every cap.
    const worst = worstItemResult();
    const mapOutput = Array.from({ length: items.length }, () => worst);
    const aggregate: AggregateValidationResult = {
      ok: false,
      phase: 'postValidation',
      tables: 2000,
      mismatchedTables: Array.from({ length: 51 }, () =>
        formatTableName({ schema: 'x'.repeat(63), table: 'y'.repeat(63) }),
      ),
      errorTables: Array.from({ length: 21 }, () => 'e'.repeat(MAX_ITEM_ERROR_CHARS + 140)),
      differences: 1e9,
      firstDifferences: Array.from({ length: 10 }, () => ({
        table: 'x'.repeat(130),
        key: { ['k'.repeat(63)]: 'v'.repeat(200) },
        kind: 'changed',
      })),
      sourceRows: 1e12,
      targetRows: 1e12,
    };
    // The state while the Map runs / after it: the plan result and the Map's output side by side.
    const stateAfterMap = { input: {}, results: { planPostValidation: planResult, postValidation: mapOutput } };
    const stateAfterAggregation = { ...stateAfterMap, results: { ...stateAfterMap.results, aggregate } };
    figures(
      `plan result ${bytes(planResult)} B (${items.length} items), largest item ${largestItem} B, ` +
        `worst item result ${bytes(worst)} B, worst Map output ${bytes(mapOutput)} B, ` +
        `worst state after aggregation ${bytes(stateAfterAggregation)} B`,
    );
    expect(bytes(planResult)).toBeLessThan(LIMIT / 8);
    expect(largestItem).toBeLessThan(2 * 1024);
    expect(bytes(worst)).toBeLessThan(2 * 1024);
    expect(bytes(mapOutput)).toBeLessThan(LIMIT / 2);
    // Every cap hit in every item at once (absurd, differing tables named in every item) still leaves 35% headroom.
    expect(bytes(stateAfterAggregation)).toBeLessThan(LIMIT * 0.65);
    // The post-switch validation runs last: the results of every step before it are in the state too. Each is a few
    // hundred bytes (see the step tests); even at 4 KB each (the bound of a phase summary) 15% headroom is left.
    const earlier = Object.fromEntries(
      [
        'preflight',
        'startTracking',
        'aggregatePreValidation',
        'checkLag',
        'requestApproval',
        'freezeWrites',
        'finalSync',
        'proveChanges',
        'syncSequences',
        'switchTraffic',
        'stopReplication',
        'checkLateWrites',
      ].map((key) => [key, { allowance: 'x'.repeat(4000) }]),
    );
    expect(bytes({ ...stateAfterAggregation, results: { ...earlier, ...stateAfterAggregation.results } })).toBeLessThan(
      LIMIT * 0.85,
    );
  });

  test('the spans cover every range task exactly once, in order', () => {
    const names = plan.tables.map((t) => t.name);
    const covered = items.flatMap((item) => spanTasks(item, names));
    // Each table appears once per span it touches; consecutive spans meet on a shared bound.
    const byTable = new Map<string, typeof covered>();
    for (const t of covered)
      byTable.set(formatTableName(t.table), [...(byTable.get(formatTableName(t.table)) ?? []), t]);
    expect(byTable.size).toBe(2000);
    for (const [, portions] of byTable) {
      expect(portions[0].lower).toBeUndefined();
      expect(portions[portions.length - 1].upper).toBeUndefined();
      for (let i = 1; i < portions.length; i++) expect(portions[i].lower).toEqual(portions[i - 1].upper);
    }
    expect(items.reduce((n, i) => n + i.tables, 0)).toBe(covered.length);
  });

  test('a span never ends on an over-long key bound (ends at the table instead)', () => {
    const name = { schema: 'public', table: 'docs' };
    const long = ['z'.repeat(2000)];
    const tasks: RangeTask[] = [
      { id: '0:0', table: name, keyColumns: ['k'], upper: long, estimatedRows: 10 },
      { id: '0:1', table: name, keyColumns: ['k'], lower: long, estimatedRows: 10 },
      { id: '1:0', table: { schema: 'public', table: 'e' }, keyColumns: ['k'], estimatedRows: 10 },
    ];
    const grouped = groupRangeTasks(tasks, 3);
    expect(grouped).toEqual([
      { from: { schema: 'public', table: 'docs' }, to: { schema: 'public', table: 'docs' }, tables: 1 },
      { from: { schema: 'public', table: 'e' }, to: { schema: 'public', table: 'e' }, tables: 1 },
    ]);
  });

  test('a table that cannot be validated is in a span (source) or named in the outline (target only)', () => {
    const p: ValidationPlan = {
      tables: [
        {
          table: 'public.a',
          name: { schema: 'public', table: 'a' },
          keyColumns: [],
          ranges: 0,
          estimatedRows: 1,
          error: 'table public.a has no primary key',
        },
        {
          table: 'public.z',
          name: { schema: 'public', table: 'z' },
          keyColumns: ['id'],
          ranges: 0,
          estimatedRows: 1,
          error: 'table public.z exists on the target but not on the source',
        },
      ],
      tasks: [],
      options: { exactNumeric: true, hashMethod: 'text' },
    };
    const r = planItems(p);
    expect(r.items).toEqual([
      { from: { schema: 'public', table: 'a' }, to: { schema: 'public', table: 'a' }, tables: 1 },
    ]);
    expect(r.outline).toMatchObject({ tables: 2, errorCount: 1, errors: [{ table: 'public.z' }] });
  });

  test('fails when planned tables are gone from a span: the item result reports it', () => {
    const r = summarizeItem([], 2);
    expect(r.errorCount).toBe(1);
    expect(r.errors[0].error).toMatch(/2 planned table\(s\) no longer exist/);
  });
});
