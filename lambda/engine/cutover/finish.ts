import { connect } from '../pg/connection';
import { quoteIdent } from '../pg/identifiers';
import { PHASES, type MigrationRecord, type SavedRoleSettings } from '../ports';
import { beginPhase, endPhase, getRecord, succeededPhase, type StepContext } from './common';

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
  const freezeStart = record.freeze?.frozenAt ?? record.phases.freezeWrites?.startedAt;
  const writeFreezeMs =
    ctx.input.mode === 'execute' && freezeStart ? now.getTime() - Date.parse(freezeStart) : undefined;
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
    ctx.input.mode === 'execute'
      ? [
          `Migration ${id} is complete: the target has every write, replication is stopped, sequences are set${
            record.phases.switchTraffic?.status === 'succeeded' ? ', traffic is switched' : ''
          }.`,
          writeFreezeMs !== undefined
            ? `Writes have been frozen on the source for ${(writeFreezeMs / 1000).toFixed(1)} s.`
            : '',
          `The source stays frozen and its replication slot is kept so you can still fall back; drop the slot once rollback is no longer needed (it retains WAL).`,
          ``,
          `Timings:`,
          formatTimings(timings),
        ]
      : [`Dry run of ${id} finished: every phase ran and changed nothing.`, ``, `Timings:`, formatTimings(timings)];
  await ctx.deps.notifier.notify(
    `zdm ${id}${ctx.input.mode === 'dry-run' ? ' [dry run]' : ''}: cutover succeeded`,
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

/** The statement that gives a frozen role its saved login settings back. */
function restoreRoleSql(role: SavedRoleSettings): string {
  return `ALTER ROLE ${quoteIdent(role.role)} WITH ${role.canLogin ? 'LOGIN' : 'NOLOGIN'} CONNECTION LIMIT ${Math.trunc(role.connectionLimit)}`;
}

/**
 * Rolls back a failure before replication stopped: restores each frozen role exactly as saved (login and
 * connection limit), marks the cutover rolled back and tells the operator why.
 * Idempotent. When the stop-replication phase had already begun, it does not unfreeze but reports instead.
 */
export async function rollback(
  ctx: StepContext,
  error: { readonly Error?: string; readonly Cause?: string } | undefined,
): Promise<Record<string, unknown>> {
  const cause = describeCause(error);
  const record = await ctx.deps.state.get(ctx.key);
  if (!record) {
    // validateInput failed before creating anything: nothing to restore.
    return { rolledBack: true, restoredRoles: [], cause, note: 'nothing had been changed' };
  }
  if (ctx.input.mode === 'execute' && record.phases.stopReplication) {
    return reportStoppedFailure(ctx, error);
  }
  const restored: string[] = [];
  const freeze = record.freeze;
  if (ctx.input.mode === 'execute' && freeze && !freeze.restoredAt) {
    const client = await connect(await ctx.deps.source(), 'zdm-cutover');
    try {
      for (const role of freeze.roles) {
        await client.query(restoreRoleSql(role));
        restored.push(role.role);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    await ctx.deps.state.markFreezeRestored(ctx.key, ctx.iso());
  }
  // Lag alarm actions are muted only by StopReplication, and a rollback happens only before that phase began:
  // they were never touched, so they are left exactly as the operator has them (a dry run changes nothing).
  if (record.status !== 'rolled-back') {
    await ctx.deps.state.setStatus(ctx.key, 'rolled-back', ctx.iso(), cause);
    const id = ctx.input.migrationId;
    const mode = ctx.input.mode === 'dry-run' ? ' [dry run]' : '';
    await ctx.deps.notifier.notify(
      `zdm ${id}${mode}: cutover failed and was rolled back`,
      [
        `Migration ${id}${mode} failed before replication was stopped, so it was rolled back.`,
        `Cause: ${cause}`,
        restored.length > 0
          ? `Source writes are restored: roles ${restored.join(', ')} have their original login settings again.`
          : freeze?.restoredAt
            ? `Source roles had already been restored at ${freeze.restoredAt}.`
            : `Writes had not been frozen; nothing on the source was changed.`,
        `Replication keeps running. Fix the cause, then start a new execution with a new migrationId.`,
      ].join('\n'),
      { migrationId: id, mode: ctx.input.mode, phase: 'rollback', outcome: 'rolled-back' },
    );
  }
  return {
    rolledBack: true,
    restoredRoles: restored,
    alreadyRestored: restored.length === 0 && Boolean(freeze?.restoredAt),
    cause,
  };
}

/**
 * A failure after replication stopped: no automatic unfreeze (the target may already be ahead of, or
 * partly switched from, the source). Marks the cutover failed and tells the operator exactly what state
 * things are in and what to do.
 */
export async function reportStoppedFailure(
  ctx: StepContext,
  error: { readonly Error?: string; readonly Cause?: string } | undefined,
): Promise<Record<string, unknown>> {
  const cause = describeCause(error);
  const record = await ctx.deps.state.get(ctx.key);
  const id = ctx.input.migrationId;
  const roles = record?.freeze?.roles ?? [];
  const failedPhase =
    PHASES.find((p) => record?.phases[p]?.status === 'failed') ??
    PHASES.find((p) => record?.phases[p]?.status === 'running') ??
    'unknown';
  const alreadyReported = record?.status === 'failed' && record.error === cause;
  if (record && !alreadyReported) {
    await ctx.deps.state.setStatus(ctx.key, 'failed', ctx.iso(), cause);
  }
  const restoreSql = roles.map((r) => `${restoreRoleSql(r)};`).join(' ');
  const mode = ctx.input.mode === 'dry-run' ? ' [dry run]' : '';
  const lines =
    ctx.input.mode === 'dry-run'
      ? [
          `Dry run of ${id} failed in ${failedPhase} after the (simulated) replication stop; nothing was changed.`,
          `Cause: ${cause}`,
        ]
      : [
          `Migration ${id} FAILED in phase ${failedPhase} after replication was stopped. Nothing was undone automatically.`,
          `Cause: ${cause}`,
          ``,
          `State now: replication (${ctx.deps.replication.description}) is stopped, its slot is kept; the source is still FROZEN ` +
            `(roles ${roles.map((r) => r.role).join(', ') || '(none saved)'} cannot log in); lag alarm actions are off.`,
          ``,
          `Either finish forward: fix the cause and start a new execution with the same migrationId and mode "execute" — ` +
            `finished phases are skipped and it resumes at ${failedPhase}.`,
          `Or fall back to the source (only if the application has not written to the target yet): restore the source logins ` +
            `(${restoreSql || 'see the saved freeze record'}), re-enable alarm actions, and restart replication before trying again.`,
        ];
  if (!alreadyReported) {
    await ctx.deps.notifier.notify(`zdm ${id}${mode}: cutover FAILED after replication stopped`, lines.join('\n'), {
      migrationId: id,
      mode: ctx.input.mode,
      phase: failedPhase,
      outcome: 'failed',
    });
  }
  return { failed: true, phase: failedPhase, cause, sourceFrozen: ctx.input.mode === 'execute' && roles.length > 0 };
}
