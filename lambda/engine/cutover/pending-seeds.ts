/**
 * A difference is a difference until it is proven gone. Rows a validation found different (after its recheck) may
 * never change again, so the change-tracked verification (which looks only at changed keys) would never see them:
 * they join the tracking record's pending set, where every wait-for-sync round and the change proof re-verify them
 * until they are equal. A table whose differing rows were not all listed is re-verified by ranges instead.
 */
import { formatTableName, type TableName } from '../../../contract';
import type { ConfirmedTable, PendingKey, PendingState, PendingTable } from '../tracking/types';
import type { TableValidation } from '../validation/types';
import type { StepContext } from './step-context';

export interface PendingSeed {
  readonly table: TableName;
  readonly keyColumns: string[];
  /** Keys still differing, as text in key-column order. */
  readonly keys: Pick<PendingKey, 'key' | 'kind'>[];
  /** Set when not every differing row is listed: the table is re-verified by ranges. */
  readonly rangeCheck?: string;
}

/** Seeds from rechecked validation tables (still differing rows) and tables known to differ but not listed. */
export function seedsOf(tables: readonly TableValidation[], unlisted: readonly TableName[] = []): PendingSeed[] {
  const seeds: PendingSeed[] = [];
  const seen = new Set<string>();
  for (const t of tables) {
    if (t.status === 'match' || t.status === 'error') continue;
    seen.add(formatTableName(t.name));
    const differing = t.differences.filter((d) => d.recheck !== 'converged');
    const keyColumns = t.differences[0] ? Object.keys(t.differences[0].key) : [];
    const complete = keyColumns.length > 0 && !t.differenceCountIsLowerBound && t.differenceCount === differing.length;
    seeds.push(
      complete
        ? {
            table: t.name,
            keyColumns,
            keys: differing.map((d) => ({ key: keyColumns.map((c) => String(d.key[c])), kind: d.kind })),
          }
        : {
            table: t.name,
            keyColumns,
            keys: [],
            rangeCheck: `validation found ${t.differenceCount}${t.differenceCountIsLowerBound ? '+' : ''} differing row(s), ${differing.length} listed`,
          },
    );
  }
  for (const name of unlisted) {
    if (seen.has(formatTableName(name))) continue;
    seen.add(formatTableName(name));
    seeds.push({
      table: name,
      keyColumns: [],
      keys: [],
      rangeCheck: 'validation found differing rows it did not list',
    });
  }
  return seeds;
}

/** Adds the seeds to a pending set (a key already pending keeps when it was first seen). */
export function addSeeds(pending: PendingState, seeds: readonly PendingSeed[], now: number): PendingState {
  const tables: Record<string, PendingTable> = { ...pending.tables };
  for (const seed of seeds) {
    const display = formatTableName(seed.table);
    const prev = tables[display];
    if (prev?.rangeCheck) continue;
    if (seed.rangeCheck) {
      tables[display] = {
        table: seed.table,
        keyColumns: seed.keyColumns,
        keys: [],
        rangeCheck: seed.rangeCheck,
        seededSince: now,
      };
      continue;
    }
    const keys = new Map((prev?.keys ?? []).map((k) => [JSON.stringify(k.key), k]));
    for (const k of seed.keys) {
      const id = JSON.stringify(k.key);
      if (!keys.has(id)) keys.set(id, { key: k.key, kind: k.kind, since: now, seeded: true });
    }
    tables[display] = { table: seed.table, keyColumns: seed.keyColumns, keys: [...keys.values()] };
  }
  return { tables };
}

/** Stores the seeds in this migration's tracking record (no-op without tracking, e.g. a direct validation call). */
export async function seedPending(ctx: StepContext, seeds: readonly PendingSeed[]): Promise<number> {
  if (seeds.length === 0) return 0;
  const record = (await ctx.deps.state.get(ctx.key))?.tracking;
  if (!record) return 0;
  await ctx.deps.state.putTracking(ctx.key, {
    ...record,
    pending: addSeeds(record.pending, seeds, ctx.now().getTime()),
  });
  return seeds.length;
}

/**
 * After a round's range checks: what a range check of a seeded table found is seeded too, first seen when the
 * validation saw it (so it is confirmed one recheck delay after the validation, not after the range check). A seeded
 * table that still needs ranges after the recheck delay is a confirmed difference of its own.
 */
export function inheritSeeds(
  pending: PendingState,
  seededSince: ReadonlyMap<string, number>,
  now: number,
  recheckDelayMs: number,
): { pending: PendingState; confirmed: ConfirmedTable[] } {
  if (seededSince.size === 0) return { pending, confirmed: [] };
  const tables: Record<string, PendingTable> = { ...pending.tables };
  const confirmed: ConfirmedTable[] = [];
  for (const [display, since] of seededSince) {
    const t = tables[display];
    if (!t) continue; // re-verified equal
    if (t.rangeCheck) {
      tables[display] = { ...t, seededSince: since };
      if (now - since >= recheckDelayMs) {
        confirmed.push({
          table: t.table,
          display,
          keyColumns: t.keyColumns,
          differences: [],
          count: 1,
          reason: t.rangeCheck,
        });
      }
      continue;
    }
    tables[display] = {
      ...t,
      keys: t.keys.map((k) => ({ ...k, seeded: true, since: Math.min(k.since, since) })),
    };
  }
  return { pending: { tables }, confirmed };
}

/** Keys (and tables re-verified by ranges) found by a validation and not yet re-verified equal. */
export function seededCount(pending: PendingState): number {
  return Object.values(pending.tables).reduce(
    (n, t) => n + (t.rangeCheck ? (t.seededSince ? 1 : 0) : t.keys.filter((k) => k.seeded).length),
    0,
  );
}
