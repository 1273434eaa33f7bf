/**
 * The read-first switch: once the target is in sync and verified, the read path (queries) moves to the target's
 * readers while every write still goes to the source, so plans, latency and errors on the target are seen before
 * anything is at stake. Where the read path pointed before is kept on the migration's read-switch record
 * (readSwitchKey), shared by a `switch-reads` execution, the later write cutover and `revert-reads`.
 */
import { CutoverError, ERRORS, changesReads } from '../../../contract';
import type { ReadSwitchRecord } from '../ports';
import type { CutoverDeps } from './deps';
import { errorMessage } from '../helpers';
import { modeLabel, readSwitchKey } from './state-keys';
import { runPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { dropChangeTracking } from './change-tracking';

/** The consistency rule, said in every notice that moves reads. */
export const READ_CONSISTENCY_RULE =
  "Reads on the target's readers are behind the writes by the replication lag (the DMS lag on the dashboard plus Aurora's replica lag); " +
  'an application that must read its own writes keeps those reads on the writer path.';

async function readSwitchRecord(ctx: StepContext): Promise<ReadSwitchRecord | undefined> {
  return (await ctx.deps.state.get(readSwitchKey(ctx.input.migrationId)))?.readSwitch;
}

/** A read-switch phase runs on every execution (its record, not the phase, says what is done) and reports failure. */
const READ_PHASE = { everyRun: true, notifyFailure: true } as const;

/**
 * Points the read path at `switchReadsTo`. The record is written before the switch is asked for, so a switch whose
 * answer was lost can still be reverted. Switching again keeps the first `from` (what the reads are reverted to).
 * A dry run of the cutover reports what it would do.
 */
export async function switchReads(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(
    ctx,
    'switchReads',
    async () => {
      const reads = ctx.deps.readTraffic;
      const to = ctx.input.switchReadsTo;
      if (!reads || !to) {
        const reason = !reads ? 'no read traffic switch is configured' : 'switchReadsTo is empty';
        return {
          result: { switched: false, reason },
          line: `${reason}; reads move with the writes.`,
          status: 'skipped',
        };
      }
      const current = (await reads.current()) ?? null;
      if (!changesReads(ctx.input)) {
        return {
          result: { dryRun: true, switched: false, target: reads.description, from: current, wouldSwitchTo: to },
          line: `would point ${reads.description} from ${current ?? '(unset)'} to ${to}. ${READ_CONSISTENCY_RULE}`,
        };
      }
      const key = readSwitchKey(ctx.input.migrationId);
      await ctx.deps.state.ensure(key, 'execute', ctx.iso());
      const earlier = (await ctx.deps.state.get(key))?.readSwitch;
      const stillSwitched = earlier && !earlier.revertedAt;
      const record: ReadSwitchRecord = {
        target: reads.description,
        from: stillSwitched ? earlier.from : current,
        to,
        switchedAt: stillSwitched ? earlier.switchedAt : ctx.iso(),
        switchedBy: stillSwitched ? earlier.switchedBy : ctx.key,
      };
      await ctx.deps.state.putReadSwitch(key, record);
      if (current !== to) await reads.switchTo(to);
      return {
        result: {
          switched: current !== to,
          target: reads.description,
          from: record.from,
          to,
          since: record.switchedAt,
        },
        line:
          current === to
            ? `${reads.description} already points to ${to} (since ${record.switchedAt}). ${READ_CONSISTENCY_RULE}`
            : `${reads.description} now points to ${to} (was ${current ?? '(unset)'}); writes stay on the source. ${READ_CONSISTENCY_RULE}`,
      };
    },
    READ_PHASE,
  );
}

/** What pointing the reads back did: `reverted`, or why not (`line`). */
export interface ReadRevert {
  readonly reverted: boolean;
  readonly line: string;
  readonly result: Record<string, unknown>;
}

/**
 * Points the read path back at `record.from` and records it (no phase bookkeeping: the watchdog uses it too).
 * Throws ZdmReadSwitchFailed naming the switch and both endpoints when it cannot.
 */
export async function pointReadsBack(
  deps: Pick<CutoverDeps, 'readTraffic' | 'state'>,
  migrationId: string,
  record: ReadSwitchRecord,
  by: string,
  at: string,
): Promise<ReadRevert> {
  const reads = deps.readTraffic;
  if (!reads) throw new CutoverError(ERRORS.readSwitchFailed, 'no read traffic switch is configured');
  if (record.from === null) {
    throw new CutoverError(
      ERRORS.readSwitchFailed,
      `${reads.description} was unset before the read switch, so there is nothing to point it back to: set it to the source's endpoint by hand`,
    );
  }
  try {
    await reads.switchTo(record.from);
  } catch (error) {
    throw new CutoverError(
      ERRORS.readSwitchFailed,
      `could not point ${reads.description} back to ${record.from} (${errorMessage(error).slice(0, 300)}): reads still go to ${record.to}; point it back by hand`,
    );
  }
  await deps.state.putReadSwitch(readSwitchKey(migrationId), { ...record, revertedAt: at, revertedBy: by });
  return {
    reverted: true,
    result: { reverted: true, target: reads.description, from: record.to, to: record.from },
    line: `${reads.description} points back to ${record.from} (was ${record.to} since ${record.switchedAt}).`,
  };
}

/**
 * Points the read path back where it was before the read switch (after a rollback, or `mode: "revert-reads"`).
 * Refused once the write cutover passed its point of no return: the source no longer receives the writes, so
 * reads there would be stale. Nothing switched: nothing to do.
 */
export async function revertReads(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(
    ctx,
    'revertReads',
    async () => {
      const reads = ctx.deps.readTraffic;
      if (!reads) {
        const line = 'no read traffic switch is configured.';
        return { result: { reverted: false, reason: line }, line, status: 'skipped' };
      }
      const record = await readSwitchRecord(ctx);
      if (!record || record.revertedAt) {
        const line = record
          ? `reads were already pointed back to ${record.from ?? '(unset)'} at ${record.revertedAt}.`
          : 'reads were never switched; nothing to revert.';
        return { result: { reverted: false, reason: line }, line, status: 'skipped' };
      }
      if (!changesReads(ctx.input)) {
        return {
          result: { dryRun: true, reverted: false, target: reads.description, wouldSwitchTo: record.from },
          line: `a dry run leaves the reads where they are (${reads.description} → ${record.to}).`,
          status: 'skipped',
        };
      }
      const cutover = await ctx.deps.state.get(ctx.input.migrationId);
      // The fallback moves the writes back too: then, and only then, reads follow them past that point.
      if (cutover?.pointOfNoReturn && ctx.input.direction !== 'fallback') {
        const line = `the write cutover passed its point of no return (${cutover.pointOfNoReturn.what} at ${cutover.pointOfNoReturn.at}): reads stay on the target, the source no longer receives the writes.`;
        if (ctx.input.action === 'revert-reads')
          throw new CutoverError(ERRORS.badInput, `revert-reads refused: ${line}`);
        return { result: { reverted: false, reason: line }, line, status: 'skipped' };
      }
      const { result, line } = await pointReadsBack(ctx.deps, ctx.input.migrationId, record, ctx.key, ctx.iso());
      return { result, line };
    },
    READ_PHASE,
  );
}

/** Ends a `switch-reads` execution: its tracking slots go (they retain WAL), the record is done, the rule is said. */
export async function finishReadSwitch(ctx: StepContext): Promise<Record<string, unknown>> {
  const result = await runPhase(ctx, 'done', () =>
    withPools(ctx, async (pools) => {
      const { dropped, left } = await dropChangeTracking(ctx, pools);
      if (left.length > 0) throw new Error(`could not drop ${left.join(', ')}: it retains WAL until dropped`);
      const record = await readSwitchRecord(ctx);
      return {
        result: { readsOn: record?.to ?? null, since: record?.switchedAt ?? null, droppedSlots: dropped },
        line: `reads go to ${record?.to ?? '(unknown)'}; writes stay on the source and replication keeps running. ${READ_CONSISTENCY_RULE}`,
      };
    }),
  );
  await ctx.deps.state.setStatus(ctx.key, 'succeeded', ctx.iso());
  const id = ctx.input.migrationId;
  await ctx.deps.notifier.notify(
    `zdm ${id}${modeLabel(ctx.input)}: reads switched`,
    [
      `Migration ${id}: the read path now goes to the target's readers (${String(result.readsOn)}); every write still goes to the source and replication keeps running.`,
      READ_CONSISTENCY_RULE,
      `Watch the reads; then start the write cutover ({"migrationId": "${id}", "mode": "execute"}), or undo with {"migrationId": "${id}", "mode": "revert-reads"}.`,
    ].join('\n'),
    { migrationId: id, mode: ctx.input.mode, phase: 'done', outcome: 'succeeded' },
  );
  return result;
}
