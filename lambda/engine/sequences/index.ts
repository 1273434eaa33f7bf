/**
 * Sequences: DMS does not copy their values. Compare them, and set each target sequence past both the source's
 * value and the highest value on the target in every column that draws from it (its owner, identity columns, and
 * columns whose default calls nextval on it, owned or not). Never moves a sequence backwards; safe to run twice.
 *
 * A selection of tables selects the sequences those tables draw from (see `chooseSequences`); a selected table that
 * draws from a sequence the run cannot cover is reported as an `error` result, never as "OK".
 */
import type { Pool } from 'pg';
import type { TableSelection } from '../../../contract';
import { runBatch } from './batch';
import { chooseSequences, uncoveredUses } from './choose';
import { listSequences, seqKey } from './list';
import { runOne } from './one-at-a-time';
import type { SequenceOptions, SequenceReport, SequenceResult } from '../validation/types';

async function run(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: SequenceOptions,
  sync: boolean,
): Promise<SequenceReport> {
  const [src, tgt] = await Promise.all([listSequences(source), listSequences(target)]);
  const targetByKey = new Map(tgt.sequences.map((s) => [seqKey(s.schema, s.name), s]));
  const margin = BigInt(options.margin ?? 0);
  const chosen = chooseSequences(selection, src, tgt);
  const refused = uncoveredUses(selection, src, tgt, chosen);
  const skip = options.skipUnindexedColumns ?? false;
  let results = await runBatch(source, target, chosen, targetByKey, margin, sync, skip).catch(() => undefined);
  // One sequence at a time when the batch failed: each failure is then reported with its own sequence.
  if (!results) {
    results = [];
    for (const s of chosen) {
      results.push(await runOne(source, target, s, targetByKey.get(seqKey(s.schema, s.name)), margin, sync, skip));
    }
  }
  const sequences: SequenceResult[] = [...results, ...refused];
  return { ok: sequences.every((r) => r.status === 'ok'), synced: sync, sequences };
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

/** Moves every selected target sequence forward past the source's value and its columns' max. Idempotent. */
export function syncSequences(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: SequenceOptions = {},
): Promise<SequenceReport> {
  return run(source, target, selection, options, true);
}
