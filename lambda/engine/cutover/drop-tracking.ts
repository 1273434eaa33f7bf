import { runPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { dropChangeTracking } from './change-tracking';
import { failLateWrites, readLateWrites } from './check-late-writes';

/**
 * Drops the tracking slots and publications on both sides (they retain WAL). Fails naming what is left.
 *
 * After an executed switch the source's slot is the evidence that nothing reached the source after the marker: it is
 * read once more (the last look before it goes), and a change found now fails the execution as late writes, keeping it.
 */
export async function dropTrackingStep(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'dropTracking', () =>
    withPools(ctx, async (pools) => {
      const record = await ctx.deps.state.get(ctx.key);
      const tracking = record?.tracking;
      // With the way back started, the reverse replication writes on the source by design: CheckLateWrites (before it
      // started) was the last look; from then on the way back's own watch reports writes there.
      const afterSwitch =
        ctx.input.mode === 'execute' && Boolean(record?.pointOfNoReturn) && !record?.reverse?.startedAt;
      if (afterSwitch && tracking && !tracking.droppedAt) {
        const exists = await pools.source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [
          tracking.source.slot,
        ]);
        if (exists.rowCount) {
          const late = await readLateWrites(ctx, tracking.source);
          if (late.count > 0)
            await failLateWrites(ctx, late, tracking.source.slot, 'found before dropping the tracking');
        }
      }
      const { dropped, left } = await dropChangeTracking(ctx, pools);
      if (left.length > 0) throw new Error(`could not drop ${left.join(', ')}: it retains WAL until dropped`);
      return {
        result: { dropped },
        line: dropped.length ? `dropped ${dropped.join(', ')}.` : 'no tracking slot was left.',
      };
    }),
  );
}
