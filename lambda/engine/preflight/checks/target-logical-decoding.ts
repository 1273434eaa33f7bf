import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** The workflow's change tracking keeps a logical slot on the target too: the target must write logical WAL. */
export const targetLogicalDecoding: PreflightCheck = {
  code: 'target-logical-decoding',
  side: 'target',
  scope: 'server',
  severity: 'error',
  description: 'The target allows logical decoding (wal_level = logical; on Aurora rds.logical_replication = 1).',
  fix: 'On Aurora set rds.logical_replication = 1 in the DB cluster parameter group and reboot the writer; elsewhere set wal_level = logical and restart.',
  async run(ctx) {
    const s = await ctx.settings();
    const rds = s.rdsLogicalReplication?.toLowerCase();
    if (s.walLevel === 'logical' || rds === 'on' || rds === '1') return [];
    return [
      finding(
        targetLogicalDecoding,
        'target wal_level',
        `wal_level is ${s.walLevel}${s.rdsLogicalReplication !== null ? ` and rds.logical_replication is ${s.rdsLogicalReplication}` : ''} on the target; ` +
          `change tracking on the target needs logical decoding`,
      ),
    ];
  },
};
