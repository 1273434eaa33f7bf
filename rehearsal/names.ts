/**
 * Names of everything the rehearsal creates on a server, and how it recognizes its own: objects are named after
 * the source database (a re-run against the same databases finds the previous run's), roles carry a comment.
 */
import { ZDM_SCHEMA, type TableName } from '../contract';

/** Prefix of every replication object the workflow or the rehearsal names (slots, publications, subscriptions). */
export const ZDM_PREFIX = 'zdm_';

/** The comment on every role the rehearsal creates (and the start of the one on its schema). */
export const REHEARSAL_ROLE_COMMENT = 'created by the zdm rehearsal (safe to drop)';
export const REHEARSAL_SCHEMA_COMMENT = 'created by the zdm rehearsal (safe to drop)';

/** The probe writer's table, in the workflow's own schema. */
export const PROBE_TABLE: TableName = { schema: ZDM_SCHEMA, table: 'rehearsal_probe' };

/** The comment on the probe table: which run (migration id) created it, so a later run finds what that one left. */
export function probeComment(migrationId: string): string {
  return `zdm rehearsal run ${migrationId} (safe to drop)`;
}

export function parseProbeComment(comment: string | null): string | undefined {
  const m = /^zdm rehearsal run (\S+) \(safe to drop\)$/.exec(comment ?? '');
  return m?.[1];
}

/** Migration ids the rehearsal makes up (`--migration-id` may name another: its marker rows are its own too). */
export const REHEARSAL_MIGRATION_PREFIX = 'rehearsal-';

function databaseOf(sourceUrl: string): string {
  return decodeURIComponent(new URL(sourceUrl).pathname.slice(1))
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
}

function named(prefix: string, sourceUrl: string): string {
  return `${prefix}${databaseOf(sourceUrl)}`.slice(0, 63);
}

/**
 * Name of the publication / subscription / slot the rehearsal creates. Slot names are per source server, so it
 * includes the database name (two rehearsals on one server, e.g. in tests, do not collide; a re-run reuses it).
 */
export function replicationName(sourceUrl: string): string {
  return named('zdm_rehearsal_', sourceUrl);
}

/**
 * Name of the reverse replication's publication (on the target), subscription (on the source) and slot (on the
 * target) in the fallback scenarios: the way back, target → source.
 */
export function reverseReplicationName(sourceUrl: string): string {
  return named('zdm_rh_rev_', sourceUrl);
}

export interface RehearsalRoleNames {
  /** The probe writer's login role (frozen with the application role). */
  readonly probe: string;
  /** The subscription's login on the source (REPLICATION; never frozen). */
  readonly replication: string;
  /** The application role the rehearsal creates on `--source/--target` when none is named. */
  readonly app: string;
}

export function rehearsalRoleNames(sourceUrl: string): RehearsalRoleNames {
  return {
    probe: named('zdm_rh_probe_', sourceUrl),
    replication: named('zdm_rh_repl_', sourceUrl),
    app: named('zdm_rh_app_', sourceUrl),
  };
}
