/**
 * The first pass of a full validation: each side's table read in block ranges (`ctid >= '(a,0)' AND ctid <
 * '(b,0)'`, a TID Range Scan: sequential reads, no index), its count and hash sum added up per table.
 *
 * A key range reads through the primary key's index, about 20% slower than a sequential read of the same rows. The
 * block ranges of the two sides hold different rows (their physical layouts differ), so only the table's totals are
 * compared: a table whose totals agree is a match; one whose totals differ goes to the key ranges, which find its
 * differing rows (and decide the verdict: rows that moved between blocks while they were read, under live writes,
 * can make the totals differ although the tables agree).
 *
 * TID Range Scans exist from PostgreSQL 14; with an older side, every table goes to the key ranges.
 */
import type { Pool } from 'pg';
import { fromTable, type Catalog, type TableInfo } from '../catalog';
import { mapLimit } from '../helpers';
import { contextFromCatalogs, type Checksum, type TableContext } from './table-checksum';
import type { ColumnRef, HashMethod, RowFilter } from './types';
import { filterCondition, type Side } from './key-ranges';

/** The first server version with TID Range Scans. */
export const TID_RANGE_SCAN_VERSION = 140000;
/** Rows a block is assumed to hold when a table has never been analyzed. */
const ROWS_PER_BLOCK_UNKNOWN = 100;

/** Whether both sides can read block ranges without scanning the whole table for each. */
export function blockScanPossible(source: Catalog, target: Catalog): boolean {
  return source.serverVersionNum >= TID_RANGE_SCAN_VERSION && target.serverVersionNum >= TID_RANGE_SCAN_VERSION;
}

/** A table's size on one side now: its largest heap (a partition, for a partitioned table) and all heaps together. */
export interface TableBlocks {
  readonly maxBlocks: number;
  readonly totalBlocks: number;
  /** Every partition is a plain table (a foreign partition has no blocks to range over). */
  readonly heapsOnly: boolean;
}

/** Current heap sizes (not `relpages`, which is as old as the last VACUUM) of the given tables, by OID. */
export async function readTableBlocks(pool: Pool, tables: readonly TableInfo[]): Promise<Map<number, TableBlocks>> {
  if (tables.length === 0) return new Map();
  // A plain table is its own heap; a partitioned table's heaps are the leaves of its partition tree.
  const r = await pool.query<{ oid: number; max: string; total: string; heaps: boolean }>(
    `SELECT c.oid::int AS oid,
            coalesce(max(pg_relation_size(l.oid)), 0) / current_setting('block_size')::int8 AS max,
            coalesce(sum(pg_relation_size(l.oid)), 0) / current_setting('block_size')::int8 AS total,
            coalesce(bool_and(l.relkind = 'r'), true) AS heaps
       FROM pg_class c
       LEFT JOIN LATERAL (
         SELECT c.oid AS relid WHERE c.relkind = 'r'
         UNION ALL
         SELECT pt.relid FROM pg_partition_tree(c.oid) pt WHERE c.relkind = 'p' AND pt.isleaf) leaf ON true
       LEFT JOIN pg_class l ON l.oid = leaf.relid
      WHERE c.oid = ANY($1::oid[])
      GROUP BY c.oid`,
    [tables.map((t) => t.oid)],
  );
  return new Map(
    r.rows.map((row) => [
      row.oid,
      { maxBlocks: Number(row.max), totalBlocks: Number(row.total), heapsOnly: row.heaps },
    ]),
  );
}

/** The tables both sides can read by block ranges, with their sizes now; none when a side is older than 14. */
export async function blockScanTables(
  source: Pool,
  target: Pool,
  catalogs: { source: Catalog; target: Catalog },
  enabled: boolean,
  exactNumeric: boolean,
  hashMethod: HashMethod,
  excludeColumns?: readonly ColumnRef[],
  rowFilters?: readonly RowFilter[],
): Promise<BlockScanTable[]> {
  if (!enabled || !blockScanPossible(catalogs.source, catalogs.target)) return [];
  const contexts = catalogs.source.tables
    .map((t) =>
      contextFromCatalogs(
        t.name,
        catalogs.source,
        catalogs.target,
        undefined,
        exactNumeric,
        hashMethod,
        excludeColumns,
        rowFilters,
      ),
    )
    .filter((c): c is TableContext => !('error' in c));
  const [sourceBlocks, targetBlocks] = await Promise.all([
    readTableBlocks(
      source,
      contexts.map((c) => c.source.table),
    ),
    readTableBlocks(
      target,
      contexts.map((c) => c.target.table),
    ),
  ]);
  const empty = { maxBlocks: 0, totalBlocks: 0, heapsOnly: true };
  return contexts
    .map((context) => ({
      context,
      sourceBlocks: sourceBlocks.get(context.source.table.oid) ?? empty,
      targetBlocks: targetBlocks.get(context.target.table.oid) ?? empty,
      estimatedRows: context.source.table.estimatedRows,
    }))
    .filter((t) => t.sourceBlocks.heapsOnly && t.targetBlocks.heapsOnly);
}

/** One block range `[lower, upper)`; a missing bound is open (the last one takes blocks added since planning). */
export interface BlockRange {
  readonly lower?: number;
  readonly upper?: number;
}

/**
 * Cuts `[0, maxBlocks)` into ranges of about `rangeRows` rows. A partitioned table's range applies to each of its
 * partitions, so it is sized by the rows all partitions hold in that many blocks.
 */
export function blockRanges(blocks: TableBlocks, estimatedRows: number, rangeRows: number): BlockRange[] {
  const rows = estimatedRows > 0 ? estimatedRows : blocks.totalBlocks * ROWS_PER_BLOCK_UNKNOWN;
  const count = Math.min(Math.max(1, blocks.maxBlocks), Math.max(1, Math.ceil(rows / Math.max(1, rangeRows))));
  if (count === 1) return [{}];
  const step = Math.ceil(blocks.maxBlocks / count);
  const ranges: BlockRange[] = [];
  for (let lower = 0; lower < blocks.maxBlocks; lower += step) {
    const upper = lower + step;
    ranges.push({ ...(lower > 0 ? { lower } : {}), ...(upper < blocks.maxBlocks ? { upper } : {}) });
  }
  return ranges;
}

/** Count and hash sum of one side's rows in a block range. */
export async function blockChecksum(pool: Pool, side: Side, hash: string, range: BlockRange): Promise<Checksum> {
  const conds: string[] = [];
  const params: string[] = [];
  if (range.lower !== undefined) conds.push(`t.ctid >= $${params.push(`(${range.lower},0)`)}::tid`);
  if (range.upper !== undefined) conds.push(`t.ctid < $${params.push(`(${range.upper},0)`)}::tid`);
  const filter = filterCondition(side);
  if (filter) conds.push(filter);
  const r = await pool.query<{ n: string; s: string }>(
    `SELECT count(*) AS n, coalesce(sum(${hash}), 0)::text AS s FROM ${fromTable(side.table)} t` +
      (conds.length ? ` WHERE ${conds.join(' AND ')}` : ''),
    params,
  );
  return { rows: Number(r.rows[0].n), sum: r.rows[0].s };
}

/** A table's totals on both sides, or why they could not be read. */
export interface BlockTotals {
  readonly context: TableContext;
  readonly source: Checksum;
  readonly target: Checksum;
  /** Block ranges read on the side that needed more. */
  readonly ranges: number;
  /** From the table's first range query to its last. */
  readonly durationMs: number;
  readonly error?: string;
}

/** A table to read by blocks: its context and each side's current size. */
export interface BlockScanTable {
  readonly context: TableContext;
  readonly sourceBlocks: TableBlocks;
  readonly targetBlocks: TableBlocks;
  /** Rows expected on each side (the source's estimate). */
  readonly estimatedRows: number;
}

export interface BlockScanOptions {
  readonly rangeRows: number;
  /** Queries in flight per database. */
  readonly concurrency: number;
  /** After each range query: ranges done of all, and the estimated rows it covered (on one side). */
  readonly onRange?: (done: number, total: number, rows: number, table: string) => void;
}

interface SideTask {
  readonly table: number;
  readonly range: BlockRange;
  readonly rows: number;
}

interface SideSum {
  rows: number;
  sum: bigint;
  ranges: number;
}

/** Reads every given table on both sides in block ranges; each side runs `concurrency` queries at once. */
export async function scanTablesByBlocks(
  source: Pool,
  target: Pool,
  tables: readonly BlockScanTable[],
  options: BlockScanOptions,
): Promise<BlockTotals[]> {
  // Both sides are cut by the source's row estimate: the target's statistics may not exist yet after a load.
  const plan = (side: 'sourceBlocks' | 'targetBlocks'): SideTask[] =>
    tables.flatMap((t, table) => {
      const ranges = blockRanges(t[side], t.estimatedRows, options.rangeRows);
      return ranges.map((range) => ({ table, range, rows: Math.max(0, t.estimatedRows) / ranges.length }));
    });
  const sourceTasks = plan('sourceBlocks');
  const targetTasks = plan('targetBlocks');
  const total = sourceTasks.length + targetTasks.length;
  let done = 0;
  const acc = tables.map(() => ({
    source: { rows: 0, sum: 0n, ranges: 0 } as SideSum,
    target: { rows: 0, sum: 0n, ranges: 0 } as SideSum,
    first: Infinity,
    last: 0,
    error: undefined as string | undefined,
  }));
  const run = (pool: Pool, side: 'source' | 'target', tasks: SideTask[]): Promise<void[]> =>
    mapLimit(tasks, options.concurrency, async (task) => {
      const ctx = tables[task.table].context;
      const a = acc[task.table];
      a.first = Math.min(a.first, Date.now());
      try {
        if (a.error) return;
        const c = await blockChecksum(pool, ctx[side], side === 'source' ? ctx.sourceHash : ctx.targetHash, task.range);
        a[side].rows += c.rows;
        a[side].sum += BigInt(c.sum);
        a[side].ranges++;
      } catch (error) {
        a.error ??= `${ctx.display}: ${(error as Error).message}`;
      } finally {
        a.last = Date.now();
        done++;
        options.onRange?.(done, total, task.rows, ctx.display);
      }
    });
  await Promise.all([run(source, 'source', sourceTasks), run(target, 'target', targetTasks)]);
  return tables.map(({ context }, i) => {
    const a = acc[i];
    return {
      context,
      source: { rows: a.source.rows, sum: a.source.sum.toString() },
      target: { rows: a.target.rows, sum: a.target.sum.toString() },
      ranges: Math.max(a.source.ranges, a.target.ranges),
      durationMs: Math.max(0, a.last - a.first),
      ...(a.error ? { error: a.error } : {}),
    };
  });
}
