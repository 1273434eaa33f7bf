/**
 * Part 3 of a rehearsal: who writes, who is frozen, who replicates.
 * - the application role (`--app-role`): the demo load or `--load` writes as it, the freeze acts on it. One the
 *   rehearsal did not create is refused unless `--freeze-existing-role`; it is then used as it is (no password
 *   change, no grant) and only its LOGIN / CONNECTION LIMIT are frozen and restored.
 * - the probe role: the probe writer's (user tables), frozen with the application role.
 * - the replication role: the subscription's login on the source (REPLICATION), with a password that exists only
 *   for this rehearsal — never the superuser's, whose password would otherwise sit in pg_subscription.
 */
import { MARKER_TABLE, ZDM_SCHEMA, type TableName } from '../../contract';
import { UsageError } from '../../cli/command-line';
import { restoreFromFreezeRecord } from '../../lambda/engine';
import { PROBE_TABLE, rehearsalRoleNames } from '../names';
import { withAdmin } from '../servers/pg-clients';
import {
  createRehearsalRole,
  dropRehearsalRole,
  grantTables,
  isRehearsalRole,
  readRole,
  type RoleFacts,
} from './roles';
import type { RehearsedTables } from '../tables/rehearsed-tables';
import type { RehearsalContext } from '../run-context';
import { newPassword } from './secrets';
import type { Servers } from '../servers/setup-servers';

export interface LoginRole {
  readonly name: string;
  /** Known only for roles the rehearsal created. */
  readonly password?: string;
  readonly created: boolean;
  /** Its settings before the rehearsal (a role that existed). */
  readonly before?: RoleFacts;
}

export interface RolePlan {
  readonly app?: { readonly name: string; readonly existing?: RoleFacts };
  readonly probe?: string;
  readonly replication: string;
}

export interface RehearsalRoles {
  readonly app?: LoginRole;
  readonly probe?: LoginRole;
  readonly replication: LoginRole;
  /** The roles the cutover freezes (its applicationRoles). */
  readonly frozen: string[];
  /** The role the rehearsal's own writer (demo load or probe) writes as. */
  readonly writer: LoginRole;
}

/**
 * Decides the roles and refuses an existing application role without --freeze-existing-role. Changes nothing, but for
 * a role that a killed run left frozen: it gets back exactly the settings that run recorded on the server.
 */
export async function planRoles(ctx: RehearsalContext, servers: Servers): Promise<RolePlan> {
  const { options } = ctx;
  const names = rehearsalRoleNames(servers.sourceUrl);
  const needsApp = options.demo || options.load !== undefined;
  const appName = options.appRole ?? (needsApp ? names.app : undefined);
  let app: RolePlan['app'];
  if (appName) {
    let existing = await withAdmin(servers.sourceUrl, (c) => readRole(c, appName));
    if (existing && !isRehearsalRole(existing) && options.freezeExistingRole) {
      // A run killed inside a freeze (SIGKILL: nothing could restore it) left the originals in zdm_cutover.frozen_roles.
      for (const { side, url } of sides(servers)) {
        const restored = await withAdmin(url, (c) => restoreFromFreezeRecord(c, [appName]));
        for (const r of restored) {
          ctx.progress.log(
            `  ${r.role} was left frozen on the ${side} by ${r.migrationId} (frozen at ${r.frozenAt}): restored as it ` +
              `recorded it (${r.canLogin ? 'LOGIN' : 'NOLOGIN'}, CONNECTION LIMIT ${r.connectionLimit})`,
          );
        }
      }
      existing = await withAdmin(servers.sourceUrl, (c) => readRole(c, appName));
    }
    if (existing && !isRehearsalRole(existing)) {
      if (!options.freezeExistingRole) {
        throw new UsageError(
          `--app-role ${appName} exists on the source and the rehearsal did not create it: the freeze would block its ` +
            'logins (NOLOGIN, CONNECTION LIMIT 0) and end its sessions until the end of the rehearsal. Pass ' +
            '--freeze-existing-role to allow that (its settings are saved and restored; its password is never ' +
            'changed), or leave out --app-role; nothing was changed',
        );
      }
      if (!existing.canLogin || existing.connectionLimit === 0) {
        // Frozen already: by a cutover, or by a rehearsal killed before it could restore it. Saving these settings
        // as the "original" ones would keep it frozen after the rehearsal.
        throw new UsageError(
          `--app-role ${appName} cannot log in on the source now (${existing.canLogin ? 'LOGIN' : 'NOLOGIN'}, ` +
            `CONNECTION LIMIT ${existing.connectionLimit}): is it frozen (a cutover, or a rehearsal that was killed)? ` +
            `No run recorded its settings (zdm_cutover.frozen_roles has no row for it): give it its usual settings ` +
            `first (ALTER ROLE ${appName} LOGIN CONNECTION LIMIT <its limit, -1 for none>); nothing was changed`,
        );
      }
      if (options.demo && !servers.sameServer) {
        const onTarget = await withAdmin(servers.targetUrl, (c) => readRole(c, appName));
        if (!onTarget) {
          throw new UsageError(
            `--app-role ${appName} exists on the source but not on the target: the demo load writes to the target ` +
              'after the switch as the same role; nothing was changed',
          );
        }
      }
      app = { name: appName, existing };
    } else {
      app = { name: appName };
    }
  }
  return { ...(app ? { app } : {}), ...(options.demo ? {} : { probe: names.probe }), replication: names.replication };
}

function sides(servers: Servers): Array<{ side: 'source' | 'target'; url: string }> {
  return servers.sameServer
    ? [{ side: 'source', url: servers.sourceUrl }]
    : [
        { side: 'source', url: servers.sourceUrl },
        { side: 'target', url: servers.targetUrl },
      ];
}

/** Both databases of one server, or the one database of a side. */
function databasesOf(servers: Servers, side: 'source' | 'target'): string[] {
  return servers.sameServer
    ? [servers.sourceUrl, servers.targetUrl]
    : [side === 'source' ? servers.sourceUrl : servers.targetUrl];
}

async function createRole(
  ctx: RehearsalContext,
  servers: Servers,
  name: string,
  where: ReadonlyArray<'source' | 'target'>,
  options: { replication?: boolean; keep?: (side: 'source' | 'target') => string | undefined } = {},
): Promise<LoginRole> {
  const password = newPassword();
  ctx.secrets.add(password);
  for (const { side, url } of sides(servers)) {
    if (!where.includes(side) && !servers.sameServer) continue;
    await withAdmin(url, (c) => createRehearsalRole(c, name, password, options));
    ctx.ledger.push({
      name: `drop role ${name} on the ${servers.sameServer ? 'server' : side}`,
      run: async () => {
        const why = options.keep?.(side);
        if (why) {
          ctx.progress.log(`  kept role ${name} on the ${side} (${why})`);
          return;
        }
        await dropRehearsalRole(databasesOf(servers, side), name);
      },
    });
  }
  return { name, password, created: true };
}

/** The tables each side's privileges cover (selected tables; the workflow's marker and probe tables). */
function workflowTables(): TableName[] {
  return [{ schema: ZDM_SCHEMA, table: MARKER_TABLE }, PROBE_TABLE];
}

/**
 * Creates the roles of the plan (the workflow schema and the rehearsed tables exist by now) and registers their
 * removal. `keptFrozen` tells, at the end, whether the freeze is being kept (`--keep-frozen`): frozen roles stay.
 */
export async function createRoles(
  ctx: RehearsalContext,
  servers: Servers,
  plan: RolePlan,
  tables: RehearsedTables,
  keptFrozen: () => boolean,
): Promise<RehearsalRoles> {
  const { options } = ctx;
  const keepIfFrozen = (): string | undefined => (keptFrozen() ? '--keep-frozen: the source stays frozen' : undefined);
  // The way back: the reverse subscription (on the source) logs in to the target as the same replication role.
  const wayBack = options.wayBack;
  const replication = await createRole(ctx, servers, plan.replication, wayBack ? ['source', 'target'] : ['source'], {
    replication: true,
    // --keep-replication keeps the forward replication (its login is on the source); the way back is removed.
    keep: (side) =>
      options.keepReplication && side === 'source' ? '--keep-replication: the subscription logs in as it' : undefined,
  });
  const published = [...tables.tables, ...workflowTables()];
  for (const url of wayBack ? [servers.sourceUrl, servers.targetUrl] : [servers.sourceUrl]) {
    await withAdmin(url, (c) => grantTables(c, replication.name, published, 'read'));
  }

  let probe: LoginRole | undefined;
  if (plan.probe) {
    probe = await createRole(ctx, servers, plan.probe, ['source', 'target'], { keep: keepIfFrozen });
    for (const url of [servers.sourceUrl, servers.targetUrl]) {
      await withAdmin(url, (c) => grantTables(c, plan.probe!, [PROBE_TABLE], 'write'));
    }
  }

  let app: LoginRole | undefined;
  if (plan.app) {
    // The application writes to the target after the switch only in the demo (--load stays on the source).
    const where: Array<'source' | 'target'> = options.demo ? ['source', 'target'] : ['source'];
    app = plan.app.existing
      ? { name: plan.app.name, created: false, before: plan.app.existing }
      : await createRole(ctx, servers, plan.app.name, where, { keep: keepIfFrozen });
    // Privileges on the demo tables (dropped with them), or, for a role the rehearsal made, on the user's tables.
    if (options.demo || app.created) {
      for (const url of options.demo ? [servers.sourceUrl, servers.targetUrl] : [servers.sourceUrl]) {
        await withAdmin(url, (c) => grantTables(c, app!.name, tables.tables, 'write'));
      }
    }
  }
  const writer = options.demo ? app : probe;
  if (!writer) throw new Error('internal: the rehearsal has no writer role');
  const frozen = [...new Set([...(app ? [app.name] : []), ...(probe ? [probe.name] : [])])];
  return { ...(app ? { app } : {}), ...(probe ? { probe } : {}), replication, frozen, writer };
}

/**
 * The roles of `roles` that exist on the target: the ones the fallback freezes there (the application logs in on the
 * target after the cutover as those; a role only the source has — the `--load` role of your own tables, which stays
 * on the source — has nothing to freeze on the target).
 */
export async function rolesOnTarget(servers: Servers, roles: readonly string[]): Promise<string[]> {
  const { rows } = await withAdmin(servers.targetUrl, (c) =>
    c.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])`, [roles]),
  );
  return roles.filter((r) => rows.some((row) => row.rolname === r));
}
