/**
 * Partitions have ONE way to be selected: through their partitioned table. Preflight, validation and the CLI all
 * read a partitioned table together with its partitions (the catalog lists partitioned tables, never partitions), and
 * change tracking publishes partitions via their root. A rule that selects a partition without its partitioned
 * table would be silently ignored, so it is an error here, and the CLI refuses it with the same words.
 */
import type { Pool } from 'pg';
import { finding } from '../context';
import { listBounded } from '../../helpers';
import type { PreflightCheck } from '../types';
import { formatTableName, isSelected, type TableName, type TableSelection } from '../../../../contract';

/** The one wording of the rule, shared by preflight findings and CLI messages. */
export const PARTITION_SELECTION_RULE = 'select the partitioned table: its partitions follow it';

export interface SelectedPartitions {
  /** The partitioned table (the root of the partition tree) that is not selected. */
  readonly root: TableName;
  /** Its partitions the selection names. */
  readonly partitions: TableName[];
}

/** Partitions the selection matches while their partitioned table is not selected, grouped by partitioned table. */
export async function selectedPartitions(db: Pool, selection: TableSelection): Promise<SelectedPartitions[]> {
  const { rows } = await db.query<{ schema: string; table: string; root_schema: string; root_table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table, rn.nspname AS root_schema, r.relname AS root_table
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class r ON r.oid = pg_partition_root(c.oid)
       JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE c.relispartition AND c.relkind IN ('r', 'p')
      ORDER BY rn.nspname, r.relname, n.nspname, c.relname`,
  );
  const byRoot = new Map<string, SelectedPartitions>();
  for (const r of rows) {
    const partition = { schema: r.schema, table: r.table };
    const root = { schema: r.root_schema, table: r.root_table };
    if (!isSelected(selection, partition) || isSelected(selection, root)) continue;
    const key = JSON.stringify([root.schema, root.table]);
    const entry = byRoot.get(key) ?? { root, partitions: [] };
    entry.partitions.push(partition);
    byRoot.set(key, entry);
  }
  return [...byRoot.values()];
}

/** `public.orders_2024 is a partition of public.orders: select the partitioned table: its partitions follow it` */
export function partitionSelectedMessage(entry: SelectedPartitions): string {
  const names = entry.partitions.map(formatTableName);
  const what = names.length === 1 ? `${names[0]} is a partition` : `${listBounded(names, 5)} are partitions`;
  return `${what} of ${formatTableName(entry.root)}, which the selection leaves out: ${PARTITION_SELECTION_RULE}`;
}

export const partitionSelected: PreflightCheck = {
  code: 'partition-selected',
  side: 'source',
  scope: 'tables',
  severity: 'error',
  description: `The selection names no partition without its partitioned table (${PARTITION_SELECTION_RULE}).`,
  fix: 'Include the partitioned table (schema.table of the root) instead of its partitions, or exclude the whole tree.',
  async run(ctx) {
    const found = await selectedPartitions(ctx.db, ctx.selection);
    return found.map((entry) =>
      finding(partitionSelected, formatTableName(entry.root), partitionSelectedMessage(entry), {
        action: `Include ${formatTableName(entry.root)} instead of its partitions (${PARTITION_SELECTION_RULE}), or leave the whole table out.`,
      }),
    );
  },
};
