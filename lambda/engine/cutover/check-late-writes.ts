import { formatTableName } from '../../../contract';
import { readChanges } from '../tracking';
import { getRecord, runPhase, withPools, type StepContext } from './common';
import { flushWal } from './change-tracking';

/**
 * After forward replication stopped: the source's tracking slot must show no change to a selected table after the
 * final-sync marker (the proof consumed it up to there). A change means a role that was not frozen wrote to the
 * source during or after the freeze: that write is not on the target. Reported loudly, with tables and keys; the
 * workflow is past the point of no return, so it does not roll back.
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
      return {
        result: { lateWrites: null, unknown: `the source tracking slot ${tracking.source.slot} no longer exists` },
        line: `late writes unknown: the source tracking slot ${tracking.source.slot} no longer exists.`,
      };
    }
    const changes = await withPools(ctx, async (pools) => {
      // Every commit so far must be seen.
      await flushWal(pools.source);
      return readChanges(pools.source, tracking.source, { maxChanges: 100_000 });
    });
    const tables = Object.values(changes.keysByTable).map((t) => ({
      table: formatTableName(t.table),
      keys: t.keys.slice(0, 10).map((k) => `(${t.keyColumns.join(', ')})=(${k.join(', ')})`),
      count: t.keys.length,
    }));
    const late = changes.changes + changes.truncated.length;
    if (late > 0) {
      const detail = tables
        .map((t) => `${t.table}: ${t.count} key(s) ${t.keys.join('; ')}`)
        .concat(changes.truncated.map((t) => `${t}: TRUNCATE`));
      await ctx.deps.notifier.notify(
        `zdm ${ctx.input.migrationId}: WRITES ON THE SOURCE AFTER THE FREEZE`,
        [
          `Migration ${ctx.input.migrationId}: ${late} change(s) reached selected tables on the source after the final-sync marker.`,
          `They were made by a role that was not frozen and are NOT on the target. Add that role to applicationRoles next time.`,
          ...detail.slice(0, 20),
        ].join('\n'),
        { migrationId: ctx.input.migrationId, mode: ctx.input.mode, phase: 'lateWrites', outcome: 'late-writes' },
      );
    }
    // The source slot is not advanced: its content stays for the operator until DropTracking.
    return {
      result: { lateWrites: late, tables: tables.slice(0, 20), truncated: changes.truncated },
      line:
        late === 0
          ? 'no selected table changed on the source after the marker.'
          : `${late} late write(s) found; see the separate notice.`,
    };
  });
}
