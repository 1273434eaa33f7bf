/**
 * Which PostgreSQL roles the cutover may freeze, as far as their names tell: one rule for the construct (synth time,
 * lib/cutover/cutover-workflow.ts), the execution input (lambda/engine/cutover/validate-input.ts), the freeze itself
 * (lambda/engine/cutover/freeze-writes.ts) and preflight (lambda/engine/preflight/checks/application-roles.ts, which
 * adds what only the server knows: superusers, REPLICATION, the workflow's own role, NOLOGIN).
 *
 * Runtime-dependency free (the construct library imports it).
 */

/** Role names that are never application roles (besides every `pg_*` name): PostgreSQL's and RDS / Aurora's own. */
export const RESERVED_ROLE_NAMES: readonly string[] = [
  'postgres',
  'public',
  'rdsadmin',
  'rdsrepladmin',
  'rdstopmgr',
  'rds_superuser',
  'rds_replication',
  'rds_password',
  'rds_iam',
  'rds_ad',
];

/** The most application roles one cutover freezes (the saved freeze must fit a DynamoDB item and the state). */
export const MAX_APPLICATION_ROLES = 1000;

/** PostgreSQL's longest identifier (NAMEDATALEN - 1). */
export const MAX_ROLE_NAME_LENGTH = 63;

/** Why a role may never be frozen whatever the server says about it (its name), or undefined. */
export function reservedRoleName(role: string): string | undefined {
  if (role.startsWith('pg_')) return 'reserved: names starting with pg_ are PostgreSQL predefined roles';
  if (RESERVED_ROLE_NAMES.includes(role)) return 'reserved system role';
  return undefined;
}

/** Whether `role` has the shape of a role name: text of 1 to 63 characters, not blank, without NUL. */
export function isRoleName(role: unknown): role is string {
  return (
    typeof role === 'string' && role.trim().length > 0 && role.length <= MAX_ROLE_NAME_LENGTH && !role.includes('\0')
  );
}

/** The first thing wrong with a list of application roles (see {@link applicationRolesProblem}). */
export type ApplicationRolesProblem =
  | { readonly kind: 'not-a-list'; readonly value: unknown }
  | { readonly kind: 'too-many'; readonly value: unknown; readonly count: number }
  | { readonly kind: 'not-a-name'; readonly index: number; readonly value: unknown }
  | { readonly kind: 'reserved'; readonly index: number; readonly role: string; readonly reason: string }
  | { readonly kind: 'repeated'; readonly role: string };

/**
 * The one rule for `applicationRoles` (construct prop, execution input, the freeze): a list of at most
 * MAX_APPLICATION_ROLES role names, none reserved, none repeated. Returns the first problem, or undefined. Whether an
 * empty list is acceptable depends on what the execution does, so it is left to the caller.
 *
 * `isUnresolved` (synth time): names that are deploy-time tokens, checked only for repeats.
 */
export function applicationRolesProblem(
  roles: unknown,
  options: { readonly isUnresolved?: (role: string) => boolean } = {},
): ApplicationRolesProblem | undefined {
  if (!Array.isArray(roles)) return { kind: 'not-a-list', value: roles };
  const list = roles as unknown[];
  if (list.length > MAX_APPLICATION_ROLES) return { kind: 'too-many', value: list, count: list.length };
  for (const [index, role] of list.entries()) {
    if (typeof role === 'string' && options.isUnresolved?.(role) === true) continue;
    if (!isRoleName(role)) return { kind: 'not-a-name', index, value: role };
    const reason = reservedRoleName(role);
    if (reason) return { kind: 'reserved', index, role, reason };
  }
  const repeated = list.find((role, i) => list.indexOf(role) !== i);
  if (repeated !== undefined) return { kind: 'repeated', role: repeated as string };
  return undefined;
}

/** What an {@link ApplicationRolesProblem} says: the field (`applicationRoles[2]`), its value and what was expected. */
export function describeApplicationRolesProblem(
  problem: ApplicationRolesProblem,
  field = 'applicationRoles',
): { readonly field: string; readonly value: unknown; readonly expected: string } {
  switch (problem.kind) {
    case 'not-a-list':
      return { field, value: problem.value, expected: 'must be a list of role names' };
    case 'too-many':
      return {
        field,
        value: problem.value,
        expected: `must list at most ${MAX_APPLICATION_ROLES} roles (it lists ${problem.count})`,
      };
    case 'not-a-name':
      return {
        field: `${field}[${problem.index}]`,
        value: problem.value,
        expected: `must be a role name of 1 to ${MAX_ROLE_NAME_LENGTH} characters without NUL`,
      };
    case 'reserved':
      return {
        field: `${field}[${problem.index}]`,
        value: problem.role,
        expected: `must be a role the application logs in as (${problem.reason})`,
      };
    case 'repeated':
      return { field, value: problem.role, expected: 'must not repeat a role' };
  }
}

/**
 * The one rule for `acknowledgedWriters` (construct prop, execution input): a list of at most MAX_APPLICATION_ROLES
 * role names, none repeated, none also an application role (a role is frozen or vouched for, not both). Returns what
 * is wrong (field, value, expected), or undefined.
 */
export function acknowledgedWritersProblem(
  writers: unknown,
  applicationRoles: readonly string[],
  options: { readonly isUnresolved?: (role: string) => boolean } = {},
): { readonly field: string; readonly value: unknown; readonly expected: string } | undefined {
  const field = 'acknowledgedWriters';
  if (!Array.isArray(writers) || writers.length > MAX_APPLICATION_ROLES) {
    return { field, value: writers, expected: `must be a list of at most ${MAX_APPLICATION_ROLES} role names` };
  }
  const list = writers as unknown[];
  for (const [index, role] of list.entries()) {
    if (typeof role === 'string' && options.isUnresolved?.(role) === true) continue;
    if (!isRoleName(role)) {
      return {
        field: `${field}[${index}]`,
        value: role,
        expected: `must be a role name of 1 to ${MAX_ROLE_NAME_LENGTH} characters without NUL`,
      };
    }
    if (applicationRoles.includes(role)) {
      return {
        field: `${field}[${index}]`,
        value: role,
        expected: 'must not also be an application role (it is frozen)',
      };
    }
    if (list.indexOf(role) !== index) return { field, value: role, expected: 'must not repeat a role' };
  }
  return undefined;
}
