import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** Inactive slots, or slots far behind, keep WAL on the source's disk. */
export const replicationSlotRetainsWal: PreflightCheck = {
  code: 'replication-slot-retains-wal',
  side: 'source',
  scope: 'server',
  severity: 'warning',
  description: 'No replication slot is inactive or retains more than slotRetainedWalBytes (default 1 GiB) of WAL.',
  fix: 'Drop the slot if nothing uses it (SELECT pg_drop_replication_slot(...)); otherwise make its consumer catch up.',
  async run(ctx) {
    const limit = ctx.options.slotRetainedWalBytes ?? 1024 ** 3;
    const { rows } = await ctx.db.query<{ slot_name: string; active: boolean; retained: string | null }>(
      `SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained
         FROM pg_replication_slots ORDER BY slot_name`,
    );
    return rows
      .filter((sl) => !sl.active || Number(sl.retained ?? 0) > limit)
      .map((sl) =>
        finding(
          replicationSlotRetainsWal,
          `slot ${sl.slot_name}`,
          `${sl.active ? 'active' : 'inactive'} slot retains ${(Number(sl.retained ?? 0) / 1024 ** 2).toFixed(0)} MB of WAL`,
        ),
      );
  },
};
