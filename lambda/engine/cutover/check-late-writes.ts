import { CutoverError, ERRORS, formatTableName } from '../../../contract';
import { readChanges } from '../tracking';
import type { TrackedChanges } from '../tracking/types';
import { getRecord, runPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { flushWal } from './change-tracking';
import { describeWriter, waitForWritersInFlight, type WriterInFlight } from './writers-in-flight';

/** Changes read from the source's tracking slot past the marker, at most. */
const MAX_LATE_CHANGES = 100_000;

export interface LateWrites {
  /** Row changes and TRUNCATEs after the marker, plus transactions still writing (they would commit late). */
  readonly count: number;
  readonly tables: { table: string; keys: string[]; count: number }[];
  readonly truncated: string[];
  readonly writers: WriterInFlight[];
}

/**
 * Everything that reached a selected table on the source after the final-sync marker, read from the source's tracking
 * slot (the proof consumed it up to the marker; it is never advanced past it), after waiting (bounded) for write
 * transactions still open there: those would commit after this look and count as late too.
 */
export async function readLateWrites(ctx: StepContext, slot: { slot: string; publication: string; startLsn: string }) {
  return withPools(ctx, async (pools): Promise<LateWrites> => {
    const client = await pools.source.connect();
    let writers: WriterInFlight[];
    try {
      writers = (await waitForWritersInFlight(client, ctx.deps.tables, ctx.input.writersInFlightSeconds * 1000)).left;
    } finally {
      client.release();
    }
    // Every commit so far must be seen.
    await flushWal(pools.source);
    const changes: TrackedChanges = await readChanges(pools.source, slot, { maxChanges: MAX_LATE_CHANGES });
    const tables = Object.values(changes.keysByTable).map((t) => ({
      table: formatTableName(t.table),
      keys: t.keys.slice(0, 10).map((k) => `(${t.keyColumns.join(', ')})=(${k.join(', ')})`),
      count: t.keys.length,
    }));
    return {
      count: changes.changes + changes.truncated.length + writers.length,
      tables: tables.slice(0, 20),
      truncated: changes.truncated,
      writers,
    };
  });
}

/** One bounded text: tables with their keys, TRUNCATEs, writers still open. */
export function describeLateWrites(late: LateWrites): string[] {
  return late.tables
    .map((t) => `${t.table}: ${t.count} key(s) ${t.keys.join('; ')}`)
    .concat(late.truncated.map((t) => `${t}: TRUNCATE`))
    .concat(late.writers.map((w) => `still writing (would commit late): ${describeWriter(w)}`))
    .slice(0, 20);
}

/**
 * Notifies and fails (ZdmLateWrites): a change after the marker is not on the target. Past the point of no return the
 * workflow does not roll back; the execution ends in LateWritesFound, the source's tracking slot is kept (it holds
 * the late changes) and the notice says what to do.
 */
export async function failLateWrites(ctx: StepContext, late: LateWrites, slot: string, when: string): Promise<never> {
  const detail = describeLateWrites(late);
  await ctx.deps.notifier.notify(
    `zdm ${ctx.input.migrationId}: WRITES ON THE SOURCE AFTER THE FREEZE`,
    [
      `Migration ${ctx.input.migrationId}: ${late.count} change(s) reached selected tables on the source after the final-sync marker (${when}).`,
      `They were made by a role that was not frozen and are NOT on the target. Copy them to the target, and add that role to applicationRoles next time.`,
      `The source's tracking slot ${slot} is kept: it holds these changes (read them with pg_logical_slot_peek_binary_changes) and retains WAL until you drop it (SELECT pg_drop_replication_slot('${slot}')).`,
      ...detail,
    ].join('\n'),
    { migrationId: ctx.input.migrationId, mode: ctx.input.mode, phase: 'lateWrites', outcome: 'late-writes' },
  );
  throw new CutoverError(
    ERRORS.lateWrites,
    `${late.count} change(s) reached the source after the final-sync marker (${when}) and are not on the target: ${detail
      .slice(0, 5)
      .join('; ')}`.slice(0, 2000),
  );
}

/**
 * After forward replication stopped: the source's tracking slot must show no change to a selected table after the
 * final-sync marker, and no transaction may still be writing one. Otherwise a role that was not frozen wrote to the
 * source during or after the freeze: that write is not on the target. The execution fails loudly (LateWritesFound);
 * the workflow is past the point of no return, so it does not roll back.
 */
export async function checkLateWrites(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'lateWrites', async () => {
    if (ctx.input.mode === 'dry-run') {
      return {
        result: { dryRun: true },
        line: 'nothing was frozen in a dry run; late writes are not checked.',
        status: 'skipped',
      };
    }
    const tracking = (await getRecord(ctx)).tracking;
    if (!tracking) throw new Error('change tracking was not started for this migration');
    const slot = await withPools(ctx, (pools) =>
      pools.source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [tracking.source.slot]),
    );
    if (slot.rowCount === 0) {
      // Unknown is not zero: nothing can show the source unchanged any more.
      throw new Error(
        `late writes unknown: the source tracking slot ${tracking.source.slot} no longer exists (dropped by hand?), ` +
          `so nothing shows that the source did not change after the final-sync marker`,
      );
    }
    const late = await readLateWrites(ctx, tracking.source);
    if (late.count > 0) await failLateWrites(ctx, late, tracking.source.slot, 'found after the stop');
    // The source slot is not advanced: DropTracking reads it once more before dropping it.
    return {
      result: { lateWrites: 0, tables: [], truncated: [] },
      line: 'no selected table changed on the source after the marker, and no transaction is writing one.',
    };
  });
}
