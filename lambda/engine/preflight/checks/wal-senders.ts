import { count, finding } from '../context';
import type { PreflightCheck } from '../types';

/** A DMS task streams changes through one WAL sender (change tracking reads its slot through SQL, without one). */
export const walSenders: PreflightCheck = {
  code: 'wal-senders',
  side: 'source',
  scope: 'server',
  severity: 'error',
  description: 'The source has a free WAL sender for the DMS replication connection (unless it runs already).',
  fix: 'Raise max_wal_senders (restart needed).',
  async run(ctx) {
    const s = await ctx.settings();
    const needed = count(ctx.options.replicationSlots, 1);
    const free = s.maxWalSenders - s.usedWalSenders;
    if (needed === 0 || free >= needed) return [];
    return [
      finding(
        walSenders,
        'max_wal_senders',
        `${Math.max(free, 0)} free WAL sender(s) (${s.usedWalSenders} of ${s.maxWalSenders} in use); DMS replication needs ${needed}`,
      ),
    ];
  },
};
