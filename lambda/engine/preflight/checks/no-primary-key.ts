import { finding } from '../context';
import type { PreflightCheck } from '../types';

/**
 * DMS applies UPDATEs and DELETEs by key, and validation compares rows by key: every selected table needs a primary
 * key, or REPLICA IDENTITY FULL with the explicit opt-in (then a warning: changes replicate slowly).
 */
export const noPrimaryKey: PreflightCheck = {
  code: 'no-primary-key',
  side: 'source',
  scope: 'tables',
  severity: 'error',
  description:
    'Every selected table has a primary key (or REPLICA IDENTITY FULL with allowReplicaIdentityFull / --allow-replica-identity-full).',
  fix: 'Add a primary key (ALTER TABLE ... ADD PRIMARY KEY), or set REPLICA IDENTITY FULL and opt in.',
  async run(ctx) {
    const catalog = await ctx.catalog();
    return catalog.tables
      .filter((t) => t.keySource !== 'primary-key')
      .map((t) => {
        const full = t.replicaIdentity === 'f';
        if (full && ctx.options.allowReplicaIdentityFull) {
          return finding(
            noPrimaryKey,
            t.display,
            'no primary key; REPLICA IDENTITY FULL accepted: updates and deletes replicate slowly',
            { severity: 'warning', action: 'Add a primary key when you can.' },
          );
        }
        return finding(
          noPrimaryKey,
          t.display,
          `no primary key${full ? ' (REPLICA IDENTITY FULL needs the explicit opt-in)' : ''}: DMS ignores its UPDATEs and DELETEs and cannot validate it`,
          full
            ? {
                action:
                  'Add a primary key, or opt in to REPLICA IDENTITY FULL (allowReplicaIdentityFull / --allow-replica-identity-full).',
              }
            : {},
        );
      });
  },
};
