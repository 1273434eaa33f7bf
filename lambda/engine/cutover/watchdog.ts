/**
 * The dead man's switch: whatever ended an execution — a Catch that failed, a state-machine timeout, an abort from
 * the console, a crashed Lambda, Ctrl-C in the rehearsal — the source ends unfrozen unless the migration passed the
 * point of no return. Reads the state record; restores exactly the saved role settings; drops the tracking slots;
 * notifies with what it found. Idempotent: a second run finds nothing to do.
 */
import {
  CUTOVER_INPUT_DEFAULTS,
  MIGRATION_ID_PATTERN,
  type CutoverDirection,
  type CutoverInput,
  type CutoverMode,
} from '../../../contract';
import { createContext } from './step-context';
import { errorMessage } from '../helpers';
import { modeLabel, readSwitchKey } from './state-keys';
import { withPools } from './pools';
import { dropChangeTracking } from './change-tracking';
import type { CutoverDeps } from './deps';
import { restoreSavedRoles } from './restore-roles';
import { pointReadsBack } from './switch-reads';
import { depsFor } from './directions';
import { dropArmedReverse } from './way-back';

export interface WatchdogReport {
  readonly migrationId: string;
  readonly outcome: 'restored' | 'nothing-frozen' | 'already-restored' | 'past-point-of-no-return';
  readonly restoredRoles: string[];
  readonly droppedSlots: string[];
  /** Objects the watchdog could not remove. */
  readonly leftBehind: string[];
  /** Set when the ended execution had moved the read path: whether it was pointed back. */
  readonly readsReverted?: boolean;
  readonly message: string;
}

/** Which execution ended: a cutover or a `switch-reads`, and when it started (to tell its read switch from older ones). */
export interface EndedExecution {
  readonly action?: 'cutover' | 'switch-reads';
  /** Which machine ran it. @default 'forward' */
  readonly direction?: CutoverDirection;
  /** Epoch milliseconds. @default - unknown: any read switch still in place counts as this execution's */
  readonly startedAtMs?: number;
}

export async function restoreAfterAbort(
  deps: CutoverDeps,
  migrationId: string,
  why: string,
  mode: CutoverMode = 'execute',
  execution: EndedExecution = {},
): Promise<WatchdogReport> {
  const input: CutoverInput = {
    ...CUTOVER_INPUT_DEFAULTS,
    migrationId,
    mode,
    action: 'cutover',
    direction: execution.direction ?? 'forward',
    applicationRoles: [],
    // Only an execute run's record is keyed by the migrationId alone; a dry run froze nothing.
    startedAt: '',
  };
  // The fallback froze Aurora: its dependencies (and its record) are the other way round.
  const ctx = createContext(depsFor(deps, input.direction), input);
  const record = mode === 'execute' ? await deps.state.get(ctx.key) : undefined;
  const past = Boolean(record?.pointOfNoReturn);
  let restoredRoles: string[] = [];
  let outcome: WatchdogReport['outcome'] = 'nothing-frozen';
  if (past) outcome = 'past-point-of-no-return';
  else if (record?.freeze?.restoredAt) outcome = 'already-restored';
  else if (record?.freeze) {
    restoredRoles = await restoreSavedRoles(ctx);
    outcome = 'restored';
  }
  // Before the switch the slots go with the rollback. Past it they are kept for the resumed run's late-write check
  // (named in the notice: they retain WAL until that run, or the operator, drops them).
  const slots = record?.tracking?.droppedAt
    ? { dropped: [], left: [] }
    : past && record?.tracking
      ? {
          dropped: [],
          left: [`source slot ${record.tracking.source.slot}`, `target slot ${record.tracking.target.slot}`],
        }
      : await withPools(ctx, (pools) => dropChangeTracking(ctx, pools)).catch((e: Error) => ({
          dropped: [] as string[],
          left: [`tracking slots (${e.message.slice(0, 200)})`],
        }));
  // A cutover that armed the way back and did not switch: nothing will read that slot.
  const armed = past ? { dropped: [], left: [] } : await dropArmedReverse(ctx);
  slots.dropped.push(...armed.dropped);
  slots.left.push(...armed.left);
  const reads =
    past || input.direction === 'fallback'
      ? undefined
      : await readsBackAfterAbort(deps, migrationId, mode, execution, ctx.iso());
  if (record && !past && record.status === 'running') {
    await deps.state.setStatus(ctx.key, 'rolled-back', ctx.iso(), `execution ended: ${why}`.slice(0, 1000));
  }
  // The fallback freezes Aurora (the target), the cutover the source.
  const frozenSide = input.direction === 'fallback' ? 'target' : 'source';
  const message = [
    `Migration ${migrationId}${modeLabel(input)}: the execution ended (${why}).`,
    outcome === 'restored'
      ? `The ${frozenSide} was frozen and is now restored: roles ${restoredRoles.join(', ')} have their saved login settings again.`
      : outcome === 'already-restored'
        ? `The ${frozenSide} had already been restored at ${record?.freeze?.restoredAt}.`
        : outcome === 'past-point-of-no-return'
          ? `It was past the point of no return (${record?.pointOfNoReturn?.what} at ${record?.pointOfNoReturn?.at}): the ${frozenSide} stays frozen; finish by resuming with the same migrationId.`
          : `Nothing had been frozen; no role on the ${frozenSide} was changed.`,
    slots.left.length
      ? `LEFT BEHIND: ${slots.left.join(', ')} — retains WAL until dropped (a resumed execution drops it after its late-write check).`
      : slots.dropped.length
        ? `Dropped change-tracking slots: ${slots.dropped.join(', ')}.`
        : `No change-tracking slot was left.`,
    ...(reads ? [reads.line] : []),
  ].join('\n');
  // A failure the workflow already rolled back (or nothing at all) needs no second notice.
  const quiet =
    (outcome === 'already-restored' || outcome === 'nothing-frozen') &&
    slots.dropped.length === 0 &&
    slots.left.length === 0 &&
    !reads;
  if (!quiet)
    await deps.notifier.notify(`zdm ${migrationId}: execution ended — ${outcome}`, message, {
      migrationId,
      mode,
      phase: 'watchdog',
      outcome,
    });
  return {
    migrationId,
    outcome,
    restoredRoles,
    droppedSlots: slots.dropped,
    leftBehind: [...slots.left, ...(reads && !reads.reverted ? [reads.line] : [])],
    ...(reads ? { readsReverted: reads.reverted } : {}),
    message,
  };
}

/**
 * The read path goes back too when the ended execution moved it (an execute run before its point of no return, or
 * a `switch-reads` run). A read switch made by an earlier execution is left as it is: that one ended well.
 */
async function readsBackAfterAbort(
  deps: CutoverDeps,
  migrationId: string,
  mode: CutoverMode,
  execution: EndedExecution,
  now: string,
): Promise<{ reverted: boolean; line: string } | undefined> {
  if (!deps.readTraffic || (mode !== 'execute' && execution.action !== 'switch-reads')) return undefined;
  const record = (await deps.state.get(readSwitchKey(migrationId)))?.readSwitch;
  if (!record || record.revertedAt) return undefined;
  if (execution.startedAtMs !== undefined && Date.parse(record.switchedAt) < execution.startedAtMs) return undefined;
  try {
    return await pointReadsBack(deps, migrationId, record, 'watchdog', now);
  } catch (error) {
    return { reverted: false, line: `READS NOT POINTED BACK: ${errorMessage(error)}` };
  }
}

/** An EventBridge "Step Functions Execution Status Change" event, as far as the watchdog reads it. */
export interface ExecutionStatusEvent {
  /** Set by the fallback machine's rule. */
  readonly direction?: unknown;
  readonly detail?: {
    readonly status?: unknown;
    readonly input?: unknown;
    readonly executionArn?: unknown;
    /** Epoch milliseconds the execution started. */
    readonly startDate?: unknown;
  };
}

/**
 * Runs the watchdog for an execution that ended TIMED_OUT, ABORTED or FAILED; reads migrationId and mode from the
 * execution's input (`detail.input`, a JSON string). Other statuses, and input without a valid migrationId, do nothing.
 */
export async function watchdogForExecutionEvent(
  deps: CutoverDeps,
  event: ExecutionStatusEvent,
): Promise<WatchdogReport | { ignored: string }> {
  const status = String(event?.detail?.status ?? '');
  if (!['TIMED_OUT', 'ABORTED', 'FAILED'].includes(status)) return { ignored: `status ${status.slice(0, 40)}` };
  let input: { migrationId?: unknown; mode?: unknown };
  try {
    const raw = event.detail?.input;
    input = (typeof raw === 'string' ? JSON.parse(raw) : raw) ?? {};
  } catch {
    return { ignored: 'execution input is not JSON' };
  }
  const id = input?.migrationId;
  if (typeof id !== 'string' || !MIGRATION_ID_PATTERN.test(id)) return { ignored: 'no valid migrationId in the input' };
  const mode: CutoverMode = input.mode === 'execute' ? 'execute' : 'dry-run';
  const startDate = Number(event.detail?.startDate);
  return restoreAfterAbort(deps, id, `execution ${status}`, mode, {
    action: input.mode === 'switch-reads' ? 'switch-reads' : 'cutover',
    direction: event.direction === 'fallback' ? 'fallback' : 'forward',
    ...(Number.isFinite(startDate) && startDate > 0 ? { startedAtMs: startDate } : {}),
  });
}
