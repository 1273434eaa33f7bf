/**
 * Reads (peeks, never consumes) the changes a tracking slot holds, up to a bound, and returns the changed keys per
 * table. Reading again before `advance` returns the same changes, so a step that dies between reading and
 * advancing loses nothing.
 */
import type { Pool } from 'pg';
import { formatTableName, type TableName } from '../../../contract';
import { readCatalog } from '../catalog';
import { withPooledClient } from '../pg/connection';
import { quoteIdent } from '../pg/identifiers';
import { ChangedKeys, type PublishedTables } from './changed-keys';
import { maxLsn } from './lsn';
import { decodePgOutput } from './pgoutput-decoder';
import { assertSlotName } from './tracking-slot';
import type { TrackedChanges, TrackingSpec } from './types';

export interface ReadChangesOptions {
  /** Read nothing committed after this LSN (for the source: the final-sync marker's). @default the current WAL end */
  readonly uptoLsn?: string;
  /** Stop after the transaction during which this many rows were decoded (`upto_nchanges`). @default 10000 */
  readonly maxChanges?: number;
  /** Rows fetched from the server at a time. @default 1000 */
  readonly fetchRows?: number;
  /** Past this many distinct keys a table is flagged for range re-verification instead. @default 10000 */
  readonly maxKeysPerTable?: number;
  /** Key columns by display name; other tables use the validation key from the catalog. */
  readonly keyColumns?: Readonly<Record<string, string[]>>;
}

/**
 * The published relations (tables and partitions) by oid, which survives a rename, with the table each belongs to,
 * and the catalog (validation keys) of those tables; read before the cursor holds the connection.
 */
async function publishedTables(
  pool: Pool,
  publication: string,
  keyColumns: Readonly<Record<string, string[]>> = {},
): Promise<PublishedTables> {
  const { rows } = await pool.query<{ oid: number; schema: string; table: string }>(
    `SELECT c.oid::int8 AS oid, rn.nspname AS schema, r.relname AS table
       FROM pg_publication_tables p
       JOIN pg_namespace n ON n.nspname = p.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
       JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid)
       JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE p.pubname = $1`,
    [publication],
  );
  const roots = new Map<number, TableName>(rows.map((r) => [Number(r.oid), { schema: r.schema, table: r.table }]));
  // `%` in a name is a wildcard here; byName picks the exact table.
  const catalog = await readCatalog(pool, { include: [...roots.values()] });
  return {
    partitioned: catalog.tables.filter((t) => t.kind === 'p').map((t) => t.name),
    tableOf: (relationId) => roots.get(relationId),
    keyColumnsOf: (table) => keyColumns[formatTableName(table)] ?? catalog.byName(table)?.keyColumns ?? [],
  };
}

export async function readChanges(
  pool: Pool,
  spec: TrackingSpec,
  options: ReadChangesOptions = {},
): Promise<TrackedChanges> {
  assertSlotName(spec.slot);
  const maxChanges = Math.max(1, options.maxChanges ?? 10_000);
  const fetchRows = Math.max(1, options.fetchRows ?? 1000);
  const published = await publishedTables(pool, spec.publication, options.keyColumns);
  const collector = new ChangedKeys(published, Math.max(1, options.maxKeysPerTable ?? 10_000));

  return withPooledClient(pool, async (client) => {
    // Decoding only sees flushed WAL: never bound a read beyond it, or advancing to the bound would skip changes.
    const { rows } = await client.query<{ bound: string; short: boolean }>(
      `SELECT least(coalesce($1::pg_lsn, f), f)::text AS bound, coalesce($1::pg_lsn > f, false) AS short
         FROM pg_current_wal_flush_lsn() f`,
      [options.uptoLsn ?? null],
    );
    const { bound, short } = rows[0];
    let decodedRows = 0;
    let lastCommit: string | null = null;
    let inTransaction = false;
    await client.query('BEGIN');
    try {
      await client.query(
        `DECLARE zdm_tracked_changes NO SCROLL CURSOR FOR
           SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes(
             $1, $2::pg_lsn, $3, 'proto_version', '1', 'publication_names', $4)`,
        // publication_names is a list of identifiers: quoted, a name keeps its case and may hold commas.
        [spec.slot, bound, maxChanges, quoteIdent(spec.publication)],
      );
      for (;;) {
        const batch = await client.query<{ lsn: string; data: Buffer }>(
          `FETCH FORWARD ${fetchRows} FROM zdm_tracked_changes`,
        );
        for (const row of batch.rows) {
          const message = decodePgOutput(row.data);
          collector.add(message);
          if (message.tag === 'begin') inTransaction = true;
          if (message.tag === 'commit') {
            inTransaction = false;
            lastCommit = row.lsn;
          }
        }
        decodedRows += batch.rows.length;
        if (batch.rows.length < fetchRows) break;
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    // Cut short by the change budget: only whole transactions read so far are done. Otherwise all up to the bound is.
    const cut = decodedRows >= maxChanges || inTransaction;
    return {
      keysByTable: collector.result(),
      truncated: [...collector.truncated],
      changes: collector.changes,
      lastLsn: cut ? lastCommit : maxLsn(lastCommit, bound),
      more: cut || short,
    };
  });
}
