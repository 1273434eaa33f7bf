import type { Pool } from 'pg';
import { withPooledClient } from '../pg/connection';
import { qualify } from '../pg/identifiers';
import { queryEach } from '../pg/statements';
import { assess, describe, missingResult, nextValue } from './assess';
import { extremeSql, extremeValue, guardColumns, withGuardNotes, type Guard } from './column-guard';
import { seqKey, type SequenceRow } from './list';
import type { SequenceResult } from '../validation/types';

const nameOf = (s: SequenceRow): string => qualify({ schema: s.schema, table: s.name });

/**
 * All chosen sequences in a fixed number of round trips, whatever their number: one message reads every source
 * value; on the target one transaction takes every advisory lock (in name order), finds the columns to guard, reads
 * every value and column extreme in one message (a statement per sequence: see pg/statements.ts) and sets every
 * sequence that is behind in one query. Throws on any
 * error (the caller then goes one sequence at a time, so that a failure names its sequence).
 */
export async function runBatch(
  source: Pool,
  target: Pool,
  chosen: readonly SequenceRow[],
  targetByKey: ReadonlyMap<string, SequenceRow>,
  margin: bigint,
  sync: boolean,
  skipUnindexed = false,
): Promise<SequenceResult[]> {
  if (chosen.length === 0) return [];
  // The source (frozen: its values no longer move) is read while the target is locked and read.
  const reading = queryEach<{ i: number; last_value: string; is_called: boolean }>(
    source,
    chosen.map((s, i) => `SELECT ${i}::int AS i, last_value::text AS last_value, is_called FROM ${nameOf(s)}`),
  );
  reading.catch(() => undefined);
  const present = chosen
    .map((s, i) => ({ s, i, t: targetByKey.get(seqKey(s.schema, s.name)) }))
    .filter((x): x is { s: SequenceRow; i: number; t: SequenceRow } => x.t !== undefined);
  // A failed client is destroyed rather than returned: it may still be inside the failed transaction.
  return withPooledClient(target, async (client) => {
    const targetState = new Map<number, { last_value: string; is_called: boolean; extreme: string | null }>();
    const guardOf = new Map<number, Guard>();
    if (present.length > 0) {
      if (sync) {
        await client.query('BEGIN');
        // One sync at a time per sequence (sequences cannot be locked); name order, so syncs never deadlock.
        await client.query(
          `SELECT pg_advisory_xact_lock(x::regclass::oid::int8) FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n`,
          [present.map(({ s }) => nameOf(s))],
        );
      }
      const guards = await guardColumns(client, present, skipUnindexed);
      present.forEach(({ i }, n) => guardOf.set(i, guards[n]));
      const tgt = await queryEach<{ i: number; last_value: string; is_called: boolean; extreme: string | null }>(
        client,
        present.map(({ s, i }, n) => {
          const extreme = extremeSql(guards[n].columns, s.increment > 0n) ?? 'NULL::text';
          return `SELECT ${i}::int AS i, q.last_value::text AS last_value, q.is_called, ${extreme} AS extreme FROM ${nameOf(s)} q`;
        }),
      );
      for (const r of tgt.flat()) targetState.set(r.i, r);
    }
    const sourceState = new Map((await reading).flat().map((r) => [r.i, r]));
    const results: SequenceResult[] = [];
    const toSet: { name: string; value: string }[] = [];
    chosen.forEach((s, i) => {
      const t = targetByKey.get(seqKey(s.schema, s.name));
      const base = describe(s, t);
      const sst = sourceState.get(i);
      if (!sst) throw new Error(`no source value read for ${base.sequence}`);
      const sourceNext = nextValue(sst.last_value, sst.is_called, s.increment);
      if (!t) {
        results.push(missingResult(base, sourceNext));
        return;
      }
      const tst = targetState.get(i);
      if (!tst) throw new Error(`no target value read for ${base.sequence}`);
      const targetNext = nextValue(tst.last_value, tst.is_called, s.increment)!;
      const colExtreme = extremeValue(tst.extreme);
      const { result, setTo } = assess(base, s.increment, sourceNext!, targetNext, colExtreme, margin, sync);
      if (setTo !== undefined) toSet.push({ name: nameOf(s), value: setTo });
      results.push(withGuardNotes(result, guardOf.get(i)!));
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
