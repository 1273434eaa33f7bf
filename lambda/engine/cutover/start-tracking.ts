import { runPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { startChangeTracking } from './change-tracking';

/**
 * Starts change tracking on both sides before pre-validation: from here on, every key changed on the source or
 * the target is re-verified before the switch. Creates the workflow's own publication and `pgoutput` slot on each
 * side (a dry run too: they are dropped when it ends). Idempotent.
 */
export async function startTrackingStep(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'startTracking', () =>
    withPools(ctx, async (pools) => {
      const record = await startChangeTracking(ctx, pools);
      return {
        result: {
          sourceSlot: record.source.slot,
          sourceLsn: record.source.startLsn,
          targetSlot: record.target.slot,
          targetLsn: record.target.startLsn,
        },
        line: `change tracking started: slot ${record.source.slot} on the source (from ${record.source.startLsn}), ${record.target.slot} on the target (from ${record.target.startLsn}).`,
      };
    }),
  );
}
