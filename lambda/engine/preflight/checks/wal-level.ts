import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** DMS change data capture decodes the WAL: the source must write logical WAL. */
export const walLevel: PreflightCheck = {
  code: 'wal-level',
  side: 'source',
  scope: 'server',
  severity: 'error',
  description: 'wal_level is logical on the source, so DMS can capture changes.',
  fix: 'Set wal_level = logical (on RDS and Aurora: rds.logical_replication = 1 in the parameter group) and restart the server.',
  async run(ctx) {
    const s = await ctx.settings();
    return s.walLevel === 'logical'
      ? []
      : [finding(walLevel, 'wal_level', `wal_level is ${s.walLevel}; change data capture needs logical`)];
  },
};
