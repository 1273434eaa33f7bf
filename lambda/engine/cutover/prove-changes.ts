import { CutoverError, ERRORS } from '../../../contract';
import { getRecord, runPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { verifyTrackedChanges } from './change-tracking';
import { describeConfirmed } from './describe-differences';
import { sleep } from '../helpers';

/** Reads of one slot in the proof are bounded; past this many rounds the proof fails (and rolls back). */
const MAX_ROUNDS = 100;

/**
 * The in-freeze proof, O(changes) not O(data): after the final-sync marker arrived, consumes the source's tracked
 * changes up to the marker and the target's up to now, and re-verifies those keys together with the pending ones.
 * Nothing is in flight any more (the source is frozen and the target has the marker), so any key that still
 * differs — or a table that cannot be checked — is a difference: the cutover rolls back, nothing switched.
 */
export async function proveChanges(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'changeProof', async () => {
    const record = await getRecord(ctx);
    const markerLsn = ctx.input.mode === 'execute' ? finalSyncLsn(record.phases.finalSync?.summary) : undefined;
    if (ctx.input.mode === 'execute' && !markerLsn) {
      throw new Error('the change proof needs the final-sync marker position: the finalSync phase has not run');
    }
    const started = Date.now();
    let keys = 0;
    let changes = 0;
    const rangeChecked: string[] = [];
    const outcome = await withPools(ctx, async (pools) => {
      for (let round = 1; ; round++) {
        // A dry run froze nothing: keys still in flight stay pending, only differences past the delay count.
        const r = await verifyTrackedChanges(ctx, pools, {
          sourceUptoLsn: markerLsn,
          final: Boolean(markerLsn),
          // Everything the target committed so far (its apply may not have flushed the last of it yet), in the
          // reads' first round trip.
          flush: round === 1,
        });
        keys += r.keysVerified;
        changes += r.changesRead;
        rangeChecked.push(...r.rangeChecked);
        if (r.confirmed.length > 0)
          return { differences: r.confirmed, described: await describeConfirmed(pools, r.confirmed) };
        if (!r.more) return { differences: [], described: '' };
        // A bound not flushed yet: WAL is flushed within wal_writer_delay (200 ms by default).
        if (r.changesRead === 0) await sleep(10);
        if (round >= MAX_ROUNDS)
          throw new Error(`the change proof read ${changes} changes in ${round} rounds and did not reach the marker`);
      }
    });
    const summary = {
      keysVerified: keys,
      changesRead: changes,
      rangeChecked,
      ...(markerLsn ? { markerLsn } : {}),
      durationMs: Date.now() - started,
    };
    if (outcome.differences.length > 0) {
      throw new CutoverError(
        ERRORS.validationFailed,
        `the change proof found rows that differ after the final sync: ${outcome.described}`,
      );
    }
    return {
      result: summary,
      line: `every row changed since tracking started is equal on both sides (${keys} key(s) re-verified, ${changes} change(s) read${
        rangeChecked.length ? `, ${rangeChecked.join(', ')} re-verified by ranges` : ''
      }).`,
    };
  });
}

function finalSyncLsn(summary: Record<string, unknown> | undefined): string | undefined {
  return typeof summary?.sourceLsn === 'string' ? summary.sourceLsn : undefined;
}
