import { count, finding } from '../context';
import type { PreflightCheck } from '../types';

/** The workflow's change tracking needs a free logical replication slot on the target. */
export const targetReplicationSlots: PreflightCheck = {
  code: 'target-replication-slots',
  side: 'target',
  scope: 'server',
  severity: 'error',
  description: 'The target has a free replication slot for the workflow’s change tracking.',
  fix: 'Raise max_replication_slots on the target (Aurora: DB cluster parameter group; restart needed) or drop unused slots.',
  async run(ctx) {
    const s = await ctx.settings();
    const needed = count(ctx.options.trackingSlots, 1);
    const free = s.maxReplicationSlots - s.usedReplicationSlots;
    if (free >= needed) return [];
    return [
      finding(
        targetReplicationSlots,
        'target max_replication_slots',
        `${Math.max(free, 0)} free replication slot(s) on the target (${s.usedReplicationSlots} of ${s.maxReplicationSlots} in use); ` +
          `the workflow's change tracking needs ${needed}`,
      ),
    ];
  },
};
