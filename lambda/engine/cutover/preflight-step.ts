import { randomUUID } from 'node:crypto';
import { runPhase, sleep, withPools, type StepContext } from './common';
import { CutoverError, ERRORS } from '../../../contract';
import { inspectRoles, roleSessions } from './freeze-writes';
import { ensureMarkerTable, markerArrived, markerTableExists, writeMarker } from './marker';
import { preflight as sourcePreflight } from './validation-adapter';

/** Longest the preflight waits for its probe marker row to replicate. */
export const PREFLIGHT_PROBE_MAX_SECONDS = 60;

function fail(message: string): CutoverError {
  return new CutoverError(ERRORS.preflightFailed, message);
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
        `replication is not running: ${ctx.deps.replication.description} is ${status.state}${status.detail ? ` (${status.detail})` : ''}`,
      );
    }
    return withPools(ctx, async ({ source, target }) => {
      const report = await sourcePreflight(source, ctx.deps.tables);
      const errors = report.findings.filter((f) => f.severity === 'error');
      if (!report.ok || errors.length > 0) {
        throw fail(
          `source preflight found ${errors.length} problem(s): ` +
            errors
              .slice(0, 5)
              .map((f) => `[${f.code}] ${f.object}: ${f.message} → ${f.action}`)
              .join('; '),
        );
      }
      const warnings = report.findings.filter((f) => f.severity === 'warning');
      const sourceClient = await source.connect();
      const targetClient = await target.connect();
      try {
        let roles;
        try {
          roles = await inspectRoles(sourceClient, ctx.input.applicationRoles);
        } catch (error) {
          throw fail((error as Error).message.replace(/; nothing was changed$/, ''));
        }
        const sessions = await roleSessions(sourceClient, ctx.input.applicationRoles);
        const execute = ctx.input.mode === 'execute';
        const marker = {
          source: (await markerTableExists(sourceClient)) ? 'exists' : execute ? 'created' : 'missing',
          target: (await markerTableExists(targetClient)) ? 'exists' : execute ? 'created' : 'missing',
        };
        if (execute) {
          await ensureMarkerTable(sourceClient);
          await ensureMarkerTable(targetClient);
        }
        let probe: Record<string, unknown> = { skipped: true, reason: execute ? 'full load not complete' : 'dry run' };
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
            firstWarnings: warnings.slice(0, 5).map((f) => `[${f.code}] ${f.object}: ${f.message}`),
            roles,
            applicationSessions: sessions.length,
            markerTable: marker,
            markerProbe: probe,
          },
          line:
            `replication ${status.state}, ${report.tablesChecked} table(s) checked, ${warnings.length} warning(s), ` +
            `roles ${ctx.input.applicationRoles.join(', ')} have ${sessions.length} session(s); marker table on source ${marker.source}, target ${marker.target}.`,
        };
      } finally {
        sourceClient.release();
        targetClient.release();
      }
    });
  });
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
