/**
 * way-back-broken: a forgotten writer. While the application is on the target, another session (a superuser, as a
 * hand-made fix or a cron job would be) writes one row of a selected table on the old source. Nothing conflicts with
 * it: the reverse replication keeps running, and only the way back's guard can tell. On the demo schema it inserts
 * an event; on your tables (`--source/--target`) it updates the first row of the first selected table that has one
 * to what it already is (a real write that changes no value, whatever the table's columns).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { formatTableName, type TableName } from '../../contract';
import { qualify, quoteIdent, WAY_BACK_WRITES_SQL } from '../../lambda/engine';
import { withAdmin } from '../servers/pg-clients';

/** The row written, and when (epoch ms, after its commit). */
export interface OldSourceWrite {
  readonly at: number;
  readonly table: string;
  readonly operation: 'INSERT' | 'UPDATE';
  /** The inserted row's key as the guard records it (`{"id": "…"}`): the demo's insert, which the undo deletes. */
  readonly key?: string;
}

/** The application name the forgotten writer's session shows (the guard names it). */
export const FORGOTTEN_WRITER = 'rehearsal: a forgotten writer';

/** The demo schema: a new event. */
async function insertEvent(c: Client): Promise<Omit<OldSourceWrite, 'at'>> {
  const id = randomUUID();
  await c.query(`INSERT INTO app.events (id, kind, payload) VALUES ($1, 'written on the old source', '{}')`, [id]);
  return { table: 'app.events', operation: 'INSERT', key: `{"id": "${id}"}` };
}

/** Your tables: one row set to what it is, in the first selected table that has a row and a column it may set. */
async function rewriteOneRow(c: Client, tables: readonly TableName[]): Promise<Omit<OldSourceWrite, 'at'>> {
  for (const t of tables) {
    const { rows } = await c.query<{ column: string }>(
      `SELECT attname AS column FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' AND attidentity <> 'a'
        ORDER BY attnum LIMIT 1`,
      [qualify(t)],
    );
    if (!rows[0]) continue;
    const column = quoteIdent(rows[0].column);
    const updated = await c.query(
      `UPDATE ${qualify(t)} SET ${column} = ${column} WHERE ctid = (SELECT ctid FROM ${qualify(t)} LIMIT 1)`,
    );
    if (updated.rowCount) return { table: formatTableName(t), operation: 'UPDATE' };
  }
  throw new Error('way-back-broken needs a selected table with a row on the source to write to');
}

export async function writeOnOldSource(
  sourceUrl: string,
  workload: 'demo' | 'probe',
  tables: readonly TableName[],
): Promise<OldSourceWrite> {
  const written = await withAdmin(sourceUrl, async (c) => {
    await c.query(`SET application_name = '${FORGOTTEN_WRITER}'`);
    return workload === 'demo' ? insertEvent(c) : rewriteOneRow(c, tables);
  });
  return { ...written, at: Date.now() };
}

/** Whether the watch's words name this write: its table and operation (and the inserted key). */
export function namesWrite(detail: string, write: OldSourceWrite): boolean {
  return detail.includes(`${write.table} ${write.operation}${write.key ? ` ${write.key}` : ''}`);
}

/**
 * What the operator does once the fallback refused: undoes the write on the old source (the demo's insert; the
 * rewrite changed no value) as the reverse replication applies (`session_replication_role = replica`, so the guard
 * does not record the undo), and clears the guard's record. The way back is whole again: the copies match.
 */
export async function undoOldSourceWrite(sourceUrl: string, write: OldSourceWrite): Promise<void> {
  await withAdmin(sourceUrl, async (c) => {
    await c.query('BEGIN');
    await c.query(`SET LOCAL session_replication_role = replica`);
    if (write.key) {
      const id = (JSON.parse(write.key) as { id: string }).id;
      await c.query(`DELETE FROM app.events WHERE id = $1`, [id]);
    }
    await c.query(`DELETE FROM ${WAY_BACK_WRITES_SQL}`);
    await c.query('COMMIT');
  });
}
