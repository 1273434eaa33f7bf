/**
 * Before a rehearsal against the user's servers changes anything: what an earlier run (or someone else) left in
 * these databases. The rehearsal's own leftovers — named by it after the source database, roles with its comment,
 * marker rows of its migration ids — are removed; anything else that would collide (other zdm_ slots,
 * publications and subscriptions, other migrations' marker rows on the target, a role of one of its names
 * without its comment) refuses the rehearsal, naming each object.
 */
import type { Client } from 'pg';
import { formatTableName, MARKER_TABLE, ZDM_SCHEMA, type TableName } from '../../contract';
import { MARKER_TABLE_SQL, qualify, quoteIdent, trackingNames } from '../../lambda/engine';
import { UsageError } from '../../cli/command-line';
import { teardownNativeReplication } from '../local/native-replication-setup';
import {
  parseProbeComment,
  PROBE_TABLE,
  REHEARSAL_MIGRATION_PREFIX,
  rehearsalRoleNames,
  replicationName,
  reverseReplicationName,
  ZDM_PREFIX,
} from '../names';
import { withAdmin } from './pg-clients';
import { dropRehearsalRole, isRehearsalRole, readRole } from '../roles/roles';
import type { RehearsalContext } from '../run-context';
import type { Servers } from './setup-servers';

export interface Leftover {
  readonly server: 'source' | 'target';
  readonly kind: 'slot' | 'publication' | 'subscription' | 'role' | 'table' | 'marker rows';
  readonly name: string;
  readonly detail?: string;
}

export interface Leftovers {
  /** The rehearsal's own, removed by `removeLeftovers`. */
  readonly own: Leftover[];
  /** Someone else's: the rehearsal refuses to start. */
  readonly foreign: Leftover[];
}

const LIKE_ZDM = `${ZDM_PREFIX.replace(/_/g, '\\_')}%`;

/** Marker rows of migration ids the rehearsal may have made (its prefix, or this run's --migration-id). */
export function isOwnMigration(migrationId: string, current: string): boolean {
  return migrationId === current || migrationId.startsWith(REHEARSAL_MIGRATION_PREFIX);
}

async function markerCounts(client: Client): Promise<Array<{ migration_id: string; n: number }>> {
  const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    MARKER_TABLE_SQL,
  ]);
  if (!rows[0].exists) return [];
  return (
    await client.query<{ migration_id: string; n: number }>(
      `SELECT migration_id, count(*)::int AS n FROM ${MARKER_TABLE_SQL} GROUP BY 1 ORDER BY 1`,
    )
  ).rows;
}

async function tableExists(client: Client, name: string): Promise<boolean> {
  const { rows } = await client.query<{ e: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS e`, [name]);
  return rows[0].e;
}

/** The migration id an earlier run wrote on its probe table (`zdm rehearsal run <id>`). */
async function probeRun(client: Client): Promise<string | undefined> {
  const { rows } = await client.query<{ comment: string | null }>(
    `SELECT obj_description(to_regclass($1), 'pg_class') AS comment`,
    [qualify(PROBE_TABLE)],
  );
  return parseProbeComment(rows[0]?.comment ?? null);
}

/**
 * Slot and publication names the rehearsal (and the workflow it runs, for these migration ids) may have created:
 * its native replication, and the workflow's change tracking on either side in either mode.
 */
export function ownReplicationNames(sourceUrl: string, migrationIds: Iterable<string>): Set<string> {
  const names = new Set([replicationName(sourceUrl), reverseReplicationName(sourceUrl)]);
  for (const id of migrationIds) {
    for (const mode of ['execute', 'dry-run'] as const) {
      const t = trackingNames(id, mode);
      names.add(t.source);
      names.add(t.target);
    }
  }
  return names;
}

async function replicationObjects(
  client: Client,
  side: 'source' | 'target',
): Promise<Array<Leftover & { readonly object: string }>> {
  const out: Array<Leftover & { object: string }> = [];
  const pubs = await client.query<{ pubname: string }>(
    `SELECT pubname FROM pg_publication WHERE pubname LIKE $1 ORDER BY 1`,
    [LIKE_ZDM],
  );
  for (const p of pubs.rows) out.push({ server: side, kind: 'publication', name: p.pubname, object: p.pubname });
  const slots = await client.query<{ slot_name: string; active: boolean; retained: string | null }>(
    `SELECT slot_name, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained
       FROM pg_replication_slots WHERE database = current_database() AND slot_name LIKE $1 ORDER BY 1`,
    [LIKE_ZDM],
  );
  for (const s of slots.rows) {
    out.push({
      server: side,
      kind: 'slot',
      name: s.slot_name,
      object: s.slot_name,
      detail: `${s.active ? 'active' : 'inactive'}, retains ${s.retained ?? '?'} of WAL`,
    });
  }
  // Subscriptions: the forward one on the target, the way back's (fallback scenarios) on the source.
  {
    const subs = await client.query<{ subname: string }>(
      `SELECT subname FROM pg_subscription
        WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND subname LIKE $1 ORDER BY 1`,
      [LIKE_ZDM],
    );
    for (const s of subs.rows) out.push({ server: side, kind: 'subscription', name: s.subname, object: s.subname });
  }
  return out;
}

export async function findLeftovers(ctx: RehearsalContext, servers: Servers, appRole?: string): Promise<Leftovers> {
  const own: Leftover[] = [];
  const foreign: Leftover[] = [];
  const sort = (l: Leftover, ours: boolean): number => (ours ? own : foreign).push(l);
  const sides = [
    ['source', servers.sourceUrl],
    ['target', servers.targetUrl],
  ] as const;
  // Which migration ids are the rehearsal's: this run's, an earlier run's (its probe table says), rehearsal-*.
  const ids = new Set([ctx.options.migrationId]);
  for (const [, url] of sides) {
    await withAdmin(url, async (c) => {
      const run = await probeRun(c);
      if (run) ids.add(run);
      for (const m of await markerCounts(c))
        if (isOwnMigration(m.migration_id, ctx.options.migrationId)) ids.add(m.migration_id);
    });
  }
  const names = ownReplicationNames(servers.sourceUrl, ids);
  for (const [side, url] of sides) {
    await withAdmin(url, async (c) => {
      for (const { object, ...l } of await replicationObjects(c, side)) sort(l, names.has(object));
      for (const m of await markerCounts(c)) {
        const ours = isOwnMigration(m.migration_id, ctx.options.migrationId);
        // Someone else's marker rows only matter on the target (the copy would collide with them there).
        if (!ours && side === 'source') continue;
        sort(
          {
            server: side,
            kind: 'marker rows',
            name: `${ZDM_SCHEMA}.${MARKER_TABLE}`,
            detail: `${m.n} of ${m.migration_id}`,
          },
          ours,
        );
      }
      if (await tableExists(c, qualify(PROBE_TABLE))) {
        own.push({ server: side, kind: 'table', name: `${PROBE_TABLE.schema}.${PROBE_TABLE.table}` });
      }
      // Roles belong to the server: on one server, look once.
      if (side === 'target' && servers.sameServer) return;
      const roles = rehearsalRoleNames(servers.sourceUrl);
      const candidates = [...new Set([roles.probe, roles.replication, roles.app, ...(appRole ? [appRole] : [])])];
      for (const role of candidates) {
        const facts = await readRole(c, role);
        if (!facts) continue;
        if (isRehearsalRole(facts)) own.push({ server: side, kind: 'role', name: role });
        else if (role !== appRole) {
          foreign.push({ server: side, kind: 'role', name: role, detail: 'has a name the rehearsal uses' });
        }
      }
    });
  }
  return { own, foreign };
}

/** Drops a replication slot of the connected database (ending the process that holds it) and its publication. */
export async function dropSlotAndPublication(client: Client, name: string): Promise<void> {
  const { rows } = await client.query<{ active_pid: number | null }>(
    `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`,
    [name],
  );
  if (rows[0]?.active_pid) await client.query(`SELECT pg_terminate_backend($1)`, [rows[0].active_pid]);
  if (rows.length) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await client.query(`SELECT pg_drop_replication_slot($1)`, [name]);
        break;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === '42704') break;
        if (code !== '55006' || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
}

/**
 * Removes a reverse replication (fallback scenarios): its subscription on the source, then its slot (ending the
 * walsender that holds it) and its publication on the target — the forward teardown with the sides swapped. Safe to
 * call twice, and when only part of it exists.
 */
export async function teardownReverseReplication(
  servers: Pick<Servers, 'sourceUrl' | 'targetUrl'>,
  name: string,
): Promise<void> {
  await teardownNativeReplication({ source: servers.targetUrl, target: servers.sourceUrl, name });
}

function describe(l: Leftover): string {
  return `${l.kind} ${l.name} on the ${l.server}${l.detail ? ` (${l.detail})` : ''}`;
}

/**
 * Whether the rows in the selected target tables are an earlier rehearsal's copy: its subscription or its probe
 * table (created before the copy, removed after the copy was emptied) is still on the target.
 */
export function hasOwnCopy(leftovers: Leftovers | undefined): boolean {
  return (leftovers?.own ?? []).some(
    (l) =>
      l.server === 'target' &&
      (l.kind === 'subscription' || (l.kind === 'table' && l.name.endsWith(PROBE_TABLE.table))),
  );
}

/** Throws UsageError listing someone else's objects (nothing is changed). */
export function refuseForeignLeftovers(leftovers: Leftovers): void {
  if (leftovers.foreign.length === 0) return;
  throw new UsageError(
    [
      'these databases hold objects the rehearsal did not create and would collide with; remove them (or use other ' +
        'databases) and run again; nothing was changed:',
      ...leftovers.foreign.map((l) => `  - ${describe(l)}`),
    ].join('\n'),
  );
}

/** Removes the rehearsal's own leftovers of an earlier run, logging each. */
export async function removeLeftovers(
  ctx: RehearsalContext,
  servers: Servers,
  leftovers: Leftovers,
  copy: readonly TableName[] = [],
): Promise<void> {
  if (leftovers.own.length === 0) return;
  ctx.progress.log(
    `  removing what an earlier rehearsal left: ${leftovers.own.map(describe).join('; ')}${
      copy.length ? `; its copy in ${copy.map(formatTableName).join(', ')} on the target` : ''
    }`,
  );
  const { sourceUrl, targetUrl } = servers;
  // The way back first (its subscription on the source reads a slot on the target), then the forward replication.
  await teardownReverseReplication(servers, reverseReplicationName(sourceUrl));
  await teardownNativeReplication({ source: sourceUrl, target: targetUrl, name: replicationName(sourceUrl) });
  if (copy.length) await withAdmin(targetUrl, (c) => c.query(`TRUNCATE ${copy.map(qualify).join(', ')}`));
  for (const [side, url] of [
    ['target', targetUrl],
    ['source', sourceUrl],
  ] as const) {
    const objects = leftovers.own.filter((l) => l.server === side && (l.kind === 'slot' || l.kind === 'publication'));
    await withAdmin(url, async (c) => {
      for (const name of new Set(objects.map((o) => o.name))) await dropSlotAndPublication(c, name);
      if (await tableExists(c, MARKER_TABLE_SQL)) {
        const ids = (await markerCounts(c))
          .map((m) => m.migration_id)
          .filter((id) => isOwnMigration(id, ctx.options.migrationId));
        if (ids.length) await c.query(`DELETE FROM ${MARKER_TABLE_SQL} WHERE migration_id = ANY($1)`, [ids]);
      }
      await c.query(`DROP TABLE IF EXISTS ${qualify(PROBE_TABLE)}`);
    });
  }
  const roles = [...new Set(leftovers.own.filter((l) => l.kind === 'role').map((l) => `${l.server}:${l.name}`))];
  for (const key of roles) {
    const [server, role] = key.split(':') as ['source' | 'target', string];
    const urls = servers.sameServer ? [sourceUrl, targetUrl] : [server === 'source' ? sourceUrl : targetUrl];
    await dropRehearsalRole(urls, role);
  }
}
