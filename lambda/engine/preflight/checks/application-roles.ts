/**
 * The roles the cutover freezes (ALTER ROLE … NOLOGIN CONNECTION LIMIT 0, then ends their sessions) must be roles the
 * application logs in as, and nothing else. Checked before anything changes; the freeze re-checks the reserved ones
 * (freeze-writes.ts) in case preflight was skipped.
 *
 * Refused, each with its reason:
 * - a role that does not exist;
 * - reserved names: `pg_*` (PostgreSQL's predefined roles), `public`, the RDS / Aurora system roles;
 * - superusers and members of `rds_superuser`: administrators (freezing one can lock out administration, and a
 *   superuser's sessions are not the application's);
 * - roles with REPLICATION and members of `rds_replication`, and any role a WAL sender is connected as right now
 *   (DMS, a subscription): freezing it stops replication;
 * - the role the workflow itself connects as (session_user / current_user);
 * - roles that cannot log in (NOLOGIN) by design: group roles such as `pg_monitor` have no sessions to block. A role
 *   this migration froze already (the saved freeze record says it could log in) is NOLOGIN because of the freeze,
 *   and is accepted, so a resumed run passes.
 *
 * BYPASSRLS is accepted: it only widens which rows a role reads and writes. It is neither a system nor a replication
 * privilege (DMS and subscriptions are caught by the rules above), and application roles of multi-tenant systems and
 * batch jobs often have it; freezing such a role is as safe as freezing any other.
 */
import type { ClientBase } from 'pg';
import { reservedRoleName } from '../../../../contract';
import type { SavedRoleSettings } from '../../ports';
import { finding } from '../context';
import type { PreflightCheck } from '../types';

type Queryable = Pick<ClientBase, 'query'>;

/** The most roles a refusal lists by name; the rest are counted. */
export const MAX_LISTED_ROLES = 20;

export interface RoleRefusal {
  readonly role: string;
  readonly reasons: string[];
}

/**
 * Why a role may never be frozen from its name and attributes (superuser, REPLICATION), or undefined. Used by the
 * freeze itself as the last line of defense.
 */
export function reservedRoleReason(role: {
  readonly rolname: string;
  readonly rolsuper?: boolean;
  readonly rolreplication?: boolean;
}): string | undefined {
  return (
    reservedRoleName(role.rolname) ??
    (role.rolsuper ? 'superuser' : undefined) ??
    (role.rolreplication ? 'has the REPLICATION attribute (replication connections use it)' : undefined)
  );
}

function show(role: string): string {
  const shown = JSON.stringify(role);
  return shown.length > 70 ? `${shown.slice(0, 70)}…"` : shown;
}

/** `"a" (why; why), "b" (why) and 3 more`: at most MAX_LISTED_ROLES roles, each reason once. */
export function describeRoleRefusals(refusals: readonly RoleRefusal[], max = MAX_LISTED_ROLES): string {
  const listed = refusals.slice(0, max).map((r) => `${show(r.role)} (${r.reasons.join('; ')})`);
  const more = refusals.length - listed.length;
  const text = `${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  return text.length > 6000 ? `${text.slice(0, 6000)}… (${refusals.length} role(s))` : text;
}

/** Every role of `roles` that may not be frozen, with its reasons, in the order given. */
export async function refusedApplicationRoles(
  db: Queryable,
  roles: readonly string[],
  frozenRoles: readonly SavedRoleSettings[] = [],
): Promise<RoleRefusal[]> {
  const { rows } = await db.query<{
    name: string;
    found: boolean;
    superuser: boolean;
    replication: boolean;
    can_login: boolean;
    own: boolean;
    walsender_pid: number | null;
    rds_groups: string | null;
  }>(
    `SELECT r.name, a.oid IS NOT NULL AS found, coalesce(a.rolsuper, false) AS superuser,
            coalesce(a.rolreplication, false) AS replication, coalesce(a.rolcanlogin, false) AS can_login,
            r.name IN (session_user::text, current_user::text) AS own,
            (SELECT min(s.pid) FROM pg_stat_activity s
              WHERE s.backend_type = 'walsender' AND s.usesysid = a.oid) AS walsender_pid,
            (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_roles g
              WHERE g.rolname IN ('rds_superuser', 'rds_replication') AND a.oid IS NOT NULL AND NOT a.rolsuper
                AND g.oid <> a.oid AND pg_has_role(a.oid, g.oid, 'MEMBER')) AS rds_groups
       FROM unnest($1::text[]) WITH ORDINALITY AS r(name, ord)
       LEFT JOIN pg_roles a ON a.rolname = r.name
      ORDER BY r.ord`,
    [roles],
  );
  const refusals: RoleRefusal[] = [];
  for (const r of rows) {
    const reasons: string[] = [];
    const reserved = reservedRoleName(r.name);
    if (reserved) reasons.push(reserved);
    if (!r.found) {
      reasons.push('does not exist on the source');
    } else {
      const groups = (r.rds_groups ?? '').split(',').filter(Boolean);
      if (r.superuser) reasons.push('superuser');
      if (groups.includes('rds_superuser')) reasons.push('member of rds_superuser (an administrator)');
      if (r.replication) reasons.push('has the REPLICATION attribute (replication connections use it)');
      if (groups.includes('rds_replication'))
        reasons.push('member of rds_replication (replication connections use it)');
      if (r.walsender_pid !== null) {
        reasons.push(
          `a replication connection (walsender pid ${r.walsender_pid}) uses it: freezing it stops replication`,
        );
      }
      if (r.own) reasons.push('the cutover workflow connects to the source as this role');
      const frozenByUs = frozenRoles.some((s) => s.role === r.name && s.canLogin);
      if (!r.can_login && !frozenByUs) reasons.push('cannot log in (NOLOGIN): it has no sessions to block');
    }
    if (reasons.length > 0) refusals.push({ role: r.name, reasons });
  }
  return refusals;
}

export const applicationRoles: PreflightCheck = {
  code: 'application-roles',
  side: 'source',
  scope: 'server',
  severity: 'error',
  description:
    'Every application role the cutover will freeze exists, can log in, and is not reserved, a superuser, a replication role or the workflow’s own.',
  fix: 'List only the roles the application logs in as (applicationRoles); give the workflow and replication roles of their own. Nothing was changed.',
  async run(ctx) {
    const roles = ctx.options.applicationRoles;
    if (!roles || roles.length === 0) return [];
    const refusals = await refusedApplicationRoles(ctx.db, roles, ctx.options.frozenRoles);
    if (refusals.length === 0) return [];
    return [
      finding(
        applicationRoles,
        'applicationRoles',
        `${refusals.length} of ${roles.length} application role(s) cannot be frozen: ${describeRoleRefusals(refusals)}`,
      ),
    ];
  },
};
