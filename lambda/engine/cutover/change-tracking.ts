/**
 * Change-tracked verification for the cutover: the workflow's own slots on source and target (started before
 * pre-validation), consumed by every wait-for-sync iteration and by the in-freeze change proof. Every key changed on
 * either side after tracking started is re-verified by key (same row hash as validation); keys still differing stay
 * pending until a recheck delay has passed; slots advance only past what was verified or stored.
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { formatTableName, type TableName } from '../../../contract';
import { readCatalog } from '../catalog';
import { connectionLost, ConnectionLostError } from '../pg/connection';
import type { TrackingRecord, TrackingSide } from '../ports';
import {
  advance,
  EMPTY_PENDING,
  flushWal as flushTrackedWal,
  logRestartPoint,
  mergePending,
  readChanges,
  startTracking,
  stopTracking,
  verifyKeys,
  type FreshChecks,
  type TrackedChanges,
} from '../tracking';
import type { ConfirmedTable, PendingState } from '../tracking/types';
import { validate } from '../validation';
import { mapLimit } from '../helpers';
import type { KeyValue } from '../validation/types';
import { inheritSeeds, seededCount } from './pending-seeds';
import type { StepContext } from './step-context';

/** A key stays pending at least this long before it counts as a confirmed difference. */
export const RECHECK_DELAY_MS = 15_000;
/** Rows decoded per slot per read; a read that hits it says `more` and the next iteration goes on. */
export const MAX_CHANGES_PER_READ = 50_000;
/**
 * Tables whose keys are re-verified at once: a table's check is one query per side and batch of keys (contexts are
 * reused across rounds); three at once leave no connection of a side's pool (4, one of them decoding) idle.
 */
const KEY_CHECK_CONCURRENCY = 3;
/** "In sync" needs at most this many keys still pending. */
export const MAX_PENDING_IN_SYNC = 1_000;

/**
 * Slot and publication names of a migration: one per side (two databases may share a server), and per mode, so a
 * watchdog that knows only the execution input finds them (two dry runs of one migrationId at once share them).
 */
export function trackingNames(migrationId: string, mode: 'dry-run' | 'execute'): { source: string; target: string } {
  const hash = createHash('sha256').update(migrationId).digest('hex').slice(0, 16);
  const m = mode === 'execute' ? 'x' : 'd';
  return { source: `zdm_trk_${m}s_${hash}`, target: `zdm_trk_${m}t_${hash}` };
}

async function selectedTables(ctx: StepContext, pool: Pool): Promise<TableName[]> {
  const catalog = await readCatalog(pool, ctx.deps.tables);
  return catalog.tables.map((t) => t.name);
}

/** Creates (or finds) both tracking slots and stores where they start. Idempotent. */
export async function startChangeTracking(
  ctx: StepContext,
  pools: { source: Pool; target: Pool },
): Promise<TrackingRecord> {
  const names = trackingNames(ctx.input.migrationId, ctx.input.mode);
  const side = async (pool: Pool, name: string): Promise<TrackingSide> => {
    const tables = await selectedTables(ctx, pool);
    const started = await startTracking(pool, { slot: name, publication: name, tables });
    return { slot: name, publication: name, startLsn: started.lsn };
  };
  const existing = (await ctx.deps.state.get(ctx.key))?.tracking;
  const [source, target] = await Promise.all([side(pools.source, names.source), side(pools.target, names.target)]);
  const record: TrackingRecord = existing
    ? { ...existing, source, target }
    : { source, target, pending: EMPTY_PENDING, confirmed: [], keysVerified: 0, changesRead: 0 };
  await ctx.deps.state.putTracking(ctx.key, record);
  return record;
}

/** Drops both slots and publications (idempotent); says what could not be dropped. */
export async function dropChangeTracking(
  ctx: StepContext,
  pools: { source?: Pool; target?: Pool },
): Promise<{ dropped: string[]; left: string[] }> {
  const record = (await ctx.deps.state.get(ctx.key))?.tracking;
  const names = trackingNames(ctx.input.migrationId, ctx.input.mode);
  const dropped: string[] = [];
  const left: string[] = [];
  for (const [side, pool, slot] of [
    ['source', pools.source, record?.source.slot ?? names.source],
    ['target', pools.target, record?.target.slot ?? names.target],
  ] as const) {
    if (!pool) {
      left.push(`${side} slot ${slot} (no connection)`);
      continue;
    }
    try {
      const out = await stopTracking(pool, { slot, publication: slot });
      if (out.slot === 'in-use') left.push(`${side} slot ${slot} (in use)`);
      else if (out.slot === 'dropped') dropped.push(`${side} slot ${slot}`);
    } catch (error) {
      left.push(`${side} slot ${slot} (${(error as Error).message.slice(0, 200)})`);
    }
  }
  if (record && !record.droppedAt && left.length === 0) {
    await ctx.deps.state.putTracking(ctx.key, { ...record, droppedAt: ctx.iso() });
  }
  return { dropped, left };
}

export interface VerificationRound {
  readonly record: TrackingRecord;
  readonly keysVerified: number;
  readonly changesRead: number;
  readonly pendingKeys: number;
  /** Differences that outlived the recheck delay (wait-for-sync), or every difference (change proof). */
  readonly confirmed: ConfirmedTable[];
  readonly rangeChecked: string[];
  /** Tables still waiting for a range re-verification. */
  readonly rangeChecksPending: number;
  /** Pending keys a validation found (they may never change again: "in sync" waits for them). */
  readonly seededPending: number;
  /** A slot holds more changes than one read took. */
  readonly more: boolean;
  /** The catalog signatures of both publications' tables, read by this round (a change means DDL ran). */
  readonly catalog: { readonly source: string; readonly target: string };
}

function pendingCount(pending: PendingState): number {
  return Object.values(pending.tables).reduce((n, t) => n + t.keys.length, 0);
}

function mergeChanges(into: Map<string, FreshInput>, changes: TrackedChanges): void {
  for (const [display, t] of Object.entries(changes.keysByTable)) {
    const entry = into.get(display) ?? { table: t.table, keyColumns: t.keyColumns, keys: new Map<string, string[]>() };
    for (const key of t.keys) entry.keys.set(JSON.stringify(key), key);
    if (t.rangeCheck) entry.rangeCheck = t.rangeCheck;
    into.set(display, entry);
  }
  for (const display of changes.truncated) {
    const entry = into.get(display);
    if (entry) entry.rangeCheck = 'truncated';
  }
}

interface FreshInput {
  table: TableName;
  keyColumns: string[];
  keys: Map<string, string[]>;
  rangeCheck?: string;
}

const keyText = (value: KeyValue): string => String(value);

/**
 * Re-verifies a table by key ranges (a TRUNCATE, too many changed keys): its differing rows become pending keys, so
 * rows still in flight converge like any other.
 */
async function verifyByRanges(pools: { source: Pool; target: Pool }, table: TableName): Promise<FreshChecks> {
  const report = await validate(pools.source, pools.target, {
    include: [{ schema: table.schema, table: table.table }],
  });
  const t = report.tables.find((x) => x.name.schema === table.schema && x.name.table === table.table);
  const display = formatTableName(table);
  if (!t) return { table, display, keyColumns: [], checked: [], error: 'table not found by its range check' };
  if (t.error) return { table, display, keyColumns: [], checked: [], error: t.error };
  if (t.differencesTruncated || t.differenceCountIsLowerBound) {
    return { table, display, keyColumns: [], checked: [], rangeCheck: `${t.differenceCount}+ rows differ` };
  }
  const keyColumns = t.differences[0] ? Object.keys(t.differences[0].key) : [];
  return {
    table,
    display,
    keyColumns,
    checked: t.differences.map((d) => ({ key: keyColumns.map((c) => keyText(d.key[c])), status: d.kind })),
  };
}

/**
 * Runs `fn` with one connection per side checked out (source first, then target, as everywhere) for the slots' reads
 * and advances. Decoding flushes the catalog caches of the connection it runs on: kept to one connection per side,
 * the other connections (catalog signature, key checks) stay warm. A connection whose work failed, or `discard`, is
 * closed rather than returned to the pool.
 */
async function withDecoders<T>(
  pools: { source: Pool; target: Pool },
  discard: boolean,
  fn: (decoders: { source: PoolClient; target: PoolClient }) => Promise<T>,
): Promise<T> {
  const source = await pools.source.connect();
  let target: PoolClient | undefined;
  let result: T;
  try {
    target = await pools.target.connect();
    result = await fn({ source, target });
  } catch (error) {
    source.release(true);
    target?.release(true);
    const lost = connectionLost(source) ?? (target ? connectionLost(target) : undefined);
    throw lost ? new ConnectionLostError(lost) : error;
  }
  source.release(discard);
  target.release(discard);
  return result;
}

export interface RoundOptions {
  readonly sourceUptoLsn?: string;
  readonly targetUptoLsn?: string;
  /** The change proof: no recheck delay, every key still differing is a difference. */
  readonly final?: boolean;
  /** Flush both servers' WAL first (in the reads' first round trip), so the reads see every commit so far. */
  readonly flush?: boolean;
}

/**
 * One verification round: reads the new changes of both slots (the source's up to `sourceUptoLsn` when given),
 * re-verifies their keys and the pending ones, range-checks flagged tables, stores the result, then advances the
 * slots past what was read. `final` (the change proof): no delay, every key still differing is a difference.
 */
export async function verifyTrackedChanges(
  ctx: StepContext,
  pools: { source: Pool; target: Pool },
  options: RoundOptions = {},
): Promise<VerificationRound> {
  const record = (await ctx.deps.state.get(ctx.key))?.tracking;
  if (!record) throw new Error('change tracking was not started for this migration (the StartTracking step)');
  // The change proof is the last round before the switch: its decoding connections (their catalog caches flushed by
  // decoding) are closed after it rather than handed to the steps that follow in the freeze.
  return withDecoders(pools, Boolean(options.final), (decoders) => round(ctx, pools, decoders, record, options));
}

async function round(
  ctx: StepContext,
  pools: { source: Pool; target: Pool },
  decoders: { source: PoolClient; target: PoolClient },
  record: TrackingRecord,
  options: RoundOptions,
): Promise<VerificationRound> {
  if (!options.final) {
    // Outside the freeze: so that the next read (the change proof's included) decodes from about here.
    await Promise.all([logRestartPoint(pools.source), logRestartPoint(pools.target)]);
  }
  const read = (side: 'source' | 'target', uptoLsn: string | undefined): Promise<TrackedChanges> =>
    readChanges(pools[side], record[side], {
      uptoLsn,
      maxChanges: MAX_CHANGES_PER_READ,
      client: decoders[side],
      flush: Boolean(options.flush),
    });
  const [sourceChanges, targetChanges] = await Promise.all([
    read('source', options.sourceUptoLsn),
    read('target', options.targetUptoLsn),
  ]);
  const fresh = new Map<string, FreshInput>();
  mergeChanges(fresh, sourceChanges);
  mergeChanges(fresh, targetChanges);
  // Pending keys are verified again with the fresh ones.
  for (const [display, p] of Object.entries(record.pending.tables)) {
    const entry: FreshInput = fresh.get(display) ?? { table: p.table, keyColumns: p.keyColumns, keys: new Map() };
    for (const k of p.keys) entry.keys.set(JSON.stringify(k.key), k.key);
    if (p.rangeCheck) entry.rangeCheck = p.rangeCheck;
    fresh.set(display, entry);
  }

  const checks: FreshChecks[] = [];
  const rangeChecked: string[] = [];
  let keysVerified = 0;
  // Range checks (rare, O(table)) one at a time; key checks of the tables two at a time (each holds a connection per side).
  for (const [display, entry] of fresh) {
    if (!entry.rangeCheck) continue;
    checks.push(await verifyByRanges(pools, entry.table));
    rangeChecked.push(display);
  }
  const keyed = [...fresh.values()].filter((entry) => !entry.rangeCheck && entry.keys.size > 0);
  // Both reads' catalog signatures cover the tables of both publications: their contexts are reused from the last
  // round while neither catalog changed (one query per side instead of four per table and side).
  const covered = new Set(sourceChanges.catalog.tables.filter((t) => targetChanges.catalog.tables.includes(t)));
  const catalog = { source: sourceChanges.catalog.signature, target: targetChanges.catalog.signature };
  const verified = await mapLimit(keyed, KEY_CHECK_CONCURRENCY, (entry) =>
    verifyKeys(pools.source, pools.target, entry.table, [...entry.keys.values()], {
      keyColumns: entry.keyColumns,
      ...(covered.has(formatTableName(entry.table)) ? { catalog } : {}),
    }),
  );
  for (const v of verified) {
    keysVerified += v.checked.length;
    checks.push(v.error ? { ...v, rangeCheck: undefined } : v);
  }
  const now = ctx.now().getTime();
  // Tables range-checked this round start afresh; every other pending key keeps when it was first seen differing.
  const previous: PendingState = { tables: { ...record.pending.tables } };
  const seededSince = new Map<string, number>();
  for (const display of rangeChecked) {
    const since = previous.tables[display]?.seededSince;
    if (since !== undefined) seededSince.set(display, since);
    delete (previous.tables as Record<string, unknown>)[display];
  }
  const delay = options.final ? 0 : RECHECK_DELAY_MS;
  const mergedKeys = mergePending(previous, checks, now, delay);
  const seeded = inheritSeeds(mergedKeys.pending, seededSince, now, delay);
  const merged = { pending: seeded.pending, confirmed: [...mergedKeys.confirmed, ...seeded.confirmed] };
  const errors = checks.filter((c) => c.error);
  const confirmed = [...merged.confirmed];
  if (options.final) {
    // Nothing is in flight any more: whatever still differs, or could not be checked, is a difference.
    for (const t of Object.values(merged.pending.tables)) {
      confirmed.push({
        table: t.table,
        display: formatTableName(t.table),
        keyColumns: t.keyColumns,
        differences: t.keys,
        count: t.keys.length || 1,
      });
    }
    for (const e of errors) {
      confirmed.push({ table: e.table, display: e.display, keyColumns: [], differences: [], count: 1 });
    }
  }
  // Outside the freeze a confirmed difference stays pending until it is re-verified equal: the caller decides whether
  // it is fatal (replication healthy) or may still be explained (replication stalled); it is never forgotten.
  const pending = options.final ? EMPTY_PENDING : keepConfirmed(merged.pending, merged.confirmed);
  const next: TrackingRecord = {
    ...record,
    pending,
    confirmed: [...record.confirmed, ...confirmed].slice(0, 50),
    keysVerified: record.keysVerified + keysVerified,
    changesRead: record.changesRead + sourceChanges.changes + targetChanges.changes,
  };
  // Store first, then advance: a step that dies in between reads the same changes again and reaches the same verdict.
  await ctx.deps.state.putTracking(ctx.key, next);
  await Promise.all([
    sourceChanges.lastLsn ? advance(decoders.source, record.source.slot, sourceChanges.lastLsn) : undefined,
    targetChanges.lastLsn ? advance(decoders.target, record.target.slot, targetChanges.lastLsn) : undefined,
  ]);
  return {
    record: next,
    keysVerified,
    changesRead: sourceChanges.changes + targetChanges.changes,
    pendingKeys: pendingCount(next.pending),
    confirmed,
    rangeChecked,
    rangeChecksPending: Object.values(next.pending.tables).filter((t) => t.rangeCheck).length,
    seededPending: seededCount(next.pending),
    more: sourceChanges.more || targetChanges.more,
    catalog,
  };
}

/** Puts confirmed keys back into the pending set (keeping when they were first seen differing). */
function keepConfirmed(pending: PendingState, confirmed: readonly ConfirmedTable[]): PendingState {
  if (confirmed.length === 0) return pending;
  const tables = { ...pending.tables };
  for (const c of confirmed) {
    const prev = tables[c.display];
    if (prev?.rangeCheck) continue;
    const keys = new Map((prev?.keys ?? []).map((k) => [JSON.stringify(k.key), k]));
    for (const d of c.differences) keys.set(JSON.stringify(d.key), d);
    tables[c.display] = { table: c.table, keyColumns: c.keyColumns, keys: [...keys.values()] };
  }
  return { tables };
}

/** Makes the server flush everything committed so far (see `flushWal` in the tracking engine). */
export async function flushWal(pool: Pool): Promise<void> {
  await flushTrackedWal(pool);
}
