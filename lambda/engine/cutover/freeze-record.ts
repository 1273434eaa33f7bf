/**
 * What the freeze saved, on the frozen server itself: `zdm_cutover.frozen_roles` holds each frozen role's login
 * settings from before the freeze, written in the same transaction as its `ALTER ROLE … NOLOGIN CONNECTION LIMIT 0`.
 * So whatever ends the process (SIGKILL, a Lambda timeout, a lost state file), the next run, the watchdog and an
 * operator find the originals where the role is: either the role is frozen and its record exists, or neither.
 * A restore gives the role its recorded settings back, then deletes the record (a restore repeated after a crash in
 * between restores the same values again).
 *
 * By hand: `SELECT * FROM zdm_cutover.frozen_roles;` then, for each row,
 * `ALTER ROLE <role> WITH LOGIN|NOLOGIN CONNECTION LIMIT <connection_limit>; DELETE FROM zdm_cutover.frozen_roles WHERE role = '<role>';`
 */
import type { ClientBase, Pool } from 'pg';
import { qualify, quoteIdent } from '../pg/identifiers';
import type { SavedRoleSettings } from '../ports';
import { FREEZE_RECORD_TABLE, ZDM_SCHEMA } from '../../../contract';

type Queryable = Pick<Pool | ClientBase, 'query'>;

/** `"zdm_cutover"."frozen_roles"` */
export const FREEZE_RECORD_SQL = qualify({ schema: ZDM_SCHEMA, table: FREEZE_RECORD_TABLE });

export interface RecordedFreeze extends SavedRoleSettings {
  readonly migrationId: string;
  readonly frozenAt: string;
}

/** The statement that gives a frozen role its saved login settings back. */
export function restoreRoleSql(role: SavedRoleSettings): string {
  return `ALTER ROLE ${quoteIdent(role.role)} WITH ${role.canLogin ? 'LOGIN' : 'NOLOGIN'} CONNECTION LIMIT ${Math.trunc(role.connectionLimit)}`;
}

/** Creates the record table if it is missing (outside the freeze: the preflight of an execution). */
export async function ensureFreezeRecordTable(client: Queryable): Promise<void> {
  const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    FREEZE_RECORD_SQL,
  ]);
  if (rows[0].exists) return;
  for (const statement of [
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(ZDM_SCHEMA)}`,
    `CREATE TABLE IF NOT EXISTS ${FREEZE_RECORD_SQL} (
       role text PRIMARY KEY,
       can_login boolean NOT NULL,
       connection_limit integer NOT NULL,
       migration_id text NOT NULL,
       frozen_at timestamptz NOT NULL DEFAULT now()
     )`,
  ]) {
    try {
      await client.query(statement);
    } catch (error) {
      // Two sessions creating it at once: the loser sees a unique violation; the table is there.
      if ((error as { code?: string }).code !== '23505') throw error;
    }
  }
}

/**
 * Freezes the roles, each in one transaction with its record: the settings saved before (a role recorded already,
 * by an earlier run that did not restore it, keeps its first record: that one holds the originals).
 */
export async function freezeRolesRecorded(
  client: Queryable,
  migrationId: string,
  saved: readonly SavedRoleSettings[],
): Promise<void> {
  await ensureFreezeRecordTable(client);
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO ${FREEZE_RECORD_SQL} (role, can_login, connection_limit, migration_id)
       SELECT r.role, r.can_login, r.connection_limit, $4
         FROM unnest($1::text[], $2::boolean[], $3::int[]) AS r(role, can_login, connection_limit)
       ON CONFLICT (role) DO NOTHING`,
      [saved.map((s) => s.role), saved.map((s) => s.canLogin), saved.map((s) => s.connectionLimit), migrationId],
    );
    for (const s of saved) await client.query(`ALTER ROLE ${quoteIdent(s.role)} WITH NOLOGIN CONNECTION LIMIT 0`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The recorded freezes of these roles (all when none are named); none when the table does not exist. */
export async function readFreezeRecord(client: Queryable, roles?: readonly string[]): Promise<RecordedFreeze[]> {
  const { rows: exists } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    FREEZE_RECORD_SQL,
  ]);
  if (!exists[0].exists) return [];
  const { rows } = await client.query<{
    role: string;
    can_login: boolean;
    connection_limit: number;
    migration_id: string;
    frozen_at: Date;
  }>(
    `SELECT role, can_login, connection_limit, migration_id, frozen_at FROM ${FREEZE_RECORD_SQL}
      WHERE $1::text[] IS NULL OR role = ANY($1::text[]) ORDER BY role`,
    [roles ?? null],
  );
  return rows.map((r) => ({
    role: r.role,
    canLogin: r.can_login,
    connectionLimit: r.connection_limit,
    migrationId: r.migration_id,
    frozenAt: r.frozen_at.toISOString(),
  }));
}

/** Deletes the records of roles whose settings were given back. */
export async function forgetFreezeRecord(client: Queryable, roles: readonly string[]): Promise<void> {
  if (roles.length === 0) return;
  const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    FREEZE_RECORD_SQL,
  ]);
  if (!rows[0].exists) return;
  await client.query(`DELETE FROM ${FREEZE_RECORD_SQL} WHERE role = ANY($1::text[])`, [roles]);
}

/**
 * Gives every recorded role (of those named; all when none are) exactly its recorded settings back and deletes the
 * records. Returns what it restored.
 */
export async function restoreFromFreezeRecord(client: Queryable, roles?: readonly string[]): Promise<RecordedFreeze[]> {
  const recorded = await readFreezeRecord(client, roles);
  for (const r of recorded) await client.query(restoreRoleSql(r));
  await forgetFreezeRecord(
    client,
    recorded.map((r) => r.role),
  );
  return recorded;
}
