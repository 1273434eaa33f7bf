import { randomUUID } from 'node:crypto';
import { runPhase } from './phase-records';
import { sleep, listBounded } from '../helpers';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { withPooledClient } from '../pg/connection';
import { MAX_LISTED_ROLES } from '../preflight/checks/application-roles';
import type { PreflightFinding } from '../validation/types';
import { CutoverError, ERRORS } from '../../../contract';
import { inspectRoles, roleSessions } from './freeze-writes';
import { ensureMarkerTable, markerArrived, markerTableExists, writeMarker } from './marker';
import { ensureFreezeRecordTable } from './freeze-record';
import { preflight as sourcePreflight } from './validation-adapter';
import { sharedPool } from './connections';
import { guardedBreak } from './way-back-guard';

/** Longest the preflight waits for its probe marker row to replicate. */
export const PREFLIGHT_PROBE_MAX_SECONDS = 60;

function fail(message: string): CutoverError {
  return new CutoverError(ERRORS.preflightFailed, message);
}

/**
 * The fallback's replication (the way back) is not running: what its guard recorded on the old source is the likely
 * cause, and is named (a broken native subscription below PostgreSQL 15 shows only as restarting). Empty otherwise.
 */
async function wayBackGuardSays(ctx: StepContext): Promise<string> {
  if (ctx.input.direction !== 'fallback') return '';
  const broken = await sharedPool(ctx.deps, 'target')
    .then(guardedBreak)
    .catch(() => undefined);
  return broken ? `; ${broken}` : '';
}

/**
 * Before anything changes: replication is running, the source passes the validation engine's preflight, the
 * application roles exist and can be frozen, and the marker table exists on both sides (created when mode is
 * execute). In execute mode, once the full load is complete, a probe marker row proves the marker table
 * replicates (it must be in the DMS table mappings / the publication) — final sync depends on it.
 */
export async function preflightStep(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'preflight', async () => {
    const status = await ctx.deps.replication.status();
    if (status.state !== 'running') {
      throw fail(
        `replication is not running: ${ctx.deps.replication.description} is ${status.state}${status.detail ? ` (${status.detail})` : ''}` +
          (await wayBackGuardSays(ctx)),
      );
    }
    // Roles this migration froze already (a resumed run) are NOLOGIN because of the freeze, not by design.
    const freeze = (await ctx.deps.state.get(ctx.key))?.freeze;
    const roles = ctx.input.applicationRoles;
    // DMS fails its task on a LOB over the deployed LobMaxSize; an engine without that limit gets warnings instead.
    const lob = await ctx.deps.replication.lobSettings?.();
    return withPools(ctx, async ({ source, target }) => {
      // Everything is checked before anything changes (the marker table is created only after this).
      const report = await sourcePreflight(source, ctx.deps.tables, {
        target,
        // Replication runs (checked above): its slot and WAL sender exist already.
        replicationSlots: 0,
        applicationRoles: roles,
        acknowledgedWriters: ctx.input.acknowledgedWriters,
        // The way back writes on this side after the switch (the fallback's own preflight checks Aurora).
        reverseReplication: Boolean(ctx.deps.reverse),
        frozenRoles: freeze && !freeze.restoredAt ? freeze.roles : [],
        ...(lob ?? { lobLimitUnknown: true }),
      });
      const errors = report.findings.filter((f) => f.severity === 'error');
      if (!report.ok || errors.length > 0) throw fail(describeErrors(errors));
      const warnings = report.findings.filter((f) => f.severity === 'warning');
      return withPooledClient(source, (sourceClient) =>
        withPooledClient(target, async (targetClient) => {
          let saved;
          try {
            saved = await inspectRoles(sourceClient, roles);
          } catch (error) {
            throw fail((error as Error).message.replace(/; nothing was changed$/, ''));
          }
          const sessions = await roleSessions(sourceClient, roles);
          const execute = ctx.input.mode === 'execute';
          const marker = {
            source: (await markerTableExists(sourceClient)) ? 'exists' : execute ? 'created' : 'missing',
            target: (await markerTableExists(targetClient)) ? 'exists' : execute ? 'created' : 'missing',
          };
          if (execute) {
            await ensureMarkerTable(sourceClient);
            await ensureMarkerTable(targetClient);
            // Where the freeze records what it saved (on the server it freezes: the source; the fallback's, the target).
            await ensureFreezeRecordTable(sourceClient);
          }
          let probe: Record<string, unknown> = {
            skipped: true,
            reason: execute ? 'full load not complete' : 'dry run',
          };
          if (execute && status.fullLoadComplete) {
            probe = await probeMarker(ctx, sourceClient, targetClient);
          }
          return {
            result: {
              replication: {
                state: status.state,
                fullLoadComplete: status.fullLoadComplete,
                lagSeconds: status.lagSeconds,
              },
              serverVersion: report.serverVersion,
              tablesChecked: report.tablesChecked,
              warnings: warnings.length,
              firstWarnings: warnings.slice(0, 5).map((f) => bounded(`[${f.code}] ${f.object}: ${f.message}`, 300)),
              roles: saved.slice(0, MAX_LISTED_ROLES),
              applicationRoles: roles.length,
              applicationSessions: sessions.length,
              markerTable: marker,
              markerProbe: probe,
            },
            line:
              `replication ${status.state}, ${report.tablesChecked} table(s) checked, ${warnings.length} warning(s), ` +
              `roles ${listBounded(roles, MAX_LISTED_ROLES)} have ${sessions.length} session(s); marker table on source ${marker.source}, target ${marker.target}.`,
          };
        }),
      );
    });
  });
}

function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The preflight errors in one bounded message: at most 10 findings, each bounded, then how many more. */
export function describeErrors(errors: readonly PreflightFinding[]): string {
  const shown = errors.slice(0, 10).map((f) => bounded(`[${f.code}] ${f.object}: ${f.message} → ${f.action}`, 7000));
  const more = errors.length - shown.length;
  return bounded(
    `preflight found ${errors.length} problem(s), nothing was changed: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
    12_000,
  );
}

async function probeMarker(
  ctx: StepContext,
  source: Parameters<typeof writeMarker>[0],
  target: Parameters<typeof markerArrived>[0],
): Promise<Record<string, unknown>> {
  const token = `preflight-${randomUUID()}`;
  const started = Date.now();
  const limitSeconds = Math.min(ctx.input.finalSyncTimeoutSeconds, PREFLIGHT_PROBE_MAX_SECONDS);
  await writeMarker(source, ctx.input.migrationId, token);
  while (!(await markerArrived(target, ctx.input.migrationId, token))) {
    if (Date.now() - started > limitSeconds * 1000) {
      throw fail(
        `a probe row written to zdm_cutover.cutover_marker on the source did not reach the target within ${limitSeconds}s: ` +
          `the marker table must be replicated (DMS table mappings / the publication must include it), or replication is stalled`,
      );
    }
    await sleep(100);
  }
  return { arrivedMs: Date.now() - started };
}
