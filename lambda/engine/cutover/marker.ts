import type { ClientBase } from 'pg';
import { qualify, quoteIdent } from '../pg/identifiers';
import { MARKER_TABLE, ZDM_SCHEMA } from '../../../contract';

/** `"zdm_cutover"."cutover_marker"` */
export const MARKER_TABLE_SQL = qualify({ schema: ZDM_SCHEMA, table: MARKER_TABLE });

export const CREATE_MARKER_TABLE_SQL = [
  `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(ZDM_SCHEMA)}`,
  `CREATE TABLE IF NOT EXISTS ${MARKER_TABLE_SQL} (
     migration_id text NOT NULL,
     token text NOT NULL,
     written_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (migration_id, token)
   )`,
];

/** Whether the marker table exists in the connected database. */
export async function markerTableExists(client: Pick<ClientBase, 'query'>): Promise<boolean> {
  const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    MARKER_TABLE_SQL,
  ]);
  return rows[0].exists;
}

/** Creates the marker schema and table if they are missing (concurrent creators are tolerated). */
export async function ensureMarkerTable(client: Pick<ClientBase, 'query'>): Promise<boolean> {
  if (await markerTableExists(client)) return false;
  for (const statement of CREATE_MARKER_TABLE_SQL) {
    try {
      await client.query(statement);
    } catch (error) {
      // Two sessions creating the schema/table at once: the loser sees a unique violation; the table is there.
      if ((error as { code?: string }).code !== '23505') throw error;
    }
  }
  return true;
}

export async function writeMarker(
  client: Pick<ClientBase, 'query'>,
  migrationId: string,
  token: string,
): Promise<{ lsn: string; writtenAt: string }> {
  const { rows } = await client.query<{ written_at: Date }>(
    `INSERT INTO ${MARKER_TABLE_SQL} (migration_id, token) VALUES ($1, $2)
     ON CONFLICT (migration_id, token) DO UPDATE SET written_at = ${MARKER_TABLE_SQL}.written_at
     RETURNING written_at`,
    [migrationId, token],
  );
  const lsn = await client.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
  return { lsn: lsn.rows[0].lsn, writtenAt: new Date(rows[0].written_at).toISOString() };
}

export async function markerArrived(
  client: Pick<ClientBase, 'query'>,
  migrationId: string,
  token: string,
): Promise<boolean> {
  const { rows } = await client.query(`SELECT 1 FROM ${MARKER_TABLE_SQL} WHERE migration_id = $1 AND token = $2`, [
    migrationId,
    token,
  ]);
  return rows.length > 0;
}

/** The marker row the lag heartbeat keeps updating (the marker table already replicates). */
export const HEARTBEAT_TOKEN = 'heartbeat';

/**
 * Replication lag that cannot go stale: writes the source's clock into the heartbeat marker row, reads the newest
 * heartbeat the target has and subtracts it from the source's clock (both times come from the source, so clock skew
 * does not matter; a stalled subscriber makes it grow). Seconds, null when no heartbeat reached the target yet,
 * undefined when the source has no marker table (a dry run before any execute run).
 */
export async function heartbeatLagSeconds(
  source: Pick<ClientBase, 'query'>,
  target: Pick<ClientBase, 'query'>,
  migrationId: string,
): Promise<number | null | undefined> {
  // A dry run may find no marker table (preflight creates it only in execute mode): not measured (undefined).
  if (!(await markerTableExists(source))) return undefined;
  await source.query(
    `INSERT INTO ${MARKER_TABLE_SQL} (migration_id, token, written_at) VALUES ($1, $2, clock_timestamp())
     ON CONFLICT (migration_id, token) DO UPDATE SET written_at = excluded.written_at`,
    [migrationId, HEARTBEAT_TOKEN],
  );
  if (!(await markerTableExists(target))) return null;
  const seen = await target.query<{ beat: string | null }>(
    `SELECT written_at::text AS beat FROM ${MARKER_TABLE_SQL} WHERE migration_id = $1 AND token = $2`,
    [migrationId, HEARTBEAT_TOKEN],
  );
  const beat = seen.rows[0]?.beat ?? null;
  if (beat === null) return null;
  const lag = await source.query<{ s: number }>(
    `SELECT greatest(0, extract(epoch FROM clock_timestamp() - $1::timestamptz))::float8 AS s`,
    [beat],
  );
  return Math.round(lag.rows[0].s * 1000) / 1000;
}
