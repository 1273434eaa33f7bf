import type { Pool, PoolClient } from 'pg';
import { withPooledClient } from '../pg/connection';
import { qualify } from '../pg/identifiers';
import { assess, describe, errorResult, missingResult, nextValue } from './assess';
import { extremeSql, extremeValue, guardColumns, withGuardNotes } from './column-guard';
import type { SequenceRow } from './list';
import type { SequenceResult } from '../validation/types';

async function state(client: Pool | PoolClient, name: string): Promise<{ last: string; called: boolean }> {
  const r = await client.query<{ last_value: string; is_called: boolean }>(
    `SELECT last_value::text AS last_value, is_called FROM ${name}`,
  );
  return { last: r.rows[0].last_value, called: r.rows[0].is_called };
}

/** One sequence on its own (after the batch failed), so that a failure is reported with its sequence. */
export async function runOne(
  source: Pool,
  target: Pool,
  s: SequenceRow,
  t: SequenceRow | undefined,
  margin: bigint,
  sync: boolean,
  skipUnindexed = false,
): Promise<SequenceResult> {
  const name = qualify({ schema: s.schema, table: s.name });
  const base = describe(s, t);
  try {
    const sst = await state(source, name);
    const sourceNext = nextValue(sst.last, sst.called, s.increment);
    if (!t) return missingResult(base, sourceNext);
    return await withPooledClient(target, async (client) => {
      if (sync) {
        await client.query('BEGIN');
        // One sync at a time per sequence (sequences cannot be locked); concurrent nextval() is still fine.
        await client.query(`SELECT pg_advisory_xact_lock($1::regclass::oid::int8)`, [name]);
      }
      const tst = await state(client, name);
      const [guard] = await guardColumns(client, [{ s, t }], skipUnindexed);
      const sql = extremeSql(guard.columns, s.increment > 0n);
      const extreme = sql
        ? extremeValue((await client.query<{ v: string | null }>(`SELECT ${sql} AS v`)).rows[0].v)
        : null;
      const targetNext = nextValue(tst.last, tst.called, s.increment)!;
      const { result, setTo } = assess(base, s.increment, sourceNext!, targetNext, extreme, margin, sync);
      if (sync) {
        if (setTo !== undefined) await client.query(`SELECT setval($1::regclass, $2::bigint, true)`, [name, setTo]);
        await client.query('COMMIT');
      }
      return withGuardNotes(result, guard);
    });
  } catch (error) {
    return errorResult(base, error);
  }
}
