import { finding } from '../context';
import type { PreflightCheck } from '../types';
import { PARTITION_SELECTION_RULE } from './partition-selected';

/** A selected partitioned table: its partitions come with it, and the target must be partitioned the same way. */
export const partitionedTable: PreflightCheck = {
  code: 'partitioned-table',
  side: 'source',
  scope: 'tables',
  severity: 'warning',
  description: `Selected partitioned tables (${PARTITION_SELECTION_RULE}); DMS writes each partition's rows to the partition of the same name on the target.`,
  fix: 'Create the same partitioned table and every partition on the target before the full load.',
  async run(ctx) {
    const catalog = await ctx.catalog();
    const partitioned = catalog.tables.filter((t) => t.kind === 'p');
    // PostgreSQL 12 publications take no partitioned table: change tracking publishes its partitions as they are.
    const v12 =
      partitioned.length > 0 && (await ctx.settings()).versionNum < 130000
        ? `; PostgreSQL ${(await ctx.settings()).version} publishes no partitioned table (13+): change tracking ` +
          'covers the partitions that exist when it starts, so attach no partition until the cutover is done'
        : '';
    return partitioned.map((t) =>
      finding(
        partitionedTable,
        t.display,
        `partitioned table: its partitions are selected, validated and tracked with it (${PARTITION_SELECTION_RULE}); DMS replicates each partition as a table of its own${v12}`,
      ),
    );
  },
};
