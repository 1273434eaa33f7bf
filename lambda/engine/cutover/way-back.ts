/**
 * The way back after the switch: the reverse replication (target → source). Armed inside the cutover's freeze (its
 * slot on the target, O(1): from that position on, every change on the target is the application's), started once
 * forward replication has stopped (never while it runs: no echo), closed by `end-fallback-window` or at the end of a
 * fallback. Its state is on the executed cutover's record (`reverse`), keyed by the migrationId.
 */
import type { Pool } from 'pg';
import { CutoverError, ERRORS } from '../../../contract';
import type { ReverseRecord } from '../ports';
import type { CutoverDeps } from './deps';
import { getRecord, runPhase, sleep, type StepContext } from './common';
import { sharedPool } from './connections';

/** How long closing the way back waits for the reverse replication to stop (DMS takes minutes). */
export const REVERSE_STOP_WAIT_MS = 10 * 60_000;

/** The slot, if it exists: whether something reads it, and where it is. */
async function slotOn(pool: Pool, slot: string): Promise<{ active: boolean } | undefined> {
  const { rows } = await pool.query<{ active: boolean }>(
    `SELECT active FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return rows[0];
}

/** Creates the reverse slot on the target inside the freeze and records its position. Dry run: says it would. */
export async function armReverse(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'armReverse', async () => {
    const reverse = ctx.deps.reverse;
    if (!reverse) {
      const line = 'no reverse replication is configured: there is no way back after the switch.';
      return { result: { armed: false, reason: line }, line, status: 'skipped' };
    }
    if (ctx.input.mode !== 'execute') {
      return {
        result: { dryRun: true, armed: false, wouldCreateSlot: reverse.slotName },
        line: `would create the reverse slot ${reverse.slotName} on the target and start ${reverse.description} from it after the switch.`,
      };
    }
    const armed = (await getRecord(ctx)).reverse;
    if (armed && !armed.endedAt) return { result: { ...armed }, line: `armed already at ${armed.lsn}.` };
    await reverse.prepare?.();
    const pool = await sharedPool(ctx.deps, 'target');
    const existing = await slotOn(pool, reverse.slotName);
    if (existing) {
      throw new CutoverError(
        ERRORS.preflightFailed,
        `the reverse slot ${reverse.slotName} already exists on the target (${existing.active ? 'in use' : 'not in use'}): ` +
          `an earlier cutover's way back is still open — end its fallback window ({"mode": "end-fallback-window"}) first`,
      );
    }
    const created = await pool.query<{ lsn: string }>(
      `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, $2)`,
      [reverse.slotName, reverse.slotPlugin],
    );
    const lsn = created.rows[0].lsn;
    const record: ReverseRecord = { slot: reverse.slotName, lsn, armedAt: ctx.iso() };
    await ctx.deps.state.putReverse(ctx.key, record);
    return {
      result: { armed: true, slot: record.slot, lsn },
      line: `reverse slot ${record.slot} created on the target at ${lsn}: the way back starts there.`,
    };
  });
}

/** After the forward stop: starts the reverse replication from the armed position and unmutes its alarms. */
export async function startReverse(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'startReverse', async () => {
    const reverse = ctx.deps.reverse;
    const armed = ctx.input.mode === 'execute' ? (await getRecord(ctx)).reverse : undefined;
    if (!reverse || (ctx.input.mode === 'execute' && !armed)) {
      const line = !reverse ? 'no reverse replication is configured.' : 'the way back was not armed.';
      return { result: { started: false, reason: line }, line, status: 'skipped' };
    }
    if (!armed) {
      return { result: { dryRun: true, started: false }, line: `would start ${reverse.description}.` };
    }
    if (armed.endedAt) {
      const line = `the way back was closed at ${armed.endedAt}.`;
      return { result: { started: false, reason: line }, line, status: 'skipped' };
    }
    await reverse.start(armed.lsn);
    await ctx.deps.reverseAlarms?.enable();
    await ctx.deps.state.putReverse(ctx.key, { ...armed, startedAt: armed.startedAt ?? ctx.iso() });
    return {
      result: { started: true, slot: armed.slot, fromLsn: armed.lsn },
      line:
        `${reverse.description} started from ${armed.lsn}: every write on the target flows back to the source. ` +
        `Fall back with the fallback state machine; close the way back with {"mode": "end-fallback-window"}.`,
    };
  });
}

/**
 * Drops a slot armed by a cutover that did not switch (its rollback, the watchdog): nothing reads it yet, and it
 * retains WAL. Returns what is left behind, named.
 */
export async function dropArmedReverse(ctx: StepContext): Promise<{ dropped: string[]; left: string[] }> {
  const armed = (await ctx.deps.state.get(ctx.key))?.reverse;
  if (!armed || armed.endedAt || armed.startedAt || !ctx.deps.reverse) return { dropped: [], left: [] };
  try {
    const pool = await sharedPool(ctx.deps, 'target');
    const slot = await slotOn(pool, armed.slot);
    if (slot?.active) return { dropped: [], left: [`reverse slot ${armed.slot} on the target (in use)`] };
    if (slot) await pool.query(`SELECT pg_drop_replication_slot($1)`, [armed.slot]);
    await ctx.deps.state.putReverse(ctx.key, { ...armed, endedAt: ctx.iso(), endedBy: 'rollback' });
    return { dropped: [`reverse slot ${armed.slot}`], left: [] };
  } catch (error) {
    return {
      dropped: [],
      left: [`reverse slot ${armed.slot} on the target (${(error as Error).message.slice(0, 200)})`],
    };
  }
}

/**
 * Closes the way back: stops the reverse replication (waits for it), drops its slot on the target, mutes its alarms,
 * records it. Runs with the forward dependencies whichever machine runs it (`forward`: the target is Aurora).
 */
export async function endFallbackWindow(
  ctx: StepContext,
  forward: CutoverDeps,
  options: { waitMs?: number } = {},
): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'endFallbackWindow', async () => {
    const reverse = forward.reverse;
    const cutover = await ctx.deps.state.get(ctx.input.migrationId);
    const armed = cutover?.reverse;
    if (!reverse || !armed || armed.endedAt) {
      const line = !reverse
        ? 'no reverse replication is configured.'
        : !armed
          ? `migration ${ctx.input.migrationId} armed no way back.`
          : `the way back was closed at ${armed.endedAt}.`;
      return { result: { ended: false, reason: line }, line, status: 'skipped' };
    }
    if (ctx.input.mode !== 'execute') {
      return {
        result: { dryRun: true, ended: false, slot: armed.slot },
        line: `would stop ${reverse.description} and drop the reverse slot ${armed.slot}.`,
      };
    }
    if (ctx.input.direction === 'forward') {
      const fallback = await ctx.deps.state.get(`${ctx.input.migrationId}#fallback`);
      if (fallback?.pointOfNoReturn === undefined && fallback?.status === 'running') {
        throw new CutoverError(
          ERRORS.badInput,
          `a fallback of ${ctx.input.migrationId} is running (since ${fallback.createdAt}): it needs the way back`,
        );
      }
    }
    await reverse.stop();
    const deadline = Date.now() + (options.waitMs ?? REVERSE_STOP_WAIT_MS);
    for (;;) {
      const { state } = await reverse.status();
      if (state === 'stopped' || state === 'unknown' || state === 'failed') break;
      if (Date.now() > deadline) {
        throw new Error(`${reverse.description} did not stop (${state}); run end-fallback-window again`);
      }
      await sleep(Math.min(5_000, Math.max(10, deadline - Date.now())));
    }
    const pool = await sharedPool(forward, 'target');
    const slot = await slotOn(pool, armed.slot);
    if (slot?.active) throw new Error(`the reverse slot ${armed.slot} is still in use on the target; run it again`);
    if (slot) await pool.query(`SELECT pg_drop_replication_slot($1)`, [armed.slot]);
    await forward.reverseAlarms?.disable();
    await ctx.deps.state.putReverse(ctx.input.migrationId, { ...armed, endedAt: ctx.iso(), endedBy: ctx.key });
    return {
      result: { ended: true, slot: armed.slot, dropped: Boolean(slot) },
      line: `${reverse.description} stopped and the reverse slot ${armed.slot} dropped: the way back is closed.`,
    };
  });
}
