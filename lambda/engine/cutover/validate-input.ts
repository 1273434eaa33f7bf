/**
 * The ValidateInput step: parses and defaults an execution's input (`parseExecutionInput`: modes, actions, roles,
 * timeouts, endpoints, each bad value named), checks it against the deployed defaults and creates the migration record.
 */
import { createContext } from './step-context';
import { notifyPhase } from './phase-records';
import { stateKey } from './state-keys';
import {
  acknowledgedWritersProblem,
  applicationRolesProblem,
  CUTOVER_INPUT_DEFAULTS,
  CUTOVER_INPUT_LIMITS,
  CUTOVER_WORKFLOW_DEFAULTS,
  describeApplicationRolesProblem,
  MAX_APPLICATION_ROLES,
  MAX_LAG_CHECKS,
  MIGRATION_ID_PATTERN,
  CutoverError,
  ERRORS,
  EXECUTION_MODES,
  type CutoverAction,
  type CutoverDirection,
  type CutoverExecutionInput,
  type CutoverInput,
  type CutoverMode,
} from '../../../contract';
import type { CutoverDeps } from './deps';
import { listBounded } from '../helpers';

export { MAX_APPLICATION_ROLES, MAX_LAG_CHECKS };
/** How far in the future an operator-given `startedAt` may be (clock skew between machines). */
export const STARTED_AT_CLOCK_SKEW_SECONDS = 60;
/** The construct's default execution timeout, used when the construct did not pass its own. */
export const DEFAULT_EXECUTION_TIMEOUT_SECONDS = CUTOVER_WORKFLOW_DEFAULTS.executionTimeoutSeconds;
/** The longest error message this step produces. */
const MAX_MESSAGE = 2000;

function positiveLimit(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/**
 * How many lag checks an input can take at most: one every `pollIntervalSeconds` until `syncTimeoutSeconds` ran out,
 * plus the first. CheckLag (or the state machine) can use it to bound the loop.
 */
export function maxLagChecks(input: Pick<CutoverInput, 'syncTimeoutSeconds'>, pollIntervalSeconds: number): number {
  if (!(pollIntervalSeconds > 0)) throw new Error(`pollIntervalSeconds must be positive, got ${pollIntervalSeconds}`);
  return Math.floor(input.syncTimeoutSeconds / pollIntervalSeconds) + 1;
}

function badInput(message: string): CutoverError {
  return new CutoverError(
    ERRORS.badInput,
    message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}… (${message.length} characters)` : message,
  );
}

/** Execution input fields that are accepted; anything else is a typo (`requireAproval`) and rejected. */
const KNOWN_FIELDS = new Set([
  'migrationId',
  'mode',
  'lagThresholdSeconds',
  'consecutiveChecks',
  'syncTimeoutSeconds',
  'finalSyncTimeoutSeconds',
  'applicationRoles',
  'acknowledgedWriters',
  'writersInFlightSeconds',
  'requireApproval',
  'fullValidationAfterSwitch',
  'switchTrafficTo',
  'switchReadsTo',
  // Set by a redrive / resubmission so the sync timeout keeps counting from the first start.
  'startedAt',
  // Free text for the operator's own records.
  'comment',
]);

function bad(field: string, value: unknown, expected: string): CutoverError {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 200) shown = `${shown.slice(0, 200)}…`;
  return badInput(`execution input field "${field}" ${expected}, got ${shown}`);
}

type RawInput = CutoverExecutionInput & Record<string, unknown>;
type NumericField = keyof typeof CUTOVER_INPUT_LIMITS;

function num(raw: RawInput, field: NumericField, fallback: number): number {
  const limits: { min: number; max: number; integer?: boolean } = CUTOVER_INPUT_LIMITS[field];
  const { min, max, integer } = limits;
  const value = raw[field] === undefined ? fallback : raw[field];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw bad(field, value, `must be a ${integer ? 'whole ' : ''}number from ${min} to ${max}`);
  }
  if (integer && !Number.isInteger(value)) throw bad(field, value, `must be a whole number from ${min} to ${max}`);
  return value;
}

/** The input as an object with known fields only. */
function rawObject(rawInput: unknown): RawInput {
  if (rawInput === null || typeof rawInput !== 'object' || Array.isArray(rawInput)) {
    throw bad('(input)', rawInput, 'must be a JSON object such as {"migrationId": "orders-db", "mode": "dry-run"}');
  }
  const raw = rawInput as RawInput;
  const unknownFields = Object.keys(raw).filter((k) => !KNOWN_FIELDS.has(k));
  if (unknownFields.length > 0) {
    throw badInput(
      `execution input has unknown field(s) ${listBounded(
        unknownFields.map((f) => JSON.stringify(f)),
        10,
      )}; known fields: ${[...KNOWN_FIELDS].join(', ')}`,
    );
  }
  return raw;
}

/** What a field the operator leaves out is: the construct's default, else the contract's. */
function inputDefaults(deps: Pick<CutoverDeps, 'defaults'>, direction: CutoverDirection) {
  return {
    ...CUTOVER_INPUT_DEFAULTS,
    ...(deps.defaults ?? {}),
    // The fallback points the application back at the source.
    ...(direction === 'fallback' ? { switchTrafficTo: deps.defaults?.fallbackTrafficTo ?? '' } : {}),
  };
}
type InputDefaults = ReturnType<typeof inputDefaults>;

function parseMigrationId(raw: RawInput): string {
  const migrationId = raw.migrationId;
  if (typeof migrationId !== 'string' || !MIGRATION_ID_PATTERN.test(migrationId)) {
    throw bad(
      'migrationId',
      migrationId,
      'is required: 1 to 128 characters, letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  return migrationId;
}

/** `mode` as given, and what it means: the action and whether it changes anything. */
function parseMode(
  raw: RawInput,
  direction: CutoverDirection,
): { readonly givenMode: unknown; readonly action: CutoverAction; readonly mode: CutoverMode } {
  const givenMode = raw.mode === undefined ? 'dry-run' : raw.mode;
  if (!(EXECUTION_MODES as readonly unknown[]).includes(givenMode)) {
    throw bad('mode', givenMode, `must be ${EXECUTION_MODES.map((m) => `"${m}"`).join(', ')}`);
  }
  // The read-switch actions check sync as a dry run does; only their read switch acts.
  const action: CutoverAction =
    givenMode === 'execute' || givenMode === 'dry-run' ? 'cutover' : (givenMode as Exclude<CutoverAction, 'cutover'>);
  if (direction === 'fallback' && action !== 'cutover') {
    throw bad('mode', givenMode, 'must be "dry-run" or "execute" on the fallback state machine');
  }
  // end-fallback-window acts (it closes the way back); the read-switch actions check sync as a dry run does.
  const mode: CutoverMode = givenMode === 'execute' || givenMode === 'end-fallback-window' ? 'execute' : 'dry-run';
  return { givenMode, action, mode };
}

type Timing = Pick<
  CutoverInput,
  'lagThresholdSeconds' | 'consecutiveChecks' | 'syncTimeoutSeconds' | 'finalSyncTimeoutSeconds'
>;

function parseTiming(raw: RawInput, defaults: InputDefaults): Timing {
  return {
    lagThresholdSeconds: num(raw, 'lagThresholdSeconds', defaults.lagThresholdSeconds),
    consecutiveChecks: num(raw, 'consecutiveChecks', defaults.consecutiveChecks),
    syncTimeoutSeconds: num(raw, 'syncTimeoutSeconds', defaults.syncTimeoutSeconds),
    finalSyncTimeoutSeconds: num(raw, 'finalSyncTimeoutSeconds', defaults.finalSyncTimeoutSeconds),
  };
}

/** Who writes: the roles the freeze blocks (contract/roles.ts), the writers accepted, how long to wait for writers. */
function parseWriters(
  raw: RawInput,
  deps: Pick<CutoverDeps, 'defaults'>,
  defaults: InputDefaults,
  action: CutoverAction,
): Pick<CutoverInput, 'applicationRoles' | 'acknowledgedWriters' | 'writersInFlightSeconds'> {
  const roles = raw.applicationRoles === undefined ? (deps.defaults?.applicationRoles ?? []) : raw.applicationRoles;
  // Only the freeze acts on the roles; pointing the reads back needs none.
  if (!Array.isArray(roles) || (roles.length === 0 && action !== 'revert-reads' && action !== 'end-fallback-window')) {
    throw bad(
      'applicationRoles',
      roles,
      'must list at least one source role whose connections the freeze blocks (set it in the input or the construct)',
    );
  }
  const rolesProblem = applicationRolesProblem(roles);
  if (rolesProblem) {
    const { field, value, expected } = describeApplicationRolesProblem(rolesProblem);
    throw bad(field, value, expected);
  }

  const writers =
    raw.acknowledgedWriters === undefined ? (deps.defaults?.acknowledgedWriters ?? []) : raw.acknowledgedWriters;
  const writersProblem = acknowledgedWritersProblem(writers, roles as string[]);
  if (writersProblem) throw bad(writersProblem.field, writersProblem.value, writersProblem.expected);
  return {
    applicationRoles: [...(roles as string[])],
    acknowledgedWriters: [...(writers as string[])],
    writersInFlightSeconds: num(raw, 'writersInFlightSeconds', defaults.writersInFlightSeconds),
  };
}

function parseFlag(raw: RawInput, field: 'requireApproval' | 'fullValidationAfterSwitch', fallback: boolean): boolean {
  const value = raw[field] === undefined ? fallback : raw[field];
  if (typeof value !== 'boolean') throw bad(field, value, 'must be true or false');
  return value;
}

/** Where the switches point: the write endpoint, and the read endpoint (the read-switch actions need one). */
function parseEndpoints(
  raw: RawInput,
  deps: Pick<CutoverDeps, 'defaults'>,
  defaults: InputDefaults,
  { givenMode, action }: { readonly givenMode: unknown; readonly action: CutoverAction },
): Pick<CutoverInput, 'switchTrafficTo' | 'switchReadsTo'> {
  const switchTrafficTo = raw.switchTrafficTo === undefined ? defaults.switchTrafficTo : raw.switchTrafficTo;
  if (typeof switchTrafficTo !== 'string' || switchTrafficTo.length > 1024 || /\s/.test(switchTrafficTo)) {
    throw bad('switchTrafficTo', switchTrafficTo, 'must be an endpoint (host name) without spaces, or ""');
  }

  const switchReadsTo = raw.switchReadsTo === undefined ? defaults.switchReadsTo : raw.switchReadsTo;
  if (typeof switchReadsTo !== 'string' || switchReadsTo.length > 1024 || /\s/.test(switchReadsTo)) {
    throw bad(
      'switchReadsTo',
      switchReadsTo,
      'must be an endpoint (the target\'s reader endpoint) without spaces, or ""',
    );
  }
  if ((action === 'switch-reads' || action === 'revert-reads') && deps.defaults?.readTrafficSwitch !== true) {
    throw bad('mode', givenMode, 'needs a read traffic switch: set readTrafficSwitch on the construct');
  }
  if (action === 'switch-reads' && !switchReadsTo) {
    throw bad(
      'switchReadsTo',
      switchReadsTo,
      'must name the endpoint the reads go to (the target\'s reader endpoint) for mode "switch-reads"',
    );
  }
  return { switchTrafficTo, switchReadsTo };
}

/**
 * The timing against the state machine's own limits (from the construct): the execution timeout, and the lag checks
 * an execution's history holds. Returns the execution timeout.
 */
function checkWorkflowLimits(deps: Pick<CutoverDeps, 'defaults'>, timing: Timing): number {
  const { syncTimeoutSeconds, finalSyncTimeoutSeconds, consecutiveChecks } = timing;
  const limits = deps.defaults ?? {};
  const executionTimeoutSeconds = positiveLimit(limits.executionTimeoutSeconds) ?? DEFAULT_EXECUTION_TIMEOUT_SECONDS;
  if (syncTimeoutSeconds + finalSyncTimeoutSeconds >= executionTimeoutSeconds) {
    throw bad(
      'syncTimeoutSeconds',
      syncTimeoutSeconds,
      `plus finalSyncTimeoutSeconds (${finalSyncTimeoutSeconds}) must be less than the execution timeout (${executionTimeoutSeconds} seconds)`,
    );
  }
  const pollIntervalSeconds = positiveLimit(limits.pollIntervalSeconds);
  if (pollIntervalSeconds !== undefined) {
    const checks = maxLagChecks({ syncTimeoutSeconds }, pollIntervalSeconds);
    if (checks > MAX_LAG_CHECKS) {
      throw bad(
        'syncTimeoutSeconds',
        syncTimeoutSeconds,
        `allows ${checks} lag checks (one every ${pollIntervalSeconds}s), more than the ${MAX_LAG_CHECKS} an execution's ` +
          `25,000-event history holds: use at most ${(MAX_LAG_CHECKS - 1) * pollIntervalSeconds} seconds, or a longer pollInterval in the construct`,
      );
    }
    if (consecutiveChecks > checks) {
      throw bad(
        'consecutiveChecks',
        consecutiveChecks,
        `cannot be reached within syncTimeoutSeconds (${syncTimeoutSeconds}s allows ${checks} checks, one every ${pollIntervalSeconds}s)`,
      );
    }
  }
  return executionTimeoutSeconds;
}

/**
 * When the cutover started: now, or (set by the workflow; an operator passes it back only to resume an earlier
 * execution, checked in validateInput) the given time, within the execution timeout.
 */
function parseStartedAt(raw: RawInput, deps: Pick<CutoverDeps, 'now'>, executionTimeoutSeconds: number): string {
  const now = (deps.now ?? (() => new Date()))();
  const startedAt = now.toISOString();
  if (raw.startedAt === undefined) return startedAt;
  if (typeof raw.startedAt !== 'string' || raw.startedAt.length > 64 || Number.isNaN(Date.parse(raw.startedAt))) {
    throw bad('startedAt', raw.startedAt, 'must be an ISO-8601 time');
  }
  const given = Date.parse(raw.startedAt);
  if (given > now.getTime() + STARTED_AT_CLOCK_SKEW_SECONDS * 1000) {
    throw bad('startedAt', raw.startedAt, `must not be in the future (now is ${startedAt})`);
  }
  if (given < now.getTime() - executionTimeoutSeconds * 1000) {
    throw bad(
      'startedAt',
      raw.startedAt,
      `must be within the execution timeout (${executionTimeoutSeconds} seconds) of now (${startedAt}); start a new cutover without it`,
    );
  }
  return new Date(Math.min(given, now.getTime())).toISOString();
}

/**
 * Validates and defaults the raw execution input. Throws ZdmBadInput naming the field and value; no side effects.
 * Fields are checked in this order, so the first bad one is the one reported.
 */
export function parseExecutionInput(
  rawInput: unknown,
  deps: Pick<CutoverDeps, 'defaults' | 'now'>,
  direction: CutoverDirection = 'forward',
): CutoverInput {
  const raw = rawObject(rawInput);
  const defaults = inputDefaults(deps, direction);
  const migrationId = parseMigrationId(raw);
  const mode = parseMode(raw, direction);
  const timing = parseTiming(raw, defaults);
  const writers = parseWriters(raw, deps, defaults, mode.action);
  const requireApproval = parseFlag(raw, 'requireApproval', defaults.requireApproval);
  const fullValidationAfterSwitch = parseFlag(raw, 'fullValidationAfterSwitch', defaults.fullValidationAfterSwitch);
  const endpoints = parseEndpoints(raw, deps, defaults, mode);
  const startedAt = parseStartedAt(raw, deps, checkWorkflowLimits(deps, timing));
  if (raw.comment !== undefined && typeof raw.comment !== 'string') throw bad('comment', raw.comment, 'must be text');

  return {
    migrationId,
    mode: mode.mode,
    action: mode.action,
    direction,
    ...timing,
    applicationRoles: writers.applicationRoles,
    acknowledgedWriters: writers.acknowledgedWriters,
    writersInFlightSeconds: writers.writersInFlightSeconds,
    requireApproval,
    fullValidationAfterSwitch,
    ...endpoints,
    startedAt,
  };
}

/**
 * A fallback with no endpoint to switch back to (none given, none configured) goes back to where the cutover found the
 * application: the value its SwitchTraffic recorded as `from`. An explicit `"switchTrafficTo": ""` stays empty.
 */
async function withFallbackEndpoint(deps: CutoverDeps, input: CutoverInput, rawInput: unknown): Promise<CutoverInput> {
  if (input.direction !== 'fallback' || input.switchTrafficTo) return input;
  if ((rawInput as { switchTrafficTo?: unknown }).switchTrafficTo !== undefined) return input;
  const from = (await deps.state.get(input.migrationId))?.phases.switchTraffic?.summary?.from;
  return typeof from === 'string' && from ? { ...input, switchTrafficTo: from } : input;
}

/**
 * The first step: validate the input (nothing is written when it is bad), create or load the state record,
 * and tell the operator the cutover started (or resumed, when a previous execution left phases behind).
 *
 * An execute record that was rolled back cannot be resumed: its earlier phases (freeze included) were undone,
 * so reusing their results would be wrong. Start a new execution with a new migrationId.
 */
export async function validateInput(
  deps: CutoverDeps,
  rawInput: unknown,
  direction: CutoverDirection = 'forward',
): Promise<CutoverInput> {
  const input = await withFallbackEndpoint(deps, parseExecutionInput(rawInput, deps, direction), rawInput);
  const ctx = createContext(deps, input);
  const existing = await deps.state.get(stateKey(input));
  if (!existing && (rawInput as { startedAt?: unknown }).startedAt !== undefined) {
    throw bad(
      'startedAt',
      (rawInput as { startedAt?: unknown }).startedAt,
      `is set by the workflow: give it only to resume an earlier execution of this migration, and ${JSON.stringify(input.migrationId)} ` +
        `(${input.mode}) has none with it; leave it out`,
    );
  }
  // A fallback rolled back before its switch left everything as it was (on Aurora, the way back open): it starts over.
  if (existing?.status === 'rolled-back' && input.direction !== 'fallback') {
    throw badInput(
      `execution input field "migrationId" ${JSON.stringify(input.migrationId)} names a cutover that was rolled back at ${existing.updatedAt}` +
        `${existing.error ? ` (${existing.error.slice(0, 200)})` : ''}; start a new execution with a new migrationId`,
    );
  }
  const record =
    existing?.status === 'rolled-back'
      ? await deps.state.restart(ctx.key, input.mode, ctx.iso())
      : await deps.state.ensure(ctx.key, input.mode, ctx.iso());
  const donePhases = Object.entries(record.phases)
    .filter(([, p]) => p?.status === 'succeeded' || p?.status === 'skipped')
    .map(([name]) => name);
  if (record.status === 'failed') await deps.state.setStatus(ctx.key, 'running', ctx.iso());
  const resumed = Object.keys(record.phases).length > 0;
  await notifyPhase(
    ctx,
    'cutover',
    resumed ? 'resumed' : 'started',
    resumed
      ? `resuming; already done: ${donePhases.join(', ') || 'nothing'}.`
      : input.action === 'end-fallback-window'
        ? 'END FALLBACK WINDOW: the reverse replication stops and its slot is dropped; there is no way back after this.'
        : input.action === 'revert-reads'
          ? 'REVERT READS: the read path goes back to the source.'
          : input.action === 'switch-reads'
            ? `SWITCH READS to ${input.switchReadsTo} once the target is in sync (checked as a dry run; writes stay on the source); ` +
              `lag ≤ ${input.lagThresholdSeconds}s for ${input.consecutiveChecks} checks (timeout ${input.syncTimeoutSeconds}s).`
            : `${input.direction === 'fallback' ? 'FALLBACK to the source, ' : ''}${input.mode === 'execute' ? 'EXECUTE' : 'dry run (changes nothing)'}; roles ${listBounded(input.applicationRoles)}; ` +
              `lag ≤ ${input.lagThresholdSeconds}s for ${input.consecutiveChecks} checks (timeout ${input.syncTimeoutSeconds}s); ` +
              `approval ${input.requireApproval ? 'required' : 'not required'}; ` +
              `${input.switchReadsTo ? `switch reads to ${input.switchReadsTo} first; ` : ''}` +
              `switch traffic ${input.switchTrafficTo ? `to ${input.switchTrafficTo}` : 'no'}.`,
  );
  return input;
}
