import { beginPhase, endPhase, notifyPhase, succeededPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { CutoverError, ERRORS, type LagCheckResult, CUTOVER_METRIC } from '../../../contract';
import { MAX_PENDING_IN_SYNC, RECHECK_DELAY_MS, verifyTrackedChanges } from './change-tracking';
import { describeConfirmed } from './describe-differences';
import { describeSchemaDifferences, watchSchema } from './schema-watch';
import { heartbeatLagSeconds } from './marker';
import { recordMetric } from '../telemetry';

/** What one wait-for-sync iteration saw, besides the loop counters. */
export interface SyncCheck extends LagCheckResult {
  readonly state?: string;
  readonly skipped?: boolean;
  /** Lag from the heartbeat (source clock → target), and from the replication engine's own metric. */
  readonly heartbeatLagSeconds?: number | null;
  readonly engineLagSeconds?: number | null;
  readonly keysVerified?: number;
  readonly pendingKeys?: number;
  readonly rangeChecksPending?: number;
  readonly iterations?: number;
}

/**
 * One iteration of the wait for sync, verifying continuously. It measures lag with a heartbeat written on the source
 * and read on the target (a stalled subscriber cannot look in sync), consumes both tracking slots' new changes and
 * re-verifies those keys on both sides. "In sync" needs, `consecutiveChecks` times in a row: replication running with
 * its initial copy complete, heartbeat lag ≤ threshold, at most MAX_PENDING_IN_SYNC keys pending, no table waiting
 * for a range re-verification. A difference that outlives the recheck delay fails the wait at once
 * (ZdmValidationFailed: nothing was frozen). `timedOut` after `syncTimeoutSeconds` or the iteration bound.
 */
export async function checkLag(
  ctx: StepContext,
  previous?: { readonly consecutive?: number; readonly iterations?: number },
  maxIterations = Number.POSITIVE_INFINITY,
): Promise<SyncCheck> {
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
  const { heartbeat, round, schema, differences } = await withPools(ctx, async (pools) => {
    const beat = await heartbeatLagSeconds(pools.source, pools.target, ctx.input.migrationId);
    const r = await verifyTrackedChanges(ctx, pools);
    const watched = await watchSchema(ctx, pools, r.catalog);
    // Named with the columns that differ, while the connections are at hand (only when there is something to name).
    const described = r.confirmed.length > 0 ? await describeConfirmed(pools, r.confirmed) : '';
    return { heartbeat: beat, round: r, schema: watched, differences: described };
  });
  recordMetric(CUTOVER_METRIC.verificationBacklog, round.pendingKeys, 'Count');
  // Lag is the heartbeat's; an engine that reports more (CloudWatch) is believed too.
  // A dry run without the marker table has no heartbeat: it falls back to the engine's own lag.
  const lagSeconds =
    heartbeat === undefined
      ? ctx.input.mode === 'dry-run'
        ? status.lagSeconds
        : null
      : heartbeat === null
        ? null
        : Math.max(heartbeat, status.lagSeconds ?? 0);
  const healthy =
    status.state === 'running' &&
    status.fullLoadComplete &&
    lagSeconds !== null &&
    lagSeconds <= ctx.input.lagThresholdSeconds &&
    schema.differences.length === 0;
  // A schema change that leaves source and target different stops replication of those tables: say so by name
  // before any difference logic (rows differ because of it, not by themselves).
  // (Given the recheck delay: a DMS task that replicates the DDL itself brings the target level within it.)
  const lagging = lagSeconds === null || lagSeconds > ctx.input.lagThresholdSeconds;
  if (
    schema.differences.length > 0 &&
    schema.standingMs >= RECHECK_DELAY_MS &&
    (lagging || round.confirmed.length > 0)
  ) {
    const message =
      `replication of the selected tables is blocked by a schema change: ${describeSchemaDifferences(schema.differences)}; ` +
      `apply the same DDL on the other side (nothing was frozen)`;
    await endPhase(ctx, 'waitForSync', started, 'failed', { schemaDifferences: schema.differences.length }, message);
    throw new CutoverError(ERRORS.replicationFailed, message);
  }
  // A difference that outlived the recheck delay while replication is healthy cannot be in flight: fatal. While
  // replication lags or is stalled it may still be explained, so it stays pending and the wait goes on.
  if (round.confirmed.length > 0 && healthy) {
    const message =
      `rows differ between source and target for longer than the recheck delay while replication runs with lag ` +
      `${lagSeconds}s: ${differences}`;
    await endPhase(ctx, 'waitForSync', started, 'failed', { confirmed: round.confirmed.length }, message);
    throw new CutoverError(ERRORS.validationFailed, message);
  }
  const good =
    healthy &&
    round.confirmed.length === 0 &&
    round.pendingKeys <= MAX_PENDING_IN_SYNC &&
    round.rangeChecksPending === 0 &&
    round.seededPending === 0 &&
    !round.more;
  const prev = typeof previous?.consecutive === 'number' && previous.consecutive > 0 ? previous.consecutive : 0;
  const iterations = (typeof previous?.iterations === 'number' ? previous.iterations : 0) + 1;
  const consecutive = good ? prev + 1 : 0;
  const synced = consecutive >= ctx.input.consecutiveChecks;
  const timedOut = !synced && (elapsedSeconds > ctx.input.syncTimeoutSeconds || iterations >= maxIterations);
  const result: SyncCheck = {
    lagSeconds,
    consecutive,
    synced,
    timedOut,
    elapsedSeconds: Math.round(elapsedSeconds * 10) / 10,
    state: status.state,
    heartbeatLagSeconds: heartbeat ?? null,
    engineLagSeconds: status.lagSeconds,
    keysVerified: round.keysVerified,
    pendingKeys: round.pendingKeys,
    rangeChecksPending: round.rangeChecksPending,
    iterations,
  };
  if (synced) {
    await endPhase(ctx, 'waitForSync', started, 'succeeded', {
      ...result,
      fullLoadComplete: status.fullLoadComplete,
      keysVerifiedTotal: round.record.keysVerified,
      changesReadTotal: round.record.changesRead,
    });
    await notifyPhase(
      ctx,
      'waitForSync',
      'done',
      `lag ${lagSeconds}s ≤ ${ctx.input.lagThresholdSeconds}s for ${consecutive} consecutive checks (after ${result.elapsedSeconds}s); ` +
        `${round.record.keysVerified} changed key(s) re-verified so far, ${round.pendingKeys} pending.`,
    );
  } else if (timedOut) {
    const message =
      `not in sync within ${ctx.input.syncTimeoutSeconds}s / ${iterations} checks (last: state ${status.state}, ` +
      `initial copy ${status.fullLoadComplete ? 'complete' : 'not complete'}, lag ${lagSeconds ?? 'unknown'}s, ` +
      `${round.pendingKeys} key(s) pending, ${round.rangeChecksPending} table(s) awaiting a range check` +
      `${round.confirmed.length ? `; rows differ: ${differences}` : ''}` +
      `${schema.differences.length ? `; schema differs: ${describeSchemaDifferences(schema.differences)}` : ''})`;
    await endPhase(ctx, 'waitForSync', started, 'failed', { ...result }, message);
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
