/**
 * The way back after the switch: the reverse replication (target → source). Its slot is created on the target just
 * before the cutover's freeze (PrepareReverse: creating a slot waits for the target's running transactions, which
 * must not lengthen the freeze); inside the freeze ArmReverse records the target's position, O(1): from there on every
 * change on the target is the application's. StartReverse, once forward replication has stopped (never while it
 * runs: no echo), advances the slot to that position (past the forward replication's last writes) and starts the
 * reverse replication there. Closed by `end-fallback-window` or at the end of a fallback. Its state is on the
 * executed cutover's record (`reverse`), keyed by the migrationId.
 */
import type { Pool } from 'pg';
import { CutoverError, ERRORS } from '../../../contract';
import type { ReverseRecord, ReverseReplicationPort } from '../ports';
import type { CutoverDeps } from './deps';
import { getRecord, runPhase, type PhaseOutcome } from './phase-records';
import { errorMessage, sleep } from '../helpers';
import {
  describeGuardedWrites,
  guardedBreak,
  installWayBackGuard,
  readGuardedWrites,
  removeWayBackGuard,
} from './way-back-guard';
import type { StepContext } from './step-context';
import { sharedPool } from './connections';
import { flushWal } from './change-tracking';

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

/** Creates the reverse slot on the target (after what the engine needs first); refuses one left by an earlier cutover. */
async function createReverseSlot(ctx: StepContext, reverse: ReverseReplicationPort): Promise<string> {
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
  return created.rows[0].lsn;
}

/** A prepared (not armed, not ended) way back whose slot still exists, else undefined. */
async function preparedSlot(ctx: StepContext, record: ReverseRecord | undefined): Promise<ReverseRecord | undefined> {
  if (!record?.preparedAt || record.armedAt || record.endedAt) return undefined;
  return (await slotOn(await sharedPool(ctx.deps, 'target'), record.slot)) ? record : undefined;
}

/**
 * What PrepareReverse and ArmReverse check first: a way back is configured, this is an execute run, it is not armed
 * already. Returns the outcome to end with, or the reverse replication and the record to go on with.
 */
async function toArm(
  ctx: StepContext,
  flag: 'prepared' | 'armed',
  wouldDo: (reverse: ReverseReplicationPort) => PhaseOutcome,
): Promise<{ outcome: PhaseOutcome } | { reverse: ReverseReplicationPort; record?: ReverseRecord }> {
  const reverse = ctx.deps.reverse;
  if (!reverse) {
    const line = 'no reverse replication is configured: there is no way back after the switch.';
    return { outcome: { result: { [flag]: false, reason: line }, line, status: 'skipped' } };
  }
  if (ctx.input.mode !== 'execute') return { outcome: wouldDo(reverse) };
  const record = (await getRecord(ctx)).reverse;
  if (record?.armedAt && !record.endedAt) {
    return { outcome: { result: { ...record }, line: `armed already at ${record.lsn}.` } };
  }
  return { reverse, record };
}

/** Before the freeze: creates the reverse slot on the target and records it. Dry run: says it would. */
export async function prepareReverse(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'prepareReverse', async () => {
    const go = await toArm(ctx, 'prepared', (reverse) => ({
      result: { dryRun: true, prepared: false, wouldCreateSlot: reverse.slotName },
      line: `would create the reverse slot ${reverse.slotName} on the target before the freeze.`,
    }));
    if ('outcome' in go) return go.outcome;
    const prepared = await preparedSlot(ctx, go.record);
    if (prepared) return { result: { ...prepared }, line: `reverse slot ${prepared.slot} prepared already.` };
    const createdLsn = await createReverseSlot(ctx, go.reverse);
    const next: ReverseRecord = { slot: go.reverse.slotName, createdLsn, preparedAt: ctx.iso() };
    await ctx.deps.state.putReverse(ctx.key, next);
    return {
      result: { prepared: true, slot: next.slot, createdLsn },
      line: `reverse slot ${next.slot} created on the target at ${createdLsn}, before the freeze.`,
    };
  });
}

/**
 * Inside the freeze: records the target's position, where the way back starts (O(1)). Without a prepared slot (an
 * execution from before PrepareReverse existed, or a slot dropped since), creates the slot here. Dry run: says it would.
 */
export async function armReverse(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'armReverse', async () => {
    const go = await toArm(ctx, 'armed', (reverse) => ({
      result: { dryRun: true, armed: false, wouldArmSlot: reverse.slotName },
      line: `would record the target's position in the reverse slot ${reverse.slotName} and start ${reverse.description} from it after the switch.`,
    }));
    if ('outcome' in go) return go.outcome;
    const { reverse, record } = go;
    const prepared = await preparedSlot(ctx, record);
    let armed: ReverseRecord;
    if (prepared) {
      const pool = await sharedPool(ctx.deps, 'target');
      const { rows } = await pool.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
      armed = { ...prepared, lsn: rows[0].lsn, armedAt: ctx.iso() };
    } else {
      const lsn = await createReverseSlot(ctx, reverse);
      // a slot prepared and dropped since keeps the record of its preparation
      const preparedAt = record?.preparedAt && !record.endedAt ? { preparedAt: record.preparedAt } : {};
      armed = { slot: reverse.slotName, createdLsn: lsn, ...preparedAt, lsn, armedAt: ctx.iso() };
    }
    await ctx.deps.state.putReverse(ctx.key, armed);
    return {
      result: { armed: true, slot: armed.slot, lsn: armed.lsn, createdInFreeze: !prepared },
      line: prepared
        ? `reverse slot ${armed.slot} armed at ${armed.lsn}: the way back starts there.`
        : `reverse slot ${armed.slot} created on the target at ${armed.lsn} (nothing prepared it): the way back starts there.`,
    };
  });
}

/**
 * Guards the old source (see way-back-guard.ts). The guard only reports: a source where it cannot be installed (no
 * TRIGGER privilege, a lock held past the timeout) keeps its way back, and the line (the phase's notice) says it is
 * unguarded and why.
 */
async function guardOldSource(
  ctx: StepContext,
): Promise<{ guarded: boolean; tables?: number; reason?: string; line: string }> {
  try {
    const tables = await installWayBackGuard(await sharedPool(ctx.deps, 'source'), ctx.deps.tables);
    return {
      guarded: true,
      tables: tables.length,
      line: `Writes on the source outside it are reported (guard on ${tables.length} table(s)).`,
    };
  } catch (error) {
    const reason = errorMessage(error).slice(0, 300);
    return {
      guarded: false,
      reason,
      line: `Writes on the source outside it are NOT reported until a fallback's proof (the guard could not be installed: ${reason}).`,
    };
  }
}

/**
 * After the forward stop: advances the slot to the armed position (past the forward replication's last writes, which
 * must not flow back), starts the reverse replication there and unmutes its alarms.
 */
export async function startReverse(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'startReverse', async () => {
    const reverse = ctx.deps.reverse;
    const record = ctx.input.mode === 'execute' ? (await getRecord(ctx)).reverse : undefined;
    const armed = record?.armedAt && record.lsn ? { ...record, lsn: record.lsn } : undefined;
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
    // Only while nothing reads the slot yet (a resumed step after the start finds it at or past the position).
    const pool = await sharedPool(ctx.deps, 'target');
    // A slot is advanced no further than the WAL flushed so far: flushed first, it reaches the armed position even
    // where commits are asynchronous (synchronous_commit = off), and nothing the forward replication wrote flows back.
    await flushWal(pool);
    const advanced = await pool.query<{ lsn: string }>(
      `SELECT (pg_replication_slot_advance(slot_name, $2::pg_lsn)).end_lsn::text AS lsn
         FROM pg_replication_slots WHERE slot_name = $1 AND NOT active AND confirmed_flush_lsn < $2::pg_lsn`,
      [armed.slot, armed.lsn],
    );
    // Before the reverse replication writes there: the old source's own writes are made known from here on.
    const guard = await guardOldSource(ctx);
    await reverse.start(armed.lsn);
    await ctx.deps.reverseAlarms?.enable();
    await ctx.deps.state.putReverse(ctx.key, { ...armed, startedAt: armed.startedAt ?? ctx.iso() });
    return {
      result: { started: true, slot: armed.slot, fromLsn: armed.lsn, slotAdvanced: advanced.rows.length > 0, guard },
      line:
        `${reverse.description} started from ${armed.lsn}: every write on the target flows back to the source. ` +
        `${guard.line} Fall back with the fallback state machine; close the way back with {"mode": "end-fallback-window"}.`,
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
    const guard = await endGuard(forward);
    await ctx.deps.state.putReverse(ctx.input.migrationId, { ...armed, endedAt: ctx.iso(), endedBy: ctx.key });
    return {
      result: { ended: true, slot: armed.slot, dropped: Boolean(slot), ...guard.result },
      line: `${reverse.description} stopped and the reverse slot ${armed.slot} dropped: the way back is closed.${guard.line}`,
    };
  });
}

/**
 * Removes the old source's guard as the way back closes, naming what it recorded (those writes are only there). An
 * old source that cannot be reached does not keep the way back open: the guard is named as left behind, with how to
 * remove it by hand.
 */
async function endGuard(forward: CutoverDeps): Promise<{ result: Record<string, unknown>; line: string }> {
  try {
    const pool = await sharedPool(forward, 'source');
    const writes = await readGuardedWrites(pool);
    const removed = await removeWayBackGuard(pool);
    if (!writes?.count) return { result: { guardRemoved: removed }, line: '' };
    return {
      result: { guardRemoved: removed, writesOutsideWayBack: writes.count },
      line: ` The guard was removed; ${describeGuardedWrites(writes)}.`,
    };
  } catch (error) {
    const reason = errorMessage(error).slice(0, 300);
    return {
      result: { guardRemoved: false, guardLeftBehind: reason },
      line:
        ` Left behind: the guard on the old source (${reason}); remove it there by hand: ` +
        'DROP FUNCTION zdm_cutover.way_back_write() CASCADE; DROP TABLE zdm_cutover.way_back_writes;',
    };
  }
}

/**
 * What breaks the open way back, if anything: the reverse replication failed (an apply error: DMS stopped at a
 * conflict, the subscription disabled itself), or a write reached the old source outside it (the guard's record).
 * Undefined while neither is seen (a status or guard that cannot be read is not a break). `forward`: the cutover's
 * dependencies (the old source is their `source`).
 */
export async function wayBackBreak(forward: CutoverDeps): Promise<string | undefined> {
  const status = await forward.reverse?.status().catch(() => undefined);
  if (status?.state === 'failed') return status.detail ?? `${forward.reverse!.description} failed`;
  return sharedPool(forward, 'source')
    .then(guardedBreak)
    .catch(() => undefined);
}
