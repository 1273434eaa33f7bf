/**
 * Schema changes to the selected tables while the migration runs. Every verification round reads both publications'
 * catalog signatures (they change with any DDL on a selected table, even one undone); when one changes, the schema
 * diff of the selected tables says what differs now between source and target (a column added on one side only
 * stops replication), and the operator is told at once, with the fix. Stored on the tracking record, so a later
 * iteration (another invocation) knows what was said.
 */
import type { Pool } from 'pg';
import { diffSchema } from '../schema';
import type { SchemaDifference } from '../validation/types';
import { notifyPhase } from './phase-records';
import type { StepContext } from './step-context';

/** Schema differences that stop or corrupt replication of a selected table. */
const BLOCKING = new Set(['table', 'column', 'generated-column', 'primary-key']);

export interface SchemaWatch {
  /** Signatures changed since the last round (DDL ran on a selected table). */
  readonly changed: boolean;
  /** Blocking differences between source and target now (from the last diff). */
  readonly differences: readonly SchemaDifference[];
  /** How long (ms) they have stood, 0 when there are none. */
  readonly standingMs: number;
}

/** One line: what differs and how to fix it. */
export function describeSchemaDifferences(differences: readonly SchemaDifference[]): string {
  return differences
    .slice(0, 5)
    .map((d) => `${d.message}${d.fix ? ` (fix on the target: ${d.fix.slice(0, 300)})` : ''}`)
    .join('; ')
    .concat(differences.length > 5 ? `; and ${differences.length - 5} more` : '');
}

export async function watchSchema(
  ctx: StepContext,
  pools: { source: Pool; target: Pool },
  signatures: { readonly source: string; readonly target: string },
): Promise<SchemaWatch> {
  const record = (await ctx.deps.state.get(ctx.key))?.tracking;
  const now = ctx.now().getTime();
  if (!record) return { changed: false, differences: [], standingMs: 0 };
  const seen = record.schema;
  // The first round diffs too: DDL may have run between the validation and the first look.
  if (seen && seen.source === signatures.source && seen.target === signatures.target) {
    return { changed: false, differences: seen.differences, standingMs: seen.since ? now - seen.since : 0 };
  }
  const report = await diffSchema(pools.source, pools.target, ctx.deps.tables);
  const differences = report.differences.filter((d) => d.severity === 'error' && BLOCKING.has(d.objectType));
  const sides = seen
    ? [seen.source !== signatures.source ? 'source' : '', seen.target !== signatures.target ? 'target' : '']
        .filter(Boolean)
        .join(' and ')
    : 'source or target';
  const since = differences.length ? (seen?.since ?? now) : undefined;
  await ctx.deps.state.putTracking(ctx.key, {
    ...record,
    schema: { ...signatures, differences: differences.slice(0, 20), ...(since ? { since } : {}) },
  });
  // Said the moment it is seen; the first look says nothing when both sides agree.
  if (!seen && differences.length === 0) return { changed: false, differences, standingMs: 0 };
  await notifyPhase(
    ctx,
    'waitForSync',
    'schema changed',
    differences.length
      ? `DDL ran on a selected table on the ${sides}; source and target now differ: ${describeSchemaDifferences(differences)}. ` +
          `Replication of these tables stops until both sides agree: apply the same DDL on the other side.`
      : `DDL ran on a selected table on the ${sides}; source and target agree on the selected tables' columns.`,
  );
  return { changed: true, differences, standingMs: since ? now - since : 0 };
}
