/**
 * Phase bookkeeping of the cutover steps in the state store (resume = skip what succeeded) and the notices that go
 * with it.
 */
import { errorMessage } from '../helpers';
import type { MigrationRecord, PhaseName, PhaseRecord, PhaseStatus } from '../ports';
import { modeLabel } from './state-keys';
import type { StepContext } from './step-context';

export type Summary = Record<string, unknown>;

/** Keeps a phase summary small: scalar fields and short arrays only, at most ~4 KB of JSON. */
export function smallSummary(result: Summary): Summary {
  const out: Summary = {};
  for (const [k, v] of Object.entries(result)) {
    if (v === undefined) continue;
    const json = JSON.stringify(v);
    if (json !== undefined && json.length <= 1500) out[k] = v;
  }
  while (JSON.stringify(out).length > 4000) {
    const longest = Object.keys(out).sort((a, b) => JSON.stringify(out[b]).length - JSON.stringify(out[a]).length)[0];
    if (!longest) break;
    delete out[longest];
  }
  return out;
}

export async function getRecord(ctx: StepContext): Promise<MigrationRecord> {
  const record = await ctx.deps.state.get(ctx.key);
  if (!record) {
    throw new Error(`no state record for migration "${ctx.key}": run the validateInput step first`);
  }
  return record;
}

function finishedSummary(existing: PhaseRecord | undefined): Summary | undefined {
  return existing && (existing.status === 'succeeded' || existing.status === 'skipped')
    ? { ...(existing.summary ?? {}) }
    : undefined;
}

async function markRunning(
  ctx: StepContext,
  phase: PhaseName,
  existing: PhaseRecord | undefined,
): Promise<PhaseRecord> {
  if (existing?.status === 'running') return existing;
  const running: PhaseRecord = { status: 'running', startedAt: ctx.iso() };
  await ctx.deps.state.putPhase(ctx.key, phase, running);
  return running;
}

/** The stored summary of a phase that already succeeded (resume), or undefined. */
export async function succeededPhase(ctx: StepContext, phase: PhaseName): Promise<Summary | undefined> {
  return finishedSummary((await ctx.deps.state.get(ctx.key))?.phases[phase]);
}

/** Marks a phase running, keeping the first start time when it is already running (looping steps). */
export async function beginPhase(ctx: StepContext, phase: PhaseName): Promise<PhaseRecord> {
  return markRunning(ctx, phase, (await ctx.deps.state.get(ctx.key))?.phases[phase]);
}

export async function endPhase(
  ctx: StepContext,
  phase: PhaseName,
  started: PhaseRecord,
  status: Exclude<PhaseStatus, 'running'>,
  summary: Summary,
  error?: string,
): Promise<void> {
  await ctx.deps.state.putPhase(ctx.key, phase, {
    status,
    startedAt: started.startedAt,
    endedAt: ctx.iso(),
    summary: smallSummary(summary),
    ...(error ? { error: error.slice(0, 1000) } : {}),
  });
}

/** One line to the operator: migration id, mode, phase, what happened. */
export async function notifyPhase(ctx: StepContext, phase: string, outcome: string, line: string): Promise<void> {
  const mode = modeLabel(ctx.input);
  await ctx.deps.notifier.notify(
    `zdm ${ctx.input.migrationId}${mode}: ${phase} ${outcome}`,
    `Migration ${ctx.input.migrationId}${mode} — ${phase} ${outcome}: ${line}`,
    { migrationId: ctx.input.migrationId, mode: ctx.input.mode, phase, outcome },
  );
}

/**
 * Runs a single-invocation phase: skips it when it already succeeded (returns the stored summary with
 * `skipped: true`), otherwise records running → succeeded/failed around `work` and notifies the end.
 */
export interface PhaseOutcome {
  readonly result: Summary;
  /** One line for the operator's notice. */
  readonly line: string;
  /** @default 'succeeded' */
  readonly status?: 'succeeded' | 'skipped';
}

export interface RunPhaseOptions {
  /**
   * Run it on every execution, even when it succeeded before (the read switch: its own record says what is done,
   * not the phase). @default false
   */
  readonly everyRun?: boolean;
  /** Also send a notice when it fails (when no later step reports it). @default false */
  readonly notifyFailure?: boolean;
}

export async function runPhase(
  ctx: StepContext,
  phase: PhaseName,
  work: () => Promise<PhaseOutcome>,
  options: RunPhaseOptions = {},
): Promise<Summary> {
  // One read for both the resume check and the start (most of these phases run inside the write freeze).
  const existing = (await ctx.deps.state.get(ctx.key))?.phases[phase];
  const done = options.everyRun ? undefined : finishedSummary(existing);
  if (done) return { ...done, skipped: true };
  const started = await markRunning(ctx, phase, existing);
  let outcome: PhaseOutcome;
  try {
    outcome = await work();
  } catch (error) {
    await endPhase(ctx, phase, started, 'failed', {}, errorMessage(error)).catch(() => undefined);
    if (options.notifyFailure) await notifyPhase(ctx, phase, 'FAILED', errorMessage(error)).catch(() => undefined);
    throw error;
  }
  await endPhase(ctx, phase, started, outcome.status ?? 'succeeded', outcome.result);
  await notifyPhase(ctx, phase, outcome.status === 'skipped' ? 'skipped' : 'done', outcome.line);
  return outcome.result;
}
