/**
 * Replication lag that cannot go stale: write a heartbeat (the source's clock) on the source, read the newest one
 * the target has, and subtract it from the source's clock. Both timestamps come from the source, so clock skew
 * between the servers does not matter; if replication stops, the lag keeps growing.
 */
import type { Pool } from 'pg';
import { ZDM_SCHEMA } from '../../../contract';
import { qualify, quoteIdent } from '../pg/identifiers';

export const HEARTBEAT_TABLE = 'heartbeat';

/** `"zdm_cutover"."heartbeat"`: one row per migration, replicated like the marker table. */
export const HEARTBEAT_TABLE_SQL = qualify({ schema: ZDM_SCHEMA, table: HEARTBEAT_TABLE });

const CREATE_HEARTBEAT_TABLE_SQL = [
  `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(ZDM_SCHEMA)}`,
  `CREATE TABLE IF NOT EXISTS ${HEARTBEAT_TABLE_SQL} (migration_id text PRIMARY KEY, beat_at timestamptz NOT NULL)`,
];

async function tableExists(pool: Pool): Promise<boolean> {
  const { rows } = await pool.query<{ e: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS e`, [HEARTBEAT_TABLE_SQL]);
  return rows[0].e;
}

async function ensureHeartbeatTable(source: Pool): Promise<void> {
  if (await tableExists(source)) return;
  for (const statement of CREATE_HEARTBEAT_TABLE_SQL) {
    try {
      await source.query(statement);
    } catch (error) {
      // Concurrent creators: the loser sees a unique violation; the object is there.
      if ((error as { code?: string }).code !== '23505') throw error;
    }
  }
}

/**
 * Writes a heartbeat on the source and returns how far behind (ms) the newest heartbeat on the target is, or null
 * when the target has none yet (the table or the row not replicated yet).
 */
export async function heartbeatLag(source: Pool, target: Pool, migrationId: string): Promise<number | null> {
  await ensureHeartbeatTable(source);
  await source.query(
    `INSERT INTO ${HEARTBEAT_TABLE_SQL} (migration_id, beat_at) VALUES ($1, clock_timestamp())
     ON CONFLICT (migration_id) DO UPDATE SET beat_at = excluded.beat_at`,
    [migrationId],
  );
  if (!(await tableExists(target))) return null;
  const seen = await target.query<{ beat: string | null }>(
    `SELECT max(beat_at)::text AS beat FROM ${HEARTBEAT_TABLE_SQL} WHERE migration_id = $1`,
    [migrationId],
  );
  const beat = seen.rows[0].beat;
  if (beat === null) return null;
  const lag = await source.query<{ ms: number }>(
    `SELECT (extract(epoch FROM clock_timestamp() - $1::timestamptz) * 1000)::float8 AS ms`,
    [beat],
  );
  return Math.max(0, lag.rows[0].ms);
}
