import { beginPhase, endPhase, notifyPhase, succeededPhase, type StepContext } from './common';
import { CutoverError, ERRORS, type LagCheckResult } from '../../../contract';

/**
 * One lag check of the wait-for-sync loop. A check is good when replication is running, the full load is
 * complete and lag ≤ threshold; `consecutive` counts good checks in a row (a bad one resets it to 0).
 * `synced` once `consecutive ≥ consecutiveChecks`; `timedOut` once `syncTimeoutSeconds` passed since the
 * cutover started without being synced. The state machine fails with ZdmSyncTimeout then (nothing was changed).
 * A replication engine in state `failed` ends the wait at once with ZdmReplicationFailed.
 */
export async function checkLag(
  ctx: StepContext,
  previous?: { readonly consecutive?: number },
): Promise<LagCheckResult & { state?: string; skipped?: boolean }> {
  const elapsedSeconds = Math.max(0, (ctx.now().getTime() - Date.parse(ctx.input.startedAt)) / 1000);
  const done = await succeededPhase(ctx, 'waitForSync');
  if (done) {
    return {
      lagSeconds: typeof done.lagSeconds === 'number' ? done.lagSeconds : null,
      consecutive: typeof done.consecutive === 'number' ? done.consecutive : ctx.input.consecutiveChecks,
      synced: true,
      timedOut: false,
      elapsedSeconds,
      skipped: true,
    };
  }
  const started = await beginPhase(ctx, 'waitForSync');
  const status = await ctx.deps.replication.status();
  if (status.state === 'failed') {
    const message = `${ctx.deps.replication.description} failed${status.detail ? `: ${status.detail}` : ''}`;
    await endPhase(ctx, 'waitForSync', started, 'failed', { state: status.state }, message);
    throw new CutoverError(ERRORS.replicationFailed, message);
  }
  const good =
    status.state === 'running' &&
    status.fullLoadComplete &&
    status.lagSeconds !== null &&
    status.lagSeconds <= ctx.input.lagThresholdSeconds;
  const prev = typeof previous?.consecutive === 'number' && previous.consecutive > 0 ? previous.consecutive : 0;
  const consecutive = good ? prev + 1 : 0;
  const synced = consecutive >= ctx.input.consecutiveChecks;
  const timedOut = !synced && elapsedSeconds > ctx.input.syncTimeoutSeconds;
  const result = {
    lagSeconds: status.lagSeconds,
    consecutive,
    synced,
    timedOut,
    elapsedSeconds: Math.round(elapsedSeconds * 10) / 10,
    state: status.state,
  };
  if (synced) {
    await endPhase(ctx, 'waitForSync', started, 'succeeded', { ...result, fullLoadComplete: status.fullLoadComplete });
    await notifyPhase(
      ctx,
      'waitForSync',
      'done',
      `lag ${status.lagSeconds}s ≤ ${ctx.input.lagThresholdSeconds}s for ${consecutive} consecutive checks (after ${result.elapsedSeconds}s).`,
    );
  } else if (timedOut) {
    const message =
      `replication did not stay within ${ctx.input.lagThresholdSeconds}s lag for ${ctx.input.consecutiveChecks} checks ` +
      `in ${ctx.input.syncTimeoutSeconds}s (last: state ${status.state}, full load ${status.fullLoadComplete ? 'complete' : 'not complete'}, lag ${status.lagSeconds ?? 'unknown'}s)`;
    await endPhase(ctx, 'waitForSync', started, 'failed', result, message);
    await notifyPhase(ctx, 'waitForSync', 'timed out', `${message}; nothing was changed.`);
  }
  return result;
}

/** Throws ZdmSyncTimeout for a timed-out check (for callers that drive the loop themselves). */
export function assertNotTimedOut(result: LagCheckResult): void {
  if (result.timedOut) {
    throw new CutoverError(ERRORS.syncTimeout, `replication did not catch up within ${result.elapsedSeconds}s`);
  }
}
