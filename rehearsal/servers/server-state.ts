/**
 * After the clean-up: what each server is left with, read back from the servers themselves (not from what the
 * clean-up meant to do). The roles the freeze acted on (their login settings, and for a role that existed whether
 * they and its password are as before), and every object of the rehearsal still there — slots with the WAL they
 * retain, publications, subscriptions, roles, its tables, marker rows, the copy on the target.
 */
import type { Client } from 'pg';
import { formatTableName, ZDM_SCHEMA } from '../../contract';
import { MARKER_TABLE_SQL, qualify, readGuardedWrites } from '../../lambda/engine';
import { DEMO_SCHEMAS } from '../tables/demo-schema';
import { PROBE_TABLE, REHEARSAL_SCHEMA_COMMENT, rehearsalRoleNames, ZDM_PREFIX } from '../names';
import { withAdmin } from './pg-clients';
import type { RehearsalRoles } from '../roles/rehearsal-roles';
import type { RehearsedTables } from '../tables/rehearsed-tables';
import { isRehearsalRole, readRole } from '../roles/roles';
import type { Servers } from './setup-servers';

export interface RoleState {
  readonly role: string;
  readonly server: 'source' | 'target';
  readonly exists: boolean;
  readonly canLogin?: boolean;
  readonly connectionLimit?: number;
  /** A role that existed before the rehearsal: its settings then, and whether they and its password are unchanged. */
  readonly before?: { readonly canLogin: boolean; readonly connectionLimit: number };
  readonly asBefore?: boolean;
  readonly passwordUnchanged?: boolean;
  readonly createdByRehearsal: boolean;
}

export interface LeftBehind {
  readonly server: 'source' | 'target';
  readonly kind: string;
  readonly name: string;
  readonly detail?: string;
}

export interface ServerState {
  /** Embedded servers: stopped and removed with everything on them (nothing to read back). */
  readonly embedded: boolean;
  readonly roles: RoleState[];
  readonly leftBehind: LeftBehind[];
  /** The servers that could not be read back (unreachable), each with what failed; the others were read. */
  readonly unreadable?: string;
}

const LIKE_ZDM = `${ZDM_PREFIX.replace(/_/g, '\\_')}%`;

async function leftInDatabase(
  client: Client,
  side: 'source' | 'target',
  migrationId: string,
  tables: RehearsedTables | undefined,
  demo: boolean,
): Promise<LeftBehind[]> {
  const out: LeftBehind[] = [];
  const add = (kind: string, name: string, detail?: string): number =>
    out.push({ server: side, kind, name, ...(detail ? { detail } : {}) });
  const slots = await client.query<{ slot_name: string; active: boolean; retained: string | null }>(
    `SELECT slot_name, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained
       FROM pg_replication_slots
      WHERE database = current_database() AND (slot_name LIKE $1 OR slot_name ~ '^pg_[0-9]+_sync_')`,
    [LIKE_ZDM],
  );
  for (const s of slots.rows) {
    add(
      'replication slot',
      s.slot_name,
      `${s.active ? 'active' : 'inactive'}; retains ${s.retained ?? '?'} of WAL until dropped`,
    );
  }
  const pubs = await client.query<{ pubname: string }>(`SELECT pubname FROM pg_publication WHERE pubname LIKE $1`, [
    LIKE_ZDM,
  ]);
  for (const p of pubs.rows) add('publication', p.pubname);
  // The forward subscription is on the target; the way back's (fallback scenarios) on the source.
  {
    const subs = await client.query<{ subname: string; subenabled: boolean }>(
      `SELECT subname, subenabled FROM pg_subscription
        WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND subname LIKE $1`,
      [LIKE_ZDM],
    );
    for (const s of subs.rows) add('subscription', s.subname, s.subenabled ? 'enabled' : 'disabled');
  }
  const schema = await client.query<{ comment: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1`,
    [ZDM_SCHEMA],
  );
  if (schema.rows[0]?.comment === REHEARSAL_SCHEMA_COMMENT) add('schema', ZDM_SCHEMA, "the rehearsal's");
  const probe = await client.query<{ e: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS e`, [qualify(PROBE_TABLE)]);
  if (probe.rows[0].e) add('table', `${PROBE_TABLE.schema}.${PROBE_TABLE.table}`);
  const guard = await readGuardedWrites(client);
  if (guard) {
    add(
      "the way back's guard",
      `${ZDM_SCHEMA}.way_back_write() and its triggers, ${ZDM_SCHEMA}.way_back_writes`,
      `${guard.count} write(s) recorded`,
    );
  }
  const marker = await client.query<{ e: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS e`, [MARKER_TABLE_SQL]);
  if (marker.rows[0].e) {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${MARKER_TABLE_SQL} WHERE migration_id = $1`,
      [migrationId],
    );
    if (rows[0].n > 0) add('marker rows', `${ZDM_SCHEMA}.cutover_marker`, `${rows[0].n} of ${migrationId}`);
  }
  if (demo) {
    const { rows } = await client.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)`,
      [DEMO_SCHEMAS],
    );
    for (const r of rows) add('schema', r.nspname, 'demo');
  }
  if (side === 'target' && tables?.kind === 'user') {
    const filled: string[] = [];
    for (const t of tables.tables) {
      const { rows } = await client
        .query<{ e: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${qualify(t)}) AS e`)
        .catch(() => ({ rows: [{ e: false }] }));
      if (rows[0].e) filled.push(formatTableName(t));
    }
    if (filled.length) add('copied rows', `${filled.length} table(s)`, filled.slice(0, 10).join(', '));
  }
  return out;
}

export async function readServerState(args: {
  servers: Servers;
  migrationId: string;
  roles?: RehearsalRoles;
  tables?: RehearsedTables;
  demo: boolean;
}): Promise<ServerState> {
  const { servers } = args;
  if (servers.kind === 'embedded') return { embedded: true, roles: [], leftBehind: [] };
  const leftBehind: LeftBehind[] = [];
  const roles: RoleState[] = [];
  // Every server that can be reached is read; one that cannot is named, and the other is still read.
  const unreadable: string[] = [];
  for (const [side, url] of [
    ['source', servers.sourceUrl],
    ['target', servers.targetUrl],
  ] as const) {
    try {
      await withAdmin(url, async (c) => {
        leftBehind.push(...(await leftInDatabase(c, side, args.migrationId, args.tables, args.demo)));
        if (side === 'target' && servers.sameServer) return;
        const names = rehearsalRoleNames(servers.sourceUrl);
        const watched = new Set([
          ...(args.roles?.frozen ?? []),
          ...(args.roles?.app ? [args.roles.app.name] : []),
          names.probe,
          names.replication,
          names.app,
        ]);
        for (const role of watched) {
          const facts = await readRole(c, role);
          const before = args.roles?.app?.name === role ? args.roles.app.before : undefined;
          const ours = isRehearsalRole(facts);
          if (facts && ours)
            leftBehind.push({
              server: side,
              kind: 'role',
              name: role,
              detail: `LOGIN ${facts.canLogin ? 'yes' : 'no'}, connection limit ${facts.connectionLimit}`,
            });
          if (!facts && !args.roles?.frozen.includes(role)) continue;
          if (side === 'target' && !facts) continue;
          roles.push({
            role,
            server: side,
            exists: Boolean(facts),
            ...(facts ? { canLogin: facts.canLogin, connectionLimit: facts.connectionLimit } : {}),
            createdByRehearsal: !before,
            ...(before && facts
              ? {
                  before: { canLogin: before.canLogin, connectionLimit: before.connectionLimit },
                  asBefore: before.canLogin === facts.canLogin && before.connectionLimit === facts.connectionLimit,
                  passwordUnchanged: before.passwordDigest === facts.passwordDigest,
                }
              : {}),
          });
        }
      });
    } catch (error) {
      unreadable.push(`the ${side} (${(error as Error).message.slice(0, 200)})`);
    }
  }
  return { embedded: false, roles, leftBehind, ...(unreadable.length ? { unreadable: unreadable.join('; ') } : {}) };
}
