/** The pending / confirmed bookkeeping of differing keys: transitions, recheck delay, bounds, JSON round trip. */
import { EMPTY_PENDING, mergePending, type FreshChecks, type KeyCheck } from '../../../../lambda/engine/tracking';

const table = { schema: 'public', table: 'items' };
const fresh = (checked: KeyCheck[], extra: Partial<FreshChecks> = {}): FreshChecks => ({
  table,
  display: 'public.items',
  keyColumns: ['id'],
  checked,
  ...extra,
});
const check = (id: number, status: KeyCheck['status']): KeyCheck => ({ key: [String(id)], status });
const DELAY = 1000;

describe('mergePending', () => {
  it('keeps a first-seen difference pending, with when it was first seen', () => {
    const { pending, confirmed } = mergePending(
      undefined,
      [fresh([check(1, 'changed'), check(2, 'equal')])],
      5000,
      DELAY,
    );
    expect(confirmed).toEqual([]);
    expect(pending.tables['public.items'].keys).toEqual([{ key: ['1'], kind: 'changed', since: 5000 }]);
  });

  it('drops a pending key that converged, and the table once nothing is pending', () => {
    const first = mergePending(EMPTY_PENDING, [fresh([check(1, 'missing')])], 0, DELAY);
    const second = mergePending(first.pending, [fresh([check(1, 'equal')])], 10_000, DELAY);
    expect(second).toEqual({ pending: { tables: {} }, confirmed: [] });
  });

  it('keeps it pending when rechecked before the delay, keeping the first-seen time and the latest kind', () => {
    const first = mergePending(undefined, [fresh([check(1, 'missing')])], 0, DELAY);
    const early = mergePending(first.pending, [fresh([check(1, 'changed')])], DELAY - 1, DELAY);
    expect(early.confirmed).toEqual([]);
    expect(early.pending.tables['public.items'].keys).toEqual([{ key: ['1'], kind: 'changed', since: 0 }]);
  });

  it('confirms a difference that outlives the recheck delay', () => {
    const first = mergePending(undefined, [fresh([check(1, 'changed'), check(2, 'extra')])], 0, DELAY);
    const late = mergePending(first.pending, [fresh([check(1, 'changed')])], DELAY, DELAY);
    expect(late.confirmed).toEqual([
      {
        table,
        display: 'public.items',
        keyColumns: ['id'],
        differences: [{ key: ['1'], kind: 'changed', since: 0 }],
        count: 1,
      },
    ]);
    // Key 2 was not rechecked: still pending, never confirmed without a recheck.
    expect(late.pending.tables['public.items'].keys).toEqual([{ key: ['2'], kind: 'extra', since: 0 }]);
  });

  it('leaves other tables alone, and survives a JSON round trip (state store)', () => {
    const other = {
      ...fresh([check(9, 'changed')]),
      display: 'public.other',
      table: { schema: 'public', table: 'other' },
    };
    const first = mergePending(undefined, [fresh([check(1, 'changed')]), other], 0, DELAY);
    const stored = JSON.parse(JSON.stringify(first.pending));
    const next = mergePending(stored, [fresh([check(1, 'equal')])], 10, DELAY);
    expect(Object.keys(next.pending.tables)).toEqual(['public.other']);
    expect(next.pending.tables['public.other']).toEqual(first.pending.tables['public.other']);
  });

  it('flags a table for range re-verification past the key cap, and keeps it flagged', () => {
    const many = [1, 2, 3, 4].map((i) => check(i, 'changed'));
    const { pending } = mergePending(undefined, [fresh(many)], 0, DELAY, { maxKeysPerTable: 3 });
    expect(pending.tables['public.items']).toMatchObject({
      keys: [],
      rangeCheck: 'more than 3 differing keys pending',
    });
    const later = mergePending(pending, [fresh([check(1, 'equal')])], DELAY * 5, DELAY, { maxKeysPerTable: 3 });
    expect(later.pending.tables['public.items'].rangeCheck).toBeDefined();
    expect(later.confirmed).toEqual([]);
  });

  it('flags a table past a fraction of its rows', () => {
    const keys = [1, 2, 3].map((i) => check(i, 'missing'));
    const limits = { maxFractionOfRows: 0.1, tableRows: { 'public.items': 20 } };
    const { pending } = mergePending(undefined, [fresh(keys)], 0, DELAY, limits);
    expect(pending.tables['public.items'].rangeCheck).toBe('more than 2 differing keys pending');
    const fine = mergePending(undefined, [fresh(keys.slice(0, 2))], 0, DELAY, limits);
    expect(fine.pending.tables['public.items'].rangeCheck).toBeUndefined();
  });

  it('turns a truncate, an error or changed key columns into a range re-verification', () => {
    const truncated = mergePending(undefined, [fresh([], { rangeCheck: 'truncated' })], 0, DELAY);
    expect(truncated.pending.tables['public.items']).toMatchObject({ keys: [], rangeCheck: 'truncated' });
    const failed = mergePending(undefined, [fresh([], { error: 'columns differ' })], 0, DELAY);
    expect(failed.pending.tables['public.items'].rangeCheck).toBe('columns differ');
    const first = mergePending(undefined, [fresh([check(1, 'changed')])], 0, DELAY);
    const rekeyed = mergePending(first.pending, [fresh([check(1, 'changed')], { keyColumns: ['code'] })], 0, DELAY);
    expect(rekeyed.pending.tables['public.items'].rangeCheck).toMatch(/key columns changed/);
  });

  it('caps the listed confirmed differences but counts them all', () => {
    const keys = [1, 2, 3].map((i) => check(i, 'changed'));
    const first = mergePending(undefined, [fresh(keys)], 0, DELAY, { maxKeysPerTable: 3 });
    const late = mergePending(first.pending, [fresh(keys)], DELAY, DELAY, { maxKeysPerTable: 2 });
    expect(late.confirmed[0].count).toBe(3);
    expect(late.confirmed[0].differences).toHaveLength(2);
  });
});
