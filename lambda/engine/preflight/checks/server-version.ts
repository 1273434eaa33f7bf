import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** PostgreSQL 12 or later: logical decoding of partitions, generated columns and the catalog functions used here. */
export const serverVersion: PreflightCheck = {
  code: 'server-version',
  side: 'source',
  scope: 'server',
  severity: 'error',
  description: 'The source runs PostgreSQL 12 or later.',
  fix: 'Upgrade the source to PostgreSQL 12 or later before migrating.',
  async run(ctx) {
    const s = await ctx.settings();
    return s.versionNum < 120000
      ? [
          finding(
            serverVersion,
            'server_version',
            `PostgreSQL ${s.version} is older than 12 (table checks were skipped)`,
          ),
        ]
      : [];
  },
};
