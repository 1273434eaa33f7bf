import { runPhase, withPools, type StepContext } from './common';
import { dropChangeTracking } from './change-tracking';

/** Drops the tracking slots and publications on both sides (they retain WAL). Fails naming what is left. */
export async function dropTrackingStep(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'dropTracking', () =>
    withPools(ctx, async (pools) => {
      const { dropped, left } = await dropChangeTracking(ctx, pools);
      if (left.length > 0) throw new Error(`could not drop ${left.join(', ')}: it retains WAL until dropped`);
      return {
        result: { dropped },
        line: dropped.length ? `dropped ${dropped.join(', ')}.` : 'no tracking slot was left.',
      };
    }),
  );
}
