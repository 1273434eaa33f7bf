import type { ReplicationStatus } from '../ports';
import { beginPhase, endPhase, notifyPhase, succeededPhase } from './phase-records';
import { sleep } from '../helpers';
import type { StepContext } from './step-context';

/** How long one invocation waits for the engine to report stopped; the state machine calls again until it is. */
export const STOP_WAIT_MS = 60_000;
/**
 * How long, from the phase's first start, the step keeps waiting across invocations before it gives up and
 * fails (into ReportFailureAfterSwitch): a DMS task normally stops within minutes.
 */
export const STOP_GIVE_UP_MS = 30 * 60_000;
/**
 * Polls start tight and back off (10, 20, 40, ... ms, at most 1 s): a local engine stops within milliseconds
 * and every one of them is inside the write freeze; DMS takes longer and is not asked more than once a second.
 */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 1_000;

function isStopped(status: ReplicationStatus): boolean {
  return status.state === 'stopped' || status.state === 'failed';
}

/**
 * Stops replication after the final sync: alarm actions off first (nobody is paged for a planned stop), then
 * `replication.stop()`, then polls until stopped. Returns `stopped: false` when the bound is reached (call again).
 */
export async function stopReplication(
  ctx: StepContext,
  options: { waitMs?: number; pollMs?: number } = {},
): Promise<Record<string, unknown>> {
  const done = await succeededPhase(ctx, 'stopReplication');
  if (done) return { ...done, skipped: true };
  if (ctx.input.mode === 'dry-run') {
    const status = await ctx.deps.replication.status();
    const started = await beginPhase(ctx, 'stopReplication');
    const result = {
      dryRun: true,
      stopped: false,
      state: status.state,
      wouldDisableAlarms: Boolean(ctx.deps.alarms),
      replication: ctx.deps.replication.description,
    };
    await endPhase(ctx, 'stopReplication', started, 'succeeded', result);
    await notifyPhase(
      ctx,
      'stopReplication',
      'done',
      `would stop ${ctx.deps.replication.description} (now ${status.state}).`,
    );
    return result;
  }
  const started = await beginPhase(ctx, 'stopReplication');
  const t0 = Date.now();
  try {
    await ctx.deps.alarms?.disable();
    await ctx.deps.replication.stop();
    const deadline = t0 + (options.waitMs ?? STOP_WAIT_MS);
    let status = await ctx.deps.replication.status();
    let pollMs = options.pollMs ?? FIRST_POLL_MS;
    while (!isStopped(status) && Date.now() < deadline) {
      await sleep(pollMs);
      if (options.pollMs === undefined) pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
      status = await ctx.deps.replication.status();
    }
    const result = {
      stopped: isStopped(status),
      state: status.state,
      ...(status.detail ? { detail: status.detail } : {}),
      waitedMs: Date.now() - t0,
    };
    if (!result.stopped && ctx.now().getTime() - Date.parse(started.startedAt) > STOP_GIVE_UP_MS) {
      throw new Error(
        `${ctx.deps.replication.description} was asked to stop at ${started.startedAt} and is still ${status.state} ` +
          `after ${STOP_GIVE_UP_MS / 60_000} minutes${status.detail ? ` (${status.detail})` : ''}`,
      );
    }
    if (result.stopped) {
      await endPhase(ctx, 'stopReplication', started, 'succeeded', result);
      await notifyPhase(
        ctx,
        'stopReplication',
        'done',
        `${ctx.deps.replication.description} is ${status.state}; lag alarms' actions are off.`,
      );
    }
    return result;
  } catch (error) {
    await endPhase(ctx, 'stopReplication', started, 'failed', {}, (error as Error).message).catch(() => undefined);
    throw error;
  }
}
