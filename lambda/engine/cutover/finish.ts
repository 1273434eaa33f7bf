import { ERRORS } from '../../../contract';
import { PHASES, type MigrationRecord } from '../ports';
import { beginPhase, endPhase, getRecord, succeededPhase } from './phase-records';
import { modeLabel } from './state-keys';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { dropChangeTracking } from './change-tracking';
import { restoreRoleSql, restoreSavedRoles } from './restore-roles';
import { dropArmedReverse } from './way-back';

/** Milliseconds each phase took (from the state record). */
export function phaseTimings(record: MigrationRecord): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const phase of PHASES) {
    const p = record.phases[phase];
    if (p?.endedAt) timings[phase] = Date.parse(p.endedAt) - Date.parse(p.startedAt);
  }
  return timings;
}

function formatTimings(timings: Record<string, number>): string {
  return Object.entries(timings)
    .map(([phase, ms]) => `  ${phase.padEnd(16)} ${(ms / 1000).toFixed(1)} s`)
    .join('\n');
}

/** Marks the cutover succeeded and sends the summary with per-phase timings. */
export async function complete(ctx: StepContext): Promise<Record<string, unknown>> {
  const done = await succeededPhase(ctx, 'done');
  if (done) return { ...done, skipped: true };
  const started = await beginPhase(ctx, 'done');
  const record = await getRecord(ctx);
  const now = ctx.now();
  const timings = phaseTimings(record);
  const writeFreezeMs = ctx.input.mode === 'execute' ? freezeMs(record) : undefined;
  const summary = {
    status: 'succeeded',
    mode: ctx.input.mode,
    timingsMs: timings,
    totalMs: now.getTime() - Date.parse(ctx.input.startedAt),
    ...(writeFreezeMs !== undefined ? { writeFreezeMs } : {}),
  };
  await endPhase(ctx, 'done', started, 'succeeded', summary);
  await ctx.deps.state.setStatus(ctx.key, 'succeeded', ctx.iso());
  const id = ctx.input.migrationId;
  const message =
    ctx.input.mode === 'execute' && ctx.input.direction === 'fallback'
      ? [
          `Migration ${id} fell back to the source: every row changed on the target since tracking started was proven equal before the switch, the source's sequences are set past the target's${
            record.phases.switchTraffic?.status === 'succeeded'
              ? ', traffic points to the source again'
              : ', the application was handed back (no traffic switch configured)'
          }, the reverse replication is stopped and its slot dropped.`,
          `Write freeze (freeze to switch): ${freezeMs(record) ?? 'unknown'} ms.`,
          lateWritesLine(record),
          `The target's roles stay frozen (${record.freeze?.roles.map((r) => r.role).join(', ') || '(none)'}).`,
          ``,
          `Timings:`,
          formatTimings(timings),
        ]
      : ctx.input.mode === 'execute'
        ? [
            `Migration ${id} is complete: every row changed since tracking started was proven equal before the switch, sequences are set${
              record.phases.switchTraffic?.status === 'succeeded'
                ? ', traffic is switched'
                : ', the application was handed over (no traffic switch configured)'
            }, forward replication is stopped.`,
            `Write freeze (freeze to switch): ${freezeMs(record) ?? 'unknown'} ms.`,
            lateWritesLine(record),
            `The source stays frozen (roles ${record.freeze?.roles.map((r) => r.role).join(', ') || '(none)'}); the forward replication slot is kept (it retains WAL) until you no longer need to fall back.`,
            ``,
            `Timings:`,
            formatTimings(timings),
          ]
        : [`Dry run of ${id} finished: every phase ran and changed nothing.`, ``, `Timings:`, formatTimings(timings)];
  await ctx.deps.notifier.notify(
    `zdm ${id}${modeLabel(ctx.input)}: ${ctx.input.direction === 'fallback' ? 'fallback' : 'cutover'} succeeded`,
    message.filter((l, i, a) => l !== '' || a[i - 1] !== '').join('\n'),
    { migrationId: id, mode: ctx.input.mode, phase: 'done', outcome: 'succeeded' },
  );
  return summary;
}

/** `event.error.Cause` is a JSON string (`{"errorType","errorMessage",...}`) for Lambda errors; take the message. */
export function describeCause(error: { readonly Error?: string; readonly Cause?: string } | undefined): string {
  if (!error) return 'unknown error';
  let cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown; errorType?: unknown; message?: unknown };
    if (parsed && typeof parsed === 'object') {
      const msg = parsed.errorMessage ?? parsed.message;
      if (typeof msg === 'string') cause = msg;
    }
  } catch {
    // Not JSON: a plain cause string.
  }
  return [error.Error, cause].filter(Boolean).join(': ').slice(0, 2000) || 'unknown error';
}

/** Milliseconds from the start of the freeze to the end of the switch, from the state record. */
export function freezeMs(record: MigrationRecord): number | undefined {
  const from = record.freeze?.frozenAt ?? record.phases.freezeWrites?.startedAt;
  const to = record.phases.switchTraffic?.endedAt;
  return from && to ? Date.parse(to) - Date.parse(from) : undefined;
}

function lateWritesLine(record: MigrationRecord): string {
  const late = record.phases.lateWrites?.summary?.lateWrites;
  if (typeof late !== 'number') return 'Late writes on the source: not checked.';
  return late === 0
    ? 'No selected table changed on the source after the final-sync marker.'
    : `WARNING: ${late} change(s) reached the source after the final-sync marker and are not on the target (see the separate notice).`;
}

type CaughtError = { readonly Error?: string; readonly Cause?: string } | undefined;

/**
 * Rolls back a failure before the point of no return (the switch): restores each frozen role exactly as saved,
 * drops the tracking slots, marks the cutover rolled back and tells the operator why. Forward replication was
 * never stopped, so nothing else needs undoing. Idempotent. Past the point of no return (a recorded fact, not a
 * step name) it does not unfreeze but reports instead.
 */
export async function rollback(ctx: StepContext, error: CaughtError): Promise<Record<string, unknown>> {
  const cause = describeCause(error);
  const record = await ctx.deps.state.get(ctx.key);
  if (!record) {
    // validateInput failed before creating anything: nothing to restore.
    return { rolledBack: true, restoredRoles: [], cause, note: 'nothing had been changed' };
  }
  if (record.pointOfNoReturn) return reportFailureAfterSwitch(ctx, error);
  const restored = ctx.input.mode === 'execute' ? await restoreSavedRoles(ctx) : [];
  const tracking = await withPools(ctx, (pools) => dropChangeTracking(ctx, pools)).catch((e: Error) => ({
    dropped: [] as string[],
    left: [`tracking slots (${e.message.slice(0, 200)})`],
  }));
  // A way back armed in this freeze goes too: nothing switched, nothing will read it.
  const armed = await dropArmedReverse(ctx);
  tracking.dropped.push(...armed.dropped);
  tracking.left.push(...armed.left);
  const freeze = (await ctx.deps.state.get(ctx.key))?.freeze;
  if (record.status !== 'rolled-back') {
    await ctx.deps.state.setStatus(ctx.key, 'rolled-back', ctx.iso(), cause);
    const id = ctx.input.migrationId;
    const mode = modeLabel(ctx.input);
    await ctx.deps.notifier.notify(
      `zdm ${id}${mode}: cutover failed and was rolled back`,
      [
        `Migration ${id}${mode} failed before traffic was switched, so it was rolled back.`,
        `Cause: ${cause}`,
        restored.length > 0
          ? `Source writes are restored: roles ${restored.join(', ')} have their original login settings again.`
          : freeze?.restoredAt
            ? `Source roles had already been restored at ${freeze.restoredAt}.`
            : `Writes had not been frozen; no role on the source was changed.`,
        tracking.left.length > 0
          ? `LEFT BEHIND: ${tracking.left.join(', ')} — drop it with pg_drop_replication_slot; it retains WAL.`
          : `Change-tracking slots: ${tracking.dropped.length ? `dropped (${tracking.dropped.join(', ')})` : 'none were left'}.`,
        ctx.input.direction === 'fallback'
          ? `The application stays on the target; the reverse replication keeps running (the way back stays open). Fix the cause, then start a new fallback execution.`
          : `Forward replication keeps running. Fix the cause, then start a new execution.`,
      ].join('\n'),
      { migrationId: id, mode: ctx.input.mode, phase: 'rollback', outcome: 'rolled-back' },
    );
  }
  return {
    rolledBack: true,
    restoredRoles: restored,
    alreadyRestored: restored.length === 0 && Boolean(freeze?.restoredAt),
    droppedSlots: tracking.dropped,
    leftBehind: tracking.left,
    cause,
  };
}

/**
 * A failure after the point of no return: no automatic unfreeze (the application may already write to the target).
 * Marks the cutover failed and tells the operator the real state: where traffic points, whether replication runs.
 */
export async function reportFailureAfterSwitch(ctx: StepContext, error: CaughtError): Promise<Record<string, unknown>> {
  const cause = describeCause(error);
  const record = await ctx.deps.state.get(ctx.key);
  const id = ctx.input.migrationId;
  const roles = record?.freeze?.roles ?? [];
  const failedPhase =
    PHASES.find((p) => record?.phases[p]?.status === 'failed') ??
    PHASES.find((p) => record?.phases[p]?.status === 'running') ??
    'unknown';
  const alreadyReported = record?.status === 'failed' && record.error === cause;
  if (record && !alreadyReported) await ctx.deps.state.setStatus(ctx.key, 'failed', ctx.iso(), cause);
  const replication = await ctx.deps.replication
    .status()
    .then((s) => `${s.state}${s.detail ? ` (${s.detail})` : ''}`)
    .catch((e: Error) => `unknown (${e.message.slice(0, 200)})`);
  const point = record?.pointOfNoReturn;
  const restoreSql = roles.map((r) => `${restoreRoleSql(r)};`).join(' ');
  const mode = modeLabel(ctx.input);
  const late = error?.Error === ERRORS.lateWrites;
  const lines = [
    late
      ? `Migration ${id}${mode} switched, but selected tables changed on the source after the final-sync marker: those changes are NOT on the target. Nothing was undone automatically.`
      : `Migration ${id}${mode} FAILED in phase ${failedPhase} after the point of no return. Nothing was undone automatically.`,
    `Cause: ${cause}`,
    ``,
    `State now: ${point?.what === 'traffic-switched' ? `traffic was switched to the target at ${point.at}` : `the application was handed over at ${point?.at ?? 'an unknown time'} (no traffic switch configured)`}; ` +
      `forward replication (${ctx.deps.replication.description}) is ${replication}; the source is still FROZEN ` +
      `(roles ${roles.map((r) => r.role).join(', ') || '(none saved)'} cannot log in).`,
    ``,
    late
      ? `Copy the listed changes to the target (the source's tracking slot ${record?.tracking?.source.slot ?? '(unknown)'} keeps them), then drop that slot: it retains WAL. The way back was not started.`
      : `Finish forward: fix the cause and start a new execution with the same migrationId and mode "execute" — finished phases are skipped and it resumes at ${failedPhase}.`,
    `Unfreeze the source only if the application does not write to the target (${restoreSql || 'see the saved freeze record'}).`,
  ];
  if (!alreadyReported) {
    const subject = late ? 'LATE WRITES after the switch' : 'cutover FAILED after the switch';
    await ctx.deps.notifier.notify(`zdm ${id}${mode}: ${subject}`, lines.join('\n'), {
      migrationId: id,
      mode: ctx.input.mode,
      phase: failedPhase,
      outcome: late ? 'late-writes' : 'failed',
    });
  }
  return {
    failed: true,
    phase: failedPhase,
    cause,
    replication,
    sourceFrozen: ctx.input.mode === 'execute' && roles.length > 0,
  };
}
