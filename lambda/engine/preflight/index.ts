/**
 * Readiness for DMS full-load-and-cdc and the cutover, like DMS premigration assessments: one rule per file under
 * `checks/` (settings, capacity for DMS's and the change tracking's replication slots and WAL senders, open
 * transactions, the application roles the freeze will touch, per-table findings), on the source and optionally the
 * target.
 */
import type { Pool } from 'pg';
import type { PreflightFinding, PreflightReport } from '../validation/types';
import type { TableSelection } from '../../../contract';
import { SOURCE_CHECKS, TARGET_CHECKS } from './checks';
import { createPreflightContext } from './context';
import type { PreflightCheck, PreflightContext, PreflightRunOptions } from './types';

export * from './types';
export { ALL_CHECKS, SOURCE_CHECKS, TARGET_CHECKS } from './checks';
export { createPreflightContext, readServerSettings } from './context';
export {
  PARTITION_SELECTION_RULE,
  partitionSelectedMessage,
  selectedPartitions,
  type SelectedPartitions,
} from './checks/partition-selected';
export {
  describeRoleRefusals,
  refusedApplicationRoles,
  reservedRoleReason,
  MAX_LISTED_ROLES,
  type RoleRefusal,
} from './checks/application-roles';

/** Runs `checks` against `ctx` (concurrently, findings in check order). Table checks need PostgreSQL 12 or later. */
export async function runChecks(checks: readonly PreflightCheck[], ctx: PreflightContext): Promise<PreflightFinding[]> {
  const modern = (await ctx.settings()).versionNum >= 120000;
  const results = await Promise.all(
    checks.filter((c) => c.side === ctx.side && (modern || c.scope === 'server')).map((c) => c.run(ctx)),
  );
  return results.flat();
}

/**
 * Checks the source (and the target, when `options.target` is given). `ok` is false when any finding is an error;
 * `serverVersion` and `tablesChecked` are the source's.
 */
export async function preflight(
  source: Pool,
  selection: TableSelection,
  options: PreflightRunOptions = {},
): Promise<PreflightReport> {
  const ctx = createPreflightContext('source', source, selection, options);
  const findings = await runChecks(SOURCE_CHECKS, ctx);
  if (options.target) findings.push(...(await preflightTarget(options.target, options)).findings);
  const settings = await ctx.settings();
  const tablesChecked = settings.versionNum >= 120000 ? (await ctx.catalog()).tables.length : 0;
  return {
    ok: !findings.some((f) => f.severity === 'error'),
    serverVersion: settings.version,
    tablesChecked,
    findings,
  };
}

/** Checks the target only: logical decoding and free slots for the workflow's change tracking. */
export async function preflightTarget(
  target: Pool,
  options: Pick<PreflightRunOptions, 'trackingSlots'> = {},
): Promise<PreflightReport> {
  const ctx = createPreflightContext('target', target, { include: [] }, options);
  const findings = await runChecks(TARGET_CHECKS, ctx);
  return {
    ok: !findings.some((f) => f.severity === 'error'),
    serverVersion: (await ctx.settings()).version,
    tablesChecked: 0,
    findings,
  };
}
