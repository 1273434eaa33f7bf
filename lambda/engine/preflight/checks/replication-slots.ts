import { count, finding } from '../context';
import type { PreflightCheck } from '../types';

/** DMS needs one logical replication slot, the workflow's change tracking one more on the source. */
export const replicationSlots: PreflightCheck = {
  code: 'replication-slots',
  side: 'source',
  scope: 'server',
  severity: 'error',
  description:
    'The source has a free replication slot for DMS (unless it runs already) and one for the workflow’s own change tracking.',
  fix: 'Raise max_replication_slots (restart needed) or drop unused slots (SELECT pg_drop_replication_slot(...)).',
  async run(ctx) {
    const s = await ctx.settings();
    const dms = count(ctx.options.replicationSlots, 1);
    const tracking = count(ctx.options.trackingSlots, 1);
    const needed = dms + tracking;
    const free = s.maxReplicationSlots - s.usedReplicationSlots;
    if (free >= needed) return [];
    return [
      finding(
        replicationSlots,
        'max_replication_slots',
        `${Math.max(free, 0)} free replication slot(s) (${s.usedReplicationSlots} of ${s.maxReplicationSlots} in use); ` +
          `the migration needs ${needed}: ${dms} for DMS replication and ${tracking} for the workflow's change tracking`,
      ),
    ];
  },
};
