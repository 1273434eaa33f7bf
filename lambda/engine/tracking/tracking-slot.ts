/**
 * The workflow's own change-tracking slot on one database: a publication of the selected tables and a `pgoutput`
 * logical replication slot over it. The publication comes first, so every change the slot decodes is published.
 */
import type { Pool } from 'pg';
import { qualify, quoteIdent } from '../pg/identifiers';
import type { StartTrackingSpec, TrackingSpec, TrackingStart, TrackingStop } from './types';
import { publicationMembers } from '../pg/publication';

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

export function assertSlotName(slot: string): void {
  if (!SLOT_NAME.test(slot)) {
    throw new Error(`invalid replication slot name ${JSON.stringify(slot)}: use 1-63 of a-z, 0-9 and _`);
  }
}

const code = (error: unknown): string | undefined => (error as { code?: string }).code;

interface SlotRow {
  plugin: string | null;
  here: boolean;
  active_pid: number | null;
  confirmed: string | null;
}

async function slotRow(pool: Pool, slot: string): Promise<SlotRow | undefined> {
  const { rows } = await pool.query<SlotRow>(
    `SELECT plugin::text, database = current_database() AS here, active_pid, confirmed_flush_lsn::text AS confirmed
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return rows[0];
}

function existing(spec: TrackingSpec, row: SlotRow): TrackingStart {
  if (row.plugin !== 'pgoutput' || !row.here || !row.confirmed) {
    throw new Error(`replication slot ${spec.slot} exists but is not a pgoutput slot of this database`);
  }
  return { slot: spec.slot, lsn: row.confirmed, created: false };
}

/** Creates the publication (or sets its tables), then the slot. Idempotent: an existing slot is returned as is. */
export async function startTracking(pool: Pool, spec: StartTrackingSpec): Promise<TrackingStart> {
  assertSlotName(spec.slot);
  const found = await slotRow(pool, spec.slot);
  if (found) {
    const pub = await pool.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [spec.publication]);
    if (pub.rowCount === 0) {
      throw new Error(`replication slot ${spec.slot} exists but publication ${spec.publication} does not`);
    }
    return existing(spec, found);
  }
  await ensurePublication(pool, spec);
  try {
    const { rows } = await pool.query<{ lsn: string }>(
      `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
      [spec.slot],
    );
    return { slot: spec.slot, lsn: rows[0].lsn, created: true };
  } catch (error) {
    // Another invocation created it meanwhile.
    const raced = code(error) === '42710' ? await slotRow(pool, spec.slot) : undefined;
    if (!raced) throw error;
    return existing(spec, raced);
  }
}

/** No slot exists yet, so no reader depends on the publication: make its table list exactly the selection. */
async function ensurePublication(pool: Pool, spec: StartTrackingSpec): Promise<void> {
  const pub = quoteIdent(spec.publication);
  // Partitions publish as themselves: with publish_via_partition_root a TRUNCATE of one partition is not published
  // at all. The reader maps each partition to its partitioned table.
  const { list: tables, withClause: options } = await publicationMembers(pool, spec.tables, {
    viaPartitionRoot: false,
  });
  const exists = await pool.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [spec.publication]);
  if (exists.rowCount === 0) {
    try {
      await pool.query(`CREATE PUBLICATION ${pub}${tables ? ` FOR TABLE ${tables}` : ''}${options}`);
      return;
    } catch (error) {
      if (code(error) !== '42710') throw error;
    }
  }
  if (options) await pool.query(`ALTER PUBLICATION ${pub} SET${options.replace(' WITH', '')}`);
  if (tables) {
    await pool.query(`ALTER PUBLICATION ${pub} SET TABLE ${tables}`);
    return;
  }
  const current = await pool.query<{ schemaname: string; tablename: string }>(
    `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`,
    [spec.publication],
  );
  if (current.rows.length === 0) return;
  const all = current.rows.map((r) => qualify({ schema: r.schemaname, table: r.tablename }));
  await pool.query(`ALTER PUBLICATION ${pub} DROP TABLE ${all.join(', ')}`);
}

/** Drops the slot (only when no process uses it), then the publication. Idempotent. */
export async function stopTracking(pool: Pool, spec: TrackingSpec): Promise<TrackingStop> {
  assertSlotName(spec.slot);
  const row = await slotRow(pool, spec.slot);
  const inUse = (pid: number | null): TrackingStop => ({
    slot: 'in-use',
    publication: 'kept',
    message: `replication slot ${spec.slot} is in use${pid ? ` by process ${pid}` : ''}: not dropped, try again later`,
  });
  if (row?.active_pid) return inUse(row.active_pid);
  if (row) {
    try {
      await pool.query(`SELECT pg_drop_replication_slot($1)`, [spec.slot]);
    } catch (error) {
      if (code(error) === '55006') return inUse(null);
      if (code(error) !== '42704') throw error; // dropped meanwhile
    }
  }
  const pub = await pool.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [spec.publication]);
  if (pub.rowCount) await pool.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(spec.publication)}`);
  return { slot: row ? 'dropped' : 'absent', publication: pub.rowCount ? 'dropped' : 'absent' };
}

/**
 * Consumes the slot's changes up to `lsn` (call only once the keys read up to there are verified or stored).
 * Idempotent: a slot already at or past `lsn` is left where it is. Returns the slot's confirmed position.
 * One round trip: the advance runs only when the slot is behind `lsn`.
 */
export async function advance(
  pool: Pick<Pool, 'query'>,
  slot: string,
  lsn: string,
): Promise<{ lsn: string; moved: boolean }> {
  assertSlotName(slot);
  const { rows } = await pool.query<{ at: string; moved: boolean }>(
    `SELECT CASE WHEN s.confirmed_flush_lsn >= $2::pg_lsn THEN s.confirmed_flush_lsn::text
                 ELSE (SELECT end_lsn::text FROM pg_replication_slot_advance($1, $2::pg_lsn)) END AS at,
            NOT coalesce(s.confirmed_flush_lsn >= $2::pg_lsn, false) AS moved
       FROM pg_replication_slots s WHERE s.slot_name = $1`,
    [slot, lsn],
  );
  if (!rows[0]) throw new Error(`replication slot ${slot} does not exist`);
  return { lsn: rows[0].at, moved: rows[0].moved };
}

/** Pools whose server refused `pg_log_standby_snapshot` (before PostgreSQL 16, or not granted): not asked again. */
const noRestartPoint = new WeakSet<object>();

/**
 * Lets the database's logical slots restart decoding from here once they are advanced past this point: logs a
 * running-transactions record (what the server's background writer does every 15 s, and a checkpoint) and flushes
 * it. Every read of a slot decodes the WAL from its restart point, not from where the last read ended; without
 * this the restart point trails by up to two such intervals, and the WAL in them (which holds full-page images,
 * more of them the larger the tables) is decoded again at every read and every advance. Decoding from an earlier
 * restart point gives the same changes, so this only saves work. Returns false (and is not tried again on that
 * pool) where the function is missing or not granted.
 */
export async function logRestartPoint(pool: Pool): Promise<boolean> {
  if (noRestartPoint.has(pool)) return false;
  try {
    // The record first, then an xid: committing a transaction that wrote WAL synchronously flushes up to its commit.
    await pool.query(
      `SELECT pg_log_standby_snapshot(), pg_current_xact_id(), set_config('synchronous_commit', 'on', true)`,
    );
    return true;
  } catch (error) {
    // Undefined function (42883), not granted (42501), in recovery or wal_level too low (55000): never there.
    if (/^(42|55)/.test(code(error) ?? '')) noRestartPoint.add(pool);
    return false;
  }
}

/**
 * Flushes everything committed so far in one statement: its implicit transaction writes WAL (a non-transactional
 * logical message, which pgoutput ignores: messages are not asked for) and commits an xid with synchronous_commit on
 * (set locally, still in force at its commit), which flushes the WAL up to its commit record and so every commit
 * before it. (`txid_current()`: `pg_current_xact_id()` is PostgreSQL 13+.)
 */
export const FLUSH_SQL = `SELECT set_config('synchronous_commit', 'on', true), txid_current(),
         pg_logical_emit_message(false, 'zdm-flush', '')`;

/** Pools whose role may not emit logical messages (not superuser nor REPLICATION): flushed by the WAL writer. */
const cannotEmit = new WeakSet<object>();

/** Whether `FLUSH_SQL` is known to be refused on this pool. */
export const flushRefused = (pool: object): boolean => cannotEmit.has(pool);

/** Records that `FLUSH_SQL` failed on this pool with `error`: not tried again there when the role was refused. */
export function flushFailed(pool: object, error: unknown): void {
  if (code(error) === '42501') cannotEmit.add(pool);
}

/** Waits (up to 5 s) until the WAL writer has flushed everything inserted so far. */
export async function waitForFlush(db: Pick<Pool, 'query'>): Promise<void> {
  const { rows } = await db.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const r = await db.query<{ ok: boolean }>(`SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok`, [rows[0].lsn]);
    if (r.rows[0].ok) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Makes the server flush everything committed so far, so that a read up to its flushed WAL sees every commit
 * (decoding sees flushed WAL only, and with asynchronous commit the last commits may wait up to wal_writer_delay).
 * Where the role may not emit messages, it waits for the WAL writer instead.
 */
export async function flushWal(pool: Pool): Promise<void> {
  if (!flushRefused(pool)) {
    try {
      await pool.query(FLUSH_SQL);
      return;
    } catch (error) {
      flushFailed(pool, error);
    }
  }
  await waitForFlush(pool);
}
