/**
 * Every writer is known. The freeze blocks the application roles only; any other login role that can write a
 * selected table can still write after the freeze, and such a write reaches the source after the final-sync marker,
 * so it is not on the target (the cutover then ends in LateWritesFound). Named here, before anything is frozen:
 *
 * - a role with open sessions in this database right now is an error (it is writing, or may be);
 * - a role with none is a warning (it may log in during the cutover);
 * - unless the operator acknowledged it (`acknowledgedWriters`: "it will not write selected tables during the cutover").
 *
 * Not listed: the application roles (frozen), the workflow's own role (session_user / current_user), roles connected
 * as WAL senders right now (replication), reserved names (`pg_*`, the RDS system roles), roles that cannot log in.
 * "Can write" is what PostgreSQL says: superuser, owner (or a member of the owner), or INSERT / UPDATE / DELETE /
 * TRUNCATE granted on the table (directly, through a group, or to PUBLIC).
 */
import { finding } from '../context';
import type { PreflightCheck } from '../types';
import { RESERVED_ROLE_NAMES } from '../../../../contract';
import { redactQuery } from '../../pg/redact-query';

/** Roles listed by name at most (the rest are counted). */
const MAX_LISTED = 20;

interface WriterRow {
  readonly role: string;
  readonly superuser: boolean;
  readonly tables: number;
  readonly sessions: number;
  readonly last_query: string | null;
}

export const unfrozenWriters: PreflightCheck = {
  code: 'unfrozen-writers',
  side: 'source',
  scope: 'tables',
  severity: 'error',
  description:
    'No login role other than the application roles can write the selected tables with sessions open (a write it ' +
    'makes after the freeze would not reach the target); roles that could but have no session are warned about.',
  fix:
    'Add the role to applicationRoles (it is frozen with them), stop its writers and end its sessions, or list it ' +
    'in acknowledgedWriters if it will not write the selected tables during the cutover. A write after the freeze ' +
    'fails the cutover in LateWritesFound. Nothing was changed.',
  async run(ctx) {
    const application = ctx.options.applicationRoles;
    if (!application || application.length === 0) return [];
    const catalog = await ctx.catalog();
    if (catalog.tables.length === 0) return [];
    const acknowledged = ctx.options.acknowledgedWriters ?? [];
    const { rows } = await ctx.db.query<WriterRow>(
      `WITH selected AS (
         SELECT c.oid, c.relowner
           FROM unnest($1::text[], $2::text[]) AS s(nsp, rel)
           JOIN pg_namespace n ON n.nspname = s.nsp
           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.rel
       ), candidates AS (
         SELECT r.oid, r.rolname, r.rolsuper
           FROM pg_roles r
          WHERE r.rolcanlogin
            AND r.rolname NOT LIKE 'pg\\_%'
            AND NOT (r.rolname = ANY($3::text[]))
            AND r.rolname NOT IN (session_user::text, current_user::text)
            AND NOT EXISTS (SELECT 1 FROM pg_stat_activity w WHERE w.backend_type = 'walsender' AND w.usesysid = r.oid)
       )
       SELECT c.rolname AS role, c.rolsuper AS superuser,
              (SELECT count(*) FROM selected t
                WHERE c.rolsuper OR pg_has_role(c.oid, t.relowner, 'MEMBER')
                   OR has_table_privilege(c.oid, t.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))::int AS tables,
              s.sessions, s.last_query
         FROM candidates c
         CROSS JOIN LATERAL (
           SELECT count(*)::int AS sessions,
                  (array_agg(left(a.query, 400) ORDER BY a.state_change DESC NULLS LAST))[1] AS last_query
             FROM pg_stat_activity a
            WHERE a.usesysid = c.oid AND a.datname = current_database() AND a.backend_type = 'client backend'
              AND a.pid <> pg_backend_pid()
         ) s
        ORDER BY c.rolname`,
      [
        catalog.tables.map((t) => t.name.schema),
        catalog.tables.map((t) => t.name.table),
        [...application, ...acknowledged, ...RESERVED_ROLE_NAMES],
      ],
    );
    const writers = rows.filter((r) => r.tables > 0);
    const total = catalog.tables.length;
    const findings = writers.slice(0, MAX_LISTED).map((w) => {
      const can = `${w.superuser ? 'a superuser: ' : ''}can write ${w.tables} of ${total} selected table(s)`;
      if (w.sessions > 0) {
        const last = w.last_query ? `; its latest statement: ${redactQuery(w.last_query)}` : '';
        return finding(
          unfrozenWriters,
          `role ${JSON.stringify(w.role.slice(0, 63))}`,
          `${can} and is not frozen by the cutover; ${w.sessions} session(s) open in this database now${last}`,
        );
      }
      return finding(
        unfrozenWriters,
        `role ${JSON.stringify(w.role.slice(0, 63))}`,
        `${can} and is not frozen by the cutover (no session open now; a write it makes after the freeze fails the cutover)`,
        { severity: 'warning' },
      );
    });
    if (writers.length > MAX_LISTED) {
      findings.push(
        finding(unfrozenWriters, 'roles', `${writers.length - MAX_LISTED} more role(s) can write the selected tables`, {
          severity: writers.slice(MAX_LISTED).some((w) => w.sessions > 0) ? 'error' : 'warning',
        }),
      );
    }
    return findings;
  },
};
