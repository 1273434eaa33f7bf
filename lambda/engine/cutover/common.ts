/**
 * Shared plumbing of the cutover steps: the state key, phase bookkeeping (resume = skip what succeeded),
 * notices, database access and secret redaction.
 */
import type { Pool, PoolClient } from 'pg';
import { redactSecrets, withPooledClient } from '../pg/connection';
import type { MigrationRecord, PhaseName, PhaseRecord, PhaseStatus } from '../ports';
import type { CutoverAction, CutoverDirection, CutoverInput, DatabaseSide } from '../../../contract';
import { sharedPool, sharedPools } from './connections';
import type { CutoverDeps } from './deps';

/**
 * The key of a cutover's record in the state store.
 *
 * - `execute`: the migrationId itself, so a new execution with the same migrationId resumes (skips phases that
 *   succeeded, finds the saved freeze settings and marker token).
 * - `dry-run`: `<migrationId>#dry-run#<startedAt>` — every dry-run execution gets its own record, so a dry run
 *   never shares phase results with an execute run (nor with another dry run). `#` cannot occur in a valid
 *   migrationId, so the keys never collide. A redrive of the same execution keeps `startedAt`, so it still resumes.
 * - the fallback: `<migrationId>#fallback` (dry run: `<migrationId>#fallback#dry-run#<startedAt>`); what it shares
 *   with the cutover (its saved freeze, the way back) it reads from the cutover's record.
 * - `switch-reads` / `revert-reads` / `end-fallback-window`: `<migrationId>#<action>#<startedAt>`, for the same reason. What they share
 *   with the write cutover — where the read path pointed — is on its own record (readSwitchKey).
 */
export function stateKey(
  input: Pick<CutoverInput, 'migrationId' | 'mode' | 'startedAt'> & {
    action?: CutoverAction;
    direction?: CutoverDirection;
  },
): string {
  if (input.action && input.action !== 'cutover') return `${input.migrationId}#${input.action}#${input.startedAt}`;
  const id = input.direction === 'fallback' ? `${input.migrationId}#fallback` : input.migrationId;
  return input.mode === 'execute' ? id : `${id}#dry-run#${input.startedAt}`;
}

/** The record of a migration's read switch, shared by every execution of that migration. */
export function readSwitchKey(migrationId: string): string {
  return `${migrationId}#reads`;
}

/** What notices add after the migration id: ` [dry run]`, ` [switch reads]`, ` [revert reads]` or nothing. */
export function modeLabel(
  input: Pick<CutoverInput, 'mode'> & { action?: CutoverAction; direction?: CutoverDirection },
): string {
  if (input.action && input.action !== 'cutover') return ` [${input.action.replace(/-/g, ' ')}]`;
  const fallback = input.direction === 'fallback' ? ' [fallback]' : '';
  return `${fallback}${input.mode === 'dry-run' ? ' [dry run]' : ''}`;
}

export interface StepContext {
  readonly deps: CutoverDeps;
  readonly input: CutoverInput;
  readonly key: string;
  now(): Date;
  iso(): string;
}

export function createContext(deps: CutoverDeps, input: CutoverInput): StepContext {
  const now = deps.now ?? (() => new Date());
  return { deps, input, key: stateKey(input), now, iso: () => now().toISOString() };
}

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

/**
 * Runs `fn` with a pool per side (pinned session settings). The pools are shared across steps and kept open
 * (see connections.ts): `fn` must not end them.
 */
export async function withPools<T>(
  ctx: StepContext,
  fn: (pools: { source: Pool; target: Pool }) => Promise<T>,
): Promise<T> {
  return fn(await sharedPools(ctx.deps));
}

/**
 * Runs `fn` with one pooled connection of a side. The connection goes back to the pool when `fn` succeeds and
 * is destroyed when it fails (whatever session state the failure left behind goes with it).
 */
export async function withClient<T>(
  ctx: StepContext,
  side: DatabaseSide,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  return withPooledClient(await sharedPool(ctx.deps, side), fn);
}

/** Removes both databases' passwords from a message. */
export async function redactAll(deps: CutoverDeps, message: string): Promise<string> {
  let out = message;
  for (const get of [deps.source, deps.target]) {
    try {
      out = redactSecrets(out, await get());
    } catch {
      // The spec itself could not be resolved; nothing of it can be in the message.
    }
  }
  return out;
}

export { sleep } from '../validation/concurrency';

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
