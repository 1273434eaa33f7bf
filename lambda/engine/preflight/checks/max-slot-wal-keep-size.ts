import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** A small max_slot_wal_keep_size invalidates a slot that falls behind (DMS must then reload everything). */
export const maxSlotWalKeepSize: PreflightCheck = {
  code: 'max-slot-wal-keep-size',
  side: 'source',
  scope: 'server',
  severity: 'warning',
  description: 'max_slot_wal_keep_size is unlimited or at least 10 GB, so a lagging slot is not invalidated.',
  fix: 'Raise max_slot_wal_keep_size (or -1) for the migration, and watch free disk space instead.',
  async run(ctx) {
    const mb = (await ctx.settings()).maxSlotWalKeepSizeMb;
    return mb >= 0 && mb < 10 * 1024
      ? [
          finding(
            maxSlotWalKeepSize,
            'max_slot_wal_keep_size',
            `max_slot_wal_keep_size is ${mb} MB: a slot that falls further behind is invalidated and the task must reload`,
          ),
        ]
      : [];
  },
};
