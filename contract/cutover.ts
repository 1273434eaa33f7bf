/**
 * The contract between the cutover state machine (lib/cutover) and its Lambda steps (lambda/handlers).
 *
 * Every Task state invokes one function with `{ step, input, ...stepFields }`; the function dispatches on
 * `step`. `input` is always the normalised `CutoverInput` produced by the first step. Results are small JSON.
 * The state machine keeps `input` at `$.input` and each step's result at `$.results.<step>`.
 */
import type { PhaseName } from './phases';
import type { CutoverDirection, StepName } from './steps';

export type CutoverMode = 'dry-run' | 'execute';

/**
 * What an execution does: the whole cutover, or only the read switch. The execution input's `mode` names it:
 * `dry-run` / `execute` run the cutover, `switch-reads` checks sync as a dry run does and then points the read
 * path at the target's readers and stops, `revert-reads` points the read path back at the source.
 */
export type CutoverAction = 'cutover' | 'switch-reads' | 'revert-reads' | 'end-fallback-window';

/**
 * Values of the execution input field `mode`. `end-fallback-window` (cutover machine): stops the reverse replication
 * and drops its slot: the way back is closed.
 */
export const EXECUTION_MODES = ['dry-run', 'execute', 'switch-reads', 'revert-reads', 'end-fallback-window'] as const;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

/**
 * Defaults of the execution input fields, used when neither the construct (`DEFAULTS_JSON`) nor the operator sets
 * them. The construct's `@default`s read these values (lib/cutover/cutover-workflow.ts).
 */
export const CUTOVER_INPUT_DEFAULTS = {
  lagThresholdSeconds: 5,
  consecutiveChecks: 3,
  syncTimeoutSeconds: 2 * 60 * 60,
  finalSyncTimeoutSeconds: 5 * 60,
  requireApproval: false,
  fullValidationAfterSwitch: false,
  switchTrafficTo: '',
  switchReadsTo: '',
  writersInFlightSeconds: 5,
  acknowledgedWriters: [] as readonly string[],
} as const;

/**
 * The ranges of the numeric execution input fields (ValidateInput refuses anything outside them; the construct
 * checks its props against the same ones where they coincide). `finalSyncTimeoutSeconds` runs inside one 15-minute
 * Lambda invocation.
 */
export const CUTOVER_INPUT_LIMITS = {
  lagThresholdSeconds: { min: 0, max: 3600 },
  consecutiveChecks: { min: 1, max: 1000, integer: true },
  syncTimeoutSeconds: { min: 1, max: 7 * 24 * 3600 },
  finalSyncTimeoutSeconds: { min: 1, max: 14 * 60 },
  writersInFlightSeconds: { min: 0, max: 60 },
} as const;

/**
 * Defaults of the state machine's own limits, which the construct passes in `DEFAULTS_JSON` so the input can be
 * checked against them: the execution timeout (the construct's `timeout`) and the wait between lag checks (its
 * `pollInterval`).
 */
export const CUTOVER_WORKFLOW_DEFAULTS = {
  executionTimeoutSeconds: 2 * 24 * 3600,
  pollIntervalSeconds: 30,
} as const;

/**
 * What the construct passes to its functions in `DEFAULTS_JSON` (CUTOVER_ENVIRONMENT.defaults): defaults for the
 * execution input fields the operator leaves out, and the state machine's own limits. Every field is optional:
 * whatever is absent falls back to CUTOVER_INPUT_DEFAULTS / CUTOVER_WORKFLOW_DEFAULTS.
 */
export interface CutoverDefaults {
  readonly applicationRoles?: readonly string[];
  readonly acknowledgedWriters?: readonly string[];
  readonly writersInFlightSeconds?: number;
  readonly lagThresholdSeconds?: number;
  readonly consecutiveChecks?: number;
  readonly syncTimeoutSeconds?: number;
  readonly finalSyncTimeoutSeconds?: number;
  readonly requireApproval?: boolean;
  readonly fullValidationAfterSwitch?: boolean;
  /** The state machine's own limits, so input limits can be checked against them. */
  readonly executionTimeoutSeconds?: number;
  readonly pollIntervalSeconds?: number;
  readonly switchTrafficTo?: string;
  readonly switchReadsTo?: string;
  /** Where the fallback points the application back to (the source's endpoint). */
  readonly fallbackTrafficTo?: string;
  /** Whether the construct has a read traffic switch (`mode: "switch-reads"` / `"revert-reads"` need one). */
  readonly readTrafficSwitch?: boolean;
}

/** The type of each CutoverDefaults field, for reading `DEFAULTS_JSON` back. */
const CUTOVER_DEFAULTS_FIELDS: Record<keyof CutoverDefaults, 'number' | 'boolean' | 'string' | 'strings'> = {
  applicationRoles: 'strings',
  acknowledgedWriters: 'strings',
  writersInFlightSeconds: 'number',
  lagThresholdSeconds: 'number',
  consecutiveChecks: 'number',
  syncTimeoutSeconds: 'number',
  finalSyncTimeoutSeconds: 'number',
  requireApproval: 'boolean',
  fullValidationAfterSwitch: 'boolean',
  executionTimeoutSeconds: 'number',
  pollIntervalSeconds: 'number',
  switchTrafficTo: 'string',
  switchReadsTo: 'string',
  fallbackTrafficTo: 'string',
  readTrafficSwitch: 'boolean',
};

/**
 * Reads a parsed `DEFAULTS_JSON` as CutoverDefaults: a JSON object whose known fields have their declared types.
 * Fields it does not know are left out (a newer construct than the handler). The values' ranges are checked where the
 * input is (validate-input.ts), so a bad default is reported like a bad input field. Throws naming the field.
 */
export function parseCutoverDefaults(value: unknown, source = 'DEFAULTS_JSON'): CutoverDefaults {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${source} must be a JSON object, got ${JSON.stringify(value)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(CUTOVER_DEFAULTS_FIELDS)) {
    const v = (value as Record<string, unknown>)[field];
    if (v === undefined) continue;
    const ok =
      type === 'strings'
        ? Array.isArray(v) && v.every((x) => typeof x === 'string')
        : type === 'number'
          ? typeof v === 'number' && Number.isFinite(v)
          : typeof v === type;
    if (!ok) {
      const expected = type === 'strings' ? 'a list of strings' : `a ${type}`;
      throw new Error(`${source} field "${field}" must be ${expected}, got ${JSON.stringify(v)}`);
    }
    out[field] = v;
  }
  return out as CutoverDefaults;
}

/** A migration id: what the state record is keyed by. */
export const MIGRATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Execution input as an operator types it in the Step Functions console. Only migrationId is required. */
export interface CutoverExecutionInput {
  readonly migrationId?: unknown;
  /** @default 'dry-run' */
  readonly mode?: unknown;
  readonly lagThresholdSeconds?: unknown;
  readonly consecutiveChecks?: unknown;
  readonly syncTimeoutSeconds?: unknown;
  readonly finalSyncTimeoutSeconds?: unknown;
  readonly applicationRoles?: unknown;
  /** Login roles besides the application roles that can write selected tables, accepted by the operator. */
  readonly acknowledgedWriters?: unknown;
  /** @default 5 */
  readonly writersInFlightSeconds?: unknown;
  readonly requireApproval?: unknown;
  /** @default false */
  readonly fullValidationAfterSwitch?: unknown;
  readonly switchTrafficTo?: unknown;
  readonly switchReadsTo?: unknown;
}

/** The validated, defaulted input every later step receives. */
export interface CutoverInput {
  readonly migrationId: string;
  /**
   * Whether the write cutover changes anything. A `switch-reads` or `revert-reads` execution never reaches the freeze
   * and runs its checks as a dry run (its own state record and tracking slots); only its read switch acts.
   */
  readonly mode: CutoverMode;
  /** The cutover, or only the read switch (`switch-reads`) or its undo (`revert-reads`), or closing the way back. */
  readonly action: CutoverAction;
  /** Which machine runs it: the cutover (`forward`) or the fallback. */
  readonly direction: CutoverDirection;
  /** Lag must stay at or under this many seconds ... */
  readonly lagThresholdSeconds: number;
  /** ... for this many consecutive checks. */
  readonly consecutiveChecks: number;
  /** Give up waiting for sync after this long (nothing has been changed yet, so giving up is safe). */
  readonly syncTimeoutSeconds: number;
  /** How long final sync waits for the marker on the target before failing (and rolling back). */
  readonly finalSyncTimeoutSeconds: number;
  /** Source roles whose connections the freeze blocks and ends. */
  readonly applicationRoles: readonly string[];
  /**
   * Other login roles that can write a selected table and that the operator accepts (they are not frozen): preflight
   * warns about them instead of refusing when they have sessions open. Any change one makes after the final-sync
   * marker is still found and fails the execution after the switch (LateWritesFound).
   */
  readonly acknowledgedWriters: readonly string[];
  /**
   * Inside the freeze, after the application roles are blocked: how long to wait for write transactions already
   * open on a selected table (any role) to end before rolling back, naming them.
   */
  readonly writersInFlightSeconds: number;
  readonly requireApproval: boolean;
  /**
   * Also validate every row after the switch (outside the freeze; rows the application changed on the target since
   * the switch are not counted as differences). The in-freeze change proof runs either way.
   */
  readonly fullValidationAfterSwitch: boolean;
  /** Endpoint the switch-traffic step points the application at; empty = no switch. */
  readonly switchTrafficTo: string;
  /** Endpoint the switch-reads step points the read path at (the target's reader endpoint); empty = no read switch. */
  readonly switchReadsTo: string;
  /** ISO time the first step ran (for sync timeouts). */
  readonly startedAt: string;
}

/** Payload every Task state sends. */
export interface StepEvent {
  readonly step: StepName;
  readonly input: CutoverInput;
  /** planValidation / aggregateValidation: which validation. */
  readonly phase?: Extract<PhaseName, 'preValidation' | 'postValidation'>;
  /** validateRange: the range to check (one Map item). */
  readonly range?: unknown;
  /** aggregateValidation: the Map's results. */
  readonly rangeResults?: unknown[];
  /** checkLag: the previous check's result, to count consecutive good checks and iterations. */
  readonly previous?: { readonly consecutive: number; readonly iterations?: number };
  /** requestApproval: the Step Functions task token. */
  readonly taskToken?: string;
  /** rollback / reportFailureAfterSwitch: the caught error (`{ Error, Cause }`). */
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  /** validateInput (and the watchdog): the machine's direction; the fallback machine sets `fallback`. */
  readonly direction?: CutoverDirection;
}

/** checkLag result; the state machine loops on it with a Wait state. */
export interface LagCheckResult {
  readonly lagSeconds: number | null;
  readonly consecutive: number;
  readonly synced: boolean;
  readonly timedOut: boolean;
  readonly elapsedSeconds: number;
}

/**
 * Most lag checks one execution makes: each iteration adds about 9 history events, and Step Functions fails an
 * execution at 25,000. Past this, the wait times out (nothing was changed).
 */
export const MAX_LAG_CHECKS = 2_000;

/** Error names thrown by steps (Step Functions matches them in Catch/Retry). */
export const ERRORS = {
  badInput: 'ZdmBadInput',
  preflightFailed: 'ZdmPreflightFailed',
  validationFailed: 'ZdmValidationFailed',
  syncTimeout: 'ZdmSyncTimeout',
  finalSyncTimeout: 'ZdmFinalSyncTimeout',
  replicationFailed: 'ZdmReplicationFailed',
  rejected: 'ZdmApprovalRejected',
  readSwitchFailed: 'ZdmReadSwitchFailed',
  /** A write transaction on a selected table did not end within writersInFlightSeconds inside the freeze. */
  writersInFlight: 'ZdmWritersInFlight',
  /** A selected table changed on the source after the final-sync marker (after the switch: not on the target). */
  lateWrites: 'ZdmLateWrites',
} as const;

/** An error whose `name` Step Functions sees as the error name. */
export class CutoverError extends Error {
  constructor(name: (typeof ERRORS)[keyof typeof ERRORS], message: string) {
    super(message);
    this.name = name;
  }
}

/** Whether an execution may move the read path: the executed cutover and the two read-switch actions. */
export function changesReads(input: Pick<CutoverInput, 'mode' | 'action'>): boolean {
  return input.mode === 'execute' || input.action !== 'cutover';
}
