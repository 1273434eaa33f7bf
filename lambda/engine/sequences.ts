/**
 * Sequences: DMS does not copy their values. Compare them, and set each target sequence past both the source's
 * value and the highest value in the column that owns it. Never moves a sequence backwards; safe to run twice.
 *
 * Selected sequences: those owned by (serial) or backing (identity) a column of a selected table, plus every
 * sequence whose own name the selection matches (so `public` / `public.%` takes all of `public`).
 */
import type { Pool, PoolClient } from 'pg';
import { withPooledClient } from './pg/connection';
import { qualify, quoteIdent } from './pg/identifiers';
import { formatTableName, isSelected, type TableName, type TableSelection } from '../../contract';
import type { SequenceOptions, SequenceReport, SequenceResult } from './validation/types';

interface SeqRow {
  schema: string;
  name: string;
  increment: string;
  table_schema: string | null;
  table_name: string | null;
  column_name: string | null;
}

async function listSequences(pool: Pool): Promise<SeqRow[]> {
  const r = await pool.query<SeqRow>(
    `SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment,
            tn.nspname AS table_schema, tc.relname AS table_name, a.attname AS column_name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_sequence s ON s.seqrelid = c.oid
       LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
                            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       LEFT JOIN pg_class tc ON tc.oid = d.refobjid
       LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
  );
  return r.rows;
}

const seqKey = (schema: string, name: string): string => JSON.stringify([schema, name]);

function selected(selection: TableSelection, s: SeqRow): boolean {
  if (s.table_schema && s.table_name && isSelected(selection, { schema: s.table_schema, table: s.table_name })) {
    return true;
  }
  return isSelected(selection, { schema: s.schema, table: s.name });
}

/** The value the next nextval() returns; null when unknown. */
function nextValue(lastValue: string | null, isCalled: boolean, increment: bigint): bigint | null {
  if (lastValue === null) return null;
  return isCalled ? BigInt(lastValue) + increment : BigInt(lastValue);
}

async function state(client: Pool | PoolClient, name: TableName): Promise<{ last: string; called: boolean }> {
  const r = await client.query<{ last_value: string; is_called: boolean }>(
    `SELECT last_value::text AS last_value, is_called FROM ${qualify(name)}`,
  );
  return { last: r.rows[0].last_value, called: r.rows[0].is_called };
}

/** `(SELECT max|min(column)::text FROM table)` for the column that owns a sequence; null when none does. */
function extremeSql(s: SeqRow, ascending: boolean): string | null {
  if (!s.table_schema || !s.table_name || !s.column_name) return null;
  return `(SELECT ${ascending ? 'max' : 'min'}(${quoteIdent(s.column_name)})::text FROM ${qualify({ schema: s.table_schema, table: s.table_name })})`;
}

const extremeValue = (v: string | null): bigint | null => (v === null ? null : BigInt(v.split('.')[0]));

async function columnExtreme(pool: Pool | PoolClient, s: SeqRow, ascending: boolean): Promise<bigint | null> {
  const sql = extremeSql(s, ascending);
  if (!sql) return null;
  const r = await pool.query<{ v: string | null }>(`SELECT ${sql} AS v`);
  return extremeValue(r.rows[0].v);
}

/** Identity, ownership and display name of a chosen sequence. */
function describe(s: SeqRow): Pick<SequenceResult, 'sequence' | 'ownedBy'> {
  const ownedBy = s.column_name
    ? `${formatTableName({ schema: s.table_schema!, table: s.table_name! })}.${s.column_name}`
    : undefined;
  return { sequence: formatTableName({ schema: s.schema, table: s.name }), ...(ownedBy ? { ownedBy } : {}) };
}

type Described = Pick<SequenceResult, 'sequence' | 'ownedBy'>;

function missingResult(base: Described, sourceNext: bigint | null): SequenceResult {
  return { ...base, sourceNext: String(sourceNext), targetNext: null, targetColumnMax: null, status: 'missing' };
}

/**
 * The result for a sequence present on both sides, and (when syncing moves it) the value to pass to
 * setval(v, true), after which the next nextval() returns v + increment.
 */
function assess(
  base: Described,
  increment: bigint,
  sourceNext: bigint,
  targetNext: bigint,
  colExtreme: bigint | null,
  margin: bigint,
  sync: boolean,
): { result: SequenceResult; setTo?: string } {
  const ascending = increment > 0n;
  // The lowest next value (highest for descending) that collides with nothing seen on either side.
  let needed = sourceNext;
  if (colExtreme !== null) {
    const pastColumn = colExtreme + increment;
    if (ascending ? pastColumn > needed : pastColumn < needed) needed = pastColumn;
  }
  needed = ascending ? needed + margin : needed - margin;
  const behind = ascending ? targetNext < needed : targetNext > needed;
  const moved = sync && behind;
  return {
    result: {
      ...base,
      sourceNext: String(sourceNext),
      targetNext: String(moved ? needed : targetNext),
      targetColumnMax: colExtreme === null ? null : String(colExtreme),
      status: behind && !sync ? 'behind' : 'ok',
      ...(sync ? { action: moved ? ('set' as const) : ('unchanged' as const) } : {}),
    },
    ...(moved ? { setTo: String(needed - increment) } : {}),
  };
}

/**
 * All chosen sequences in a fixed number of round trips, whatever their number: one query reads every source
 * value; on the target one transaction takes every advisory lock (in name order), reads every value and column
 * extreme in one query and sets every sequence that is behind in one query. Throws on any error (the caller
 * then goes one sequence at a time, so that a failure names its sequence).
 */
async function runBatch(
  source: Pool,
  target: Pool,
  chosen: SeqRow[],
  targetByName: Map<string, SeqRow>,
  margin: bigint,
  sync: boolean,
): Promise<SequenceResult[]> {
  if (chosen.length === 0) return [];
  const src = await source.query<{ i: number; last_value: string; is_called: boolean }>(
    chosen
      .map(
        (s, i) =>
          `SELECT ${i}::int AS i, last_value::text AS last_value, is_called FROM ${qualify({ schema: s.schema, table: s.name })}`,
      )
      .join(' UNION ALL '),
  );
  const sourceState = new Map(src.rows.map((r) => [r.i, r]));
  const present = chosen
    .map((s, i) => ({ s, i, t: targetByName.get(seqKey(s.schema, s.name)) }))
    .filter((x): x is { s: SeqRow; i: number; t: SeqRow } => x.t !== undefined);
  const results: SequenceResult[] = [];
  // A failed client is destroyed rather than returned: it may still be inside the failed transaction.
  return withPooledClient(target, async (client) => {
    const targetState = new Map<number, { last_value: string; is_called: boolean; extreme: string | null }>();
    if (present.length > 0) {
      if (sync) {
        await client.query('BEGIN');
        // One sync at a time per sequence (sequences cannot be locked); name order, so syncs never deadlock.
        await client.query(
          `SELECT pg_advisory_xact_lock(x::regclass::oid::int8) FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n`,
          [present.map(({ s }) => qualify({ schema: s.schema, table: s.name }))],
        );
      }
      const tgt = await client.query<{ i: number; last_value: string; is_called: boolean; extreme: string | null }>(
        present
          .map(({ s, i, t }) => {
            const seq = qualify({ schema: s.schema, table: s.name });
            const extreme = extremeSql(t, BigInt(s.increment) > 0n) ?? 'NULL::text';
            return `SELECT ${i}::int AS i, q.last_value::text AS last_value, q.is_called, ${extreme} AS extreme FROM ${seq} q`;
          })
          .join(' UNION ALL '),
      );
      for (const r of tgt.rows) targetState.set(r.i, r);
    }
    const toSet: { name: string; value: string }[] = [];
    chosen.forEach((s, i) => {
      const base = describe(s);
      const sst = sourceState.get(i);
      if (!sst) throw new Error(`no source value read for ${base.sequence}`);
      const increment = BigInt(s.increment);
      const sourceNext = nextValue(sst.last_value, sst.is_called, increment);
      const tst = targetState.get(i);
      if (!targetByName.has(seqKey(s.schema, s.name))) {
        results.push(missingResult(base, sourceNext));
        return;
      }
      if (!tst) throw new Error(`no target value read for ${base.sequence}`);
      const colExtreme = extremeValue(tst.extreme);
      const targetNext = nextValue(tst.last_value, tst.is_called, increment)!;
      const { result, setTo } = assess(base, increment, sourceNext!, targetNext, colExtreme, margin, sync);
      if (setTo !== undefined) toSet.push({ name: qualify({ schema: s.schema, table: s.name }), value: setTo });
      results.push(result);
    });
    if (toSet.length > 0) {
      // setval(v, true): the next nextval() returns v + increment.
      await client.query(`SELECT setval(x::regclass, v::bigint, true) FROM unnest($1::text[], $2::text[]) AS u(x, v)`, [
        toSet.map((x) => x.name),
        toSet.map((x) => x.value),
      ]);
    }
    if (sync && present.length > 0) await client.query('COMMIT');
    return results;
  });
}

async function run(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: SequenceOptions,
  sync: boolean,
): Promise<SequenceReport> {
  const [src, tgt] = await Promise.all([listSequences(source), listSequences(target)]);
  const targetByName = new Map(tgt.map((s) => [seqKey(s.schema, s.name), s]));
  const margin = BigInt(options.margin ?? 0);
  const results: SequenceResult[] = [];
  const chosen = src
    .filter((s) => selected(selection, s))
    .sort((a, b) => (seqKey(a.schema, a.name) < seqKey(b.schema, b.name) ? -1 : 1));
  const one = async (s: SeqRow): Promise<void> => {
    const name = { schema: s.schema, table: s.name };
    const base = describe(s);
    const t = targetByName.get(seqKey(s.schema, s.name));
    try {
      const sst = await state(source, name);
      const increment = BigInt(s.increment);
      const sourceNext = nextValue(sst.last, sst.called, increment);
      if (!t) {
        results.push(missingResult(base, sourceNext));
        return;
      }
      const client = await target.connect();
      try {
        if (sync) {
          await client.query('BEGIN');
          // One sync at a time per sequence (sequences cannot be locked); concurrent nextval() is still fine.
          await client.query(`SELECT pg_advisory_xact_lock($1::regclass::oid::int8)`, [qualify(name)]);
        }
        const tst = await state(client, name);
        const colExtreme = await columnExtreme(client, t, increment > 0n);
        const targetNext = nextValue(tst.last, tst.called, increment)!;
        const { result, setTo } = assess(base, increment, sourceNext!, targetNext, colExtreme, margin, sync);
        if (sync) {
          if (setTo !== undefined) {
            await client.query(`SELECT setval($1::regclass, $2::bigint, true)`, [qualify(name), setTo]);
          }
          await client.query('COMMIT');
        }
        results.push(result);
      } catch (error) {
        if (sync) await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    } catch (error) {
      results.push({
        ...base,
        sourceNext: null,
        targetNext: null,
        targetColumnMax: null,
        status: 'error',
        error: (error as Error).message,
      });
    }
  };
  const batched = await runBatch(source, target, chosen, targetByName, margin, sync).catch(() => undefined);
  if (batched) results.push(...batched);
  // One sequence at a time when the batch failed: each failure is then reported with its own sequence.
  else for (const s of chosen) await one(s);
  return { ok: results.every((r) => r.status === 'ok'), synced: sync, sequences: results };
}

/** Compares every selected sequence: `behind` when the target would hand out a value already used. */
export function compareSequences(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: SequenceOptions = {},
): Promise<SequenceReport> {
  return run(source, target, selection, options, false);
}

/** Moves every selected target sequence forward past the source's value and its column's max. Idempotent. */
export function syncSequences(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: SequenceOptions = {},
): Promise<SequenceReport> {
  return run(source, target, selection, options, true);
}
