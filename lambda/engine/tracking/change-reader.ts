/**
 * Reads (peeks, never consumes) the changes a tracking slot holds, up to a bound, and returns the changed keys per
 * table. Reading again before `advance` returns the same changes, so a step that dies between reading and
 * advancing loses nothing.
 */
import type { Pool, PoolClient, QueryResult } from 'pg';
import { formatTableName, type TableName } from '../../../contract';
import { readCatalog } from '../catalog';
import { withPooledClient } from '../pg/connection';
import { quoteIdent, quoteLiteral } from '../pg/identifiers';
import { catalogSignature, SignedCache } from './catalog-signature';
import { ChangedKeys, type PublishedTables } from './changed-keys';
import { maxLsn, parseLsn } from './lsn';
import { decodePgOutput } from './pgoutput-decoder';
import { assertSlotName, FLUSH_SQL, flushFailed, flushRefused, waitForFlush } from './tracking-slot';
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
  /**
   * Decode on this connection of `pool` (checked out by the caller, who may advance the slot on it too). Decoding
   * flushes the catalog caches of the connection it runs on: keeping it to one connection keeps the others' warm.
   * @default a connection of the pool for the read
   */
  readonly client?: PoolClient;
  /**
   * Flush the server's WAL first, in the same round trip, so that the read sees every commit so far (decoding sees
   * flushed WAL only; see `flushWal`). @default false
   */
  readonly flush?: boolean;
}

/** What a read takes from the catalog: the published relations and the catalog entries of their tables. */
interface Published {
  /** Published relations (tables and partitions) by oid, which survives a rename, with the table each belongs to. */
  readonly roots: ReadonlyMap<number, TableName>;
  readonly partitioned: readonly TableName[];
  /** Validation keys of those tables, by display name. */
  readonly keys: ReadonlyMap<string, string[]>;
}

/** Reused across reads while the publication's catalog signature is unchanged (see `catalog-signature.ts`). */
const publishedCache = new SignedCache<Published>();

async function readPublished(pool: Pool, publication: string): Promise<Published> {
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
  const tables = [...new Map([...roots.values()].map((t) => [formatTableName(t), t])).values()];
  // `%` in a name is a wildcard here; byName picks the exact table.
  const catalog = await readCatalog(pool, { include: tables });
  const info = tables.map((t) => ({ name: t, info: catalog.byName(t) }));
  return {
    roots,
    partitioned: info.filter((t) => t.info?.kind === 'p').map((t) => t.name),
    keys: new Map(info.map((t) => [formatTableName(t.name), t.info?.keyColumns ?? []])),
  };
}

function publishedTables(published: Published, keyColumns: Readonly<Record<string, string[]>> = {}): PublishedTables {
  return {
    partitioned: published.partitioned,
    tableOf: (relationId) => published.roots.get(relationId),
    keyColumnsOf: (table) => {
      const display = formatTableName(table);
      return [...(keyColumns[display] ?? published.keys.get(display) ?? [])];
    },
  };
}

const CURSOR = 'zdm_tracked_changes';
/** `pgoutput` message tags of a transaction's begin and commit. */
const BEGIN = 'B'.charCodeAt(0);
const COMMIT = 'C'.charCodeAt(0);

/**
 * Opens a read in one round trip: the bound, the cursor and its first rows. One implicit transaction (simple-query
 * protocol, no parameters: every value is a checked slot name, an LSN, an integer or a quoted literal); the cursor
 * is holdable, so a read whose first batch is its last needs no other round trip. An exhausted cursor left on the
 * connection by an earlier read is closed first. Results: the bound's and the first rows' are the third and the
 * last.
 */
function openSql(
  spec: TrackingSpec,
  uptoLsn: string | undefined,
  maxChanges: number,
  fetchRows: number,
  flush: boolean,
): string {
  const upto = uptoLsn === undefined ? 'NULL' : quoteLiteral(lsnText(uptoLsn));
  // The flush is a transaction of its own, committed before the bound is read.
  return `${flush ? `BEGIN; ${FLUSH_SQL}; COMMIT;` : ''} CLOSE ALL;
    SELECT set_config('zdm.tracking_bound', least(coalesce(${upto}::pg_lsn, f), f)::text, true) AS bound,
           coalesce(${upto}::pg_lsn > f, false) AS short
      FROM pg_current_wal_flush_lsn() f;
    DECLARE ${CURSOR} NO SCROLL CURSOR WITH HOLD FOR
      SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes(
        ${quoteLiteral(spec.slot)}, current_setting('zdm.tracking_bound')::pg_lsn, ${maxChanges},
        'proto_version', '1', 'publication_names', ${quoteLiteral(quoteIdent(spec.publication))});
    FETCH FORWARD ${fetchRows} FROM ${CURSOR}`;
}

const lsnText = (lsn: string): string => {
  parseLsn(lsn); // throws unless it is one
  return lsn;
};

export async function readChanges(
  pool: Pool,
  spec: TrackingSpec,
  options: ReadChangesOptions = {},
): Promise<TrackedChanges> {
  assertSlotName(spec.slot);
  const maxChanges = Math.max(1, Math.floor(options.maxChanges ?? 10_000));
  const fetchRows = Math.max(1, Math.floor(options.fetchRows ?? 1000));

  const open = async (client: PoolClient): Promise<QueryResult[]> => {
    const flush = Boolean(options.flush) && !flushRefused(pool);
    const text = openSql(spec, options.uptoLsn, maxChanges, fetchRows, flush);
    try {
      return (await client.query(text)) as unknown as QueryResult[];
    } catch (error) {
      if (!flush) throw error;
      // The flush failed (a role that may not emit messages): wait for the WAL writer instead, then read.
      await client.query('ROLLBACK').catch(() => undefined);
      flushFailed(pool, error);
      await waitForFlush(client);
      return (await client.query(
        openSql(spec, options.uptoLsn, maxChanges, fetchRows, false),
      )) as unknown as QueryResult[];
    }
  };
  const read = async (client: PoolClient): Promise<TrackedChanges> => {
    // The catalog signature meanwhile on another connection when one is idle (decoding flushes the catalog caches of
    // the connection it runs on, so the one that decoded last — the one handed out first — is slow to read the
    // catalog), otherwise on this one after the read opened (never waiting for a connection while holding one).
    // Either way it is read before any catalog data it validates: data read after it can only be newer, and then
    // the next signature differs from it.
    const elsewhere = pool.idleCount > 0 ? catalogSignature(pool, spec.publication) : undefined;
    elsewhere?.catch(() => undefined); // awaited below; an error before then must not go unhandled
    // Decoding only sees flushed WAL: never bound a read beyond it, or advancing to the bound would skip changes.
    // publication_names is a list of identifiers: quoted, a name keeps its case and may hold commas.
    const opened = await open(client);
    const { bound, short } = opened[opened.length - 3].rows[0] as { bound: string; short: boolean };
    const signature = await (elsewhere ?? catalogSignature(client, spec.publication));
    let published = publishedCache.get(pool, spec.publication, signature);
    if (!published) {
      // On this connection: the pool may have no other.
      published = await readPublished(client as unknown as Pool, spec.publication);
      publishedCache.set(pool, spec.publication, signature, published);
    }
    const collector = new ChangedKeys(
      publishedTables(published, options.keyColumns),
      Math.max(1, options.maxKeysPerTable ?? 10_000),
    );
    let decodedRows = 0;
    let lastCommit: string | null = null;
    let inTransaction = false;
    let batch = opened[opened.length - 1] as QueryResult<{ lsn: string; data: Buffer }>;
    for (let batches = 1; ; batches++) {
      for (const row of batch.rows) {
        // Two rows in three are a transaction's begin and commit: their tag is all a read needs of them.
        const tag = row.data[0];
        if (tag === BEGIN) inTransaction = true;
        else if (tag === COMMIT) {
          inTransaction = false;
          lastCommit = row.lsn;
        } else collector.add(decodePgOutput(row.data));
      }
      decodedRows += batch.rows.length;
      if (batch.rows.length < fetchRows) {
        // A large read frees what the cursor holds now; a small one leaves it to the next read's CLOSE ALL.
        if (batches > 1) await client.query(`CLOSE ${CURSOR}`);
        break;
      }
      batch = await client.query<{ lsn: string; data: Buffer }>(`FETCH FORWARD ${fetchRows} FROM ${CURSOR}`);
    }
    // Cut short by the change budget: only whole transactions read so far are done. Otherwise all up to the bound is.
    const cut = decodedRows >= maxChanges || inTransaction;
    return {
      keysByTable: collector.result(),
      truncated: [...collector.truncated],
      changes: collector.changes,
      lastLsn: cut ? lastCommit : maxLsn(lastCommit, bound),
      more: cut || short,
      catalog: { signature, tables: [...published.keys.keys()] },
    };
  };
  // A client whose work failed is destroyed, cursor and all.
  return options.client ? read(options.client) : withPooledClient(pool, read);
}
