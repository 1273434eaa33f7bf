/**
 * Every cutover step, declared once: the Task state(s) that run it, the function that serves it (one per set of
 * permissions), the dependencies its code uses and the AWS access those need. The construct derives each
 * function's steps, environment and IAM statements from this table; the engine's dispatch is checked against it
 * by the compiler (lambda/engine/cutover/steps.ts). Adding a step: one entry here, its run file under
 * lambda/engine/cutover/, one line in that dispatch and one in the state-machine definition.
 */

/**
 * Which way an execution moves the application: `forward` (the cutover machine: source → Aurora) or `fallback` (the
 * fallback machine: the same steps with the databases' roles swapped, Aurora → source, over the reverse replication).
 * Set by the state machine, never by the operator.
 */
export type CutoverDirection = 'forward' | 'fallback';

/** The cutover functions, one per set of permissions. */
export type CutoverFunctionRole = 'database' | 'replication' | 'traffic' | 'watchdog' | 'digest';

/** The dependencies a step may use (fields of the engine's CutoverDeps), each built from its own variables. */
export const CUTOVER_DEPENDENCIES = [
  'source',
  'target',
  'tables',
  'replication',
  'state',
  'notifier',
  'alarms',
  'traffic',
  'readTraffic',
  'reverse',
  'reverseAlarms',
  'defaults',
  'rowsPerRange',
  'cutoverMetrics',
] as const;
export type CutoverDependency = (typeof CUTOVER_DEPENDENCIES)[number];

/** AWS access a step needs besides the state table and the topic (which every step uses). */
export type StepAccess =
  /** secretsmanager:GetSecretValue on the source and target secrets (`deps.source()` / `deps.target()`). */
  | 'databaseSecrets'
  /** dms:DescribeReplicationTasks + cloudwatch:GetMetricData (`deps.replication.status()`). */
  | 'replicationStatus'
  /** dms:StopReplicationTask on the task (`deps.replication.stop()`). */
  | 'stopReplication'
  /** cloudwatch:DisableAlarmActions on the lag alarms (`deps.alarms.disable()`). */
  | 'disableAlarmActions'
  /** the traffic switch resource (`deps.traffic`). */
  | 'trafficSwitch'
  /** the read traffic switch resource (`deps.readTraffic`). */
  | 'readTrafficSwitch'
  /**
   * the reverse replication task: dms:DescribeReplicationTasks, StartReplicationTask, StopReplicationTask and
   * cloudwatch:GetMetricData (`deps.reverse`), and its lag alarms' actions on and off (`deps.reverseAlarms`).
   */
  | 'reverseReplication'
  /**
   * dms:DescribeReplicationTasks + cloudwatch:GetMetricData on the reverse task: in the fallback, `replicationStatus`
   * of the reverse task (`deps.replication.status()`); in the cutover's direction, `deps.reverse.status()` (the way
   * back's watch).
   */
  | 'reverseStatus'
  /** In the fallback, `stopReplication` of the reverse task (dms:StopReplicationTask on it). */
  | 'stopReverse'
  /** In the fallback, `disableAlarmActions` of the reverse task's lag alarms. */
  | 'disableReverseAlarmActions'
  /** dms:DescribeTableStatistics on the task (`deps.replication.progress()`: full-load progress per table). */
  | 'tableStatistics'
  /** cloudwatch:GetMetricData (`deps.cutoverMetrics`: the metrics the cutover steps emit, e.g. the backlog). */
  | 'readCutoverMetrics';

export interface StepSpec {
  /** Task state names that run this step (API: operators see them in the console). */
  readonly states: readonly string[];
  /** The function that serves it. */
  readonly function: CutoverFunctionRole;
  /** Dependencies its code uses (phase bookkeeping is `state` + `notifier`). */
  readonly deps: readonly CutoverDependency[];
  readonly access: readonly StepAccess[];
  /** The directions it runs in. @default both: the cutover's and the fallback's */
  readonly directions?: readonly CutoverDirection[];
}

const BOOKKEEPING = ['state', 'notifier'] as const;

export const STEP_SPECS = {
  validateInput: { states: ['ValidateInput'], function: 'database', deps: ['defaults', ...BOOKKEEPING], access: [] },
  preflight: {
    states: ['Preflight'],
    function: 'database',
    deps: ['source', 'target', 'tables', 'replication', ...BOOKKEEPING],
    access: ['databaseSecrets', 'replicationStatus'],
  },
  startTracking: {
    states: ['StartTracking'],
    function: 'database',
    deps: ['source', 'target', 'tables', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  planValidation: {
    states: ['PlanPreValidation', 'PlanPostValidation'],
    function: 'database',
    deps: ['source', 'target', 'tables', 'rowsPerRange', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  validateRange: {
    states: ['PreValidateRange', 'PostValidateRange'],
    function: 'database',
    deps: ['source', 'target'],
    access: ['databaseSecrets'],
  },
  aggregateValidation: {
    states: ['AggregatePreValidation', 'AggregatePostValidation'],
    function: 'database',
    deps: ['source', 'target', 'tables', 'rowsPerRange', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  // Heartbeat lag and change verification need both databases; the engine's status needs DMS.
  checkLag: {
    states: ['CheckLag'],
    function: 'database',
    deps: ['source', 'target', 'tables', 'replication', ...BOOKKEEPING],
    access: ['databaseSecrets', 'replicationStatus'],
  },
  // Points the read path at the target's readers once it is in sync (before approval and freeze).
  switchReads: {
    states: ['SwitchReads'],
    function: 'traffic',
    deps: ['readTraffic', ...BOOKKEEPING],
    access: ['readTrafficSwitch'],
  },
  // Ends a `switch-reads` execution: drops its tracking slots, records it done, tells the operator the read rule.
  finishReadSwitch: {
    states: ['FinishReadSwitch'],
    function: 'database',
    deps: ['source', 'target', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  // Points the read path back at the source: after Rollback (RollbackReads) or on its own (`mode: "revert-reads"`).
  revertReads: {
    states: ['RevertReads', 'RollbackReads', 'FallBackReads'],
    function: 'traffic',
    deps: ['readTraffic', ...BOOKKEEPING],
    access: ['readTrafficSwitch'],
  },
  requestApproval: { states: ['RequestApproval'], function: 'database', deps: [...BOOKKEEPING], access: [] },
  // tables: the writers in flight it waits for are those on a selected table.
  freezeWrites: {
    states: ['FreezeWrites'],
    function: 'database',
    deps: ['source', 'tables', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  // replication: its description only (no AWS call)
  finalSync: {
    states: ['FinalSync'],
    function: 'database',
    deps: ['source', 'target', 'replication', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  proveChanges: {
    states: ['ProveChanges'],
    function: 'database',
    deps: ['source', 'target', 'tables', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  syncSequences: {
    states: ['SyncSequences'],
    function: 'database',
    deps: ['source', 'target', 'tables', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  // The way back, prepared just before the freeze: the reverse slot on the target (creating it waits for the
  // target's running transactions, which must not lengthen the freeze).
  prepareReverse: {
    states: ['PrepareReverse'],
    function: 'database',
    deps: ['target', 'reverse', ...BOOKKEEPING],
    access: ['databaseSecrets', 'reverseReplication'],
  },
  // Armed inside the freeze: the target's position recorded, where the way back starts (O(1)).
  armReverse: {
    states: ['ArmReverse'],
    function: 'database',
    deps: ['target', 'reverse', ...BOOKKEEPING],
    access: ['databaseSecrets', 'reverseReplication'],
  },
  // Fallback, inside its freeze: the old source's application roles get back what the cutover saved.
  reopenSource: {
    states: ['ReopenSource'],
    function: 'database',
    deps: ['source', 'target', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  switchTraffic: {
    states: ['SwitchTraffic'],
    function: 'traffic',
    deps: ['traffic', ...BOOKKEEPING],
    access: ['trafficSwitch'],
  },
  stopReplication: {
    states: ['StopReplication'],
    function: 'replication',
    deps: ['replication', 'alarms', ...BOOKKEEPING],
    access: ['replicationStatus', 'stopReplication', 'disableAlarmActions'],
  },
  // After the forward stop (never while it runs: no echo): the reverse replication from the armed position.
  // The slot advanced to the armed position first (it holds the forward replication's last writes before it).
  startReverse: {
    states: ['StartReverse'],
    function: 'database',
    deps: ['source', 'target', 'tables', 'reverse', 'reverseAlarms', ...BOOKKEEPING],
    access: ['databaseSecrets', 'reverseReplication'],
  },
  // Closes the way back: stops the reverse replication, drops its slot (`mode: "end-fallback-window"`, and the
  // fallback's last step).
  endFallbackWindow: {
    states: ['EndFallbackWindow', 'CloseWayBack'],
    function: 'database',
    deps: ['source', 'target', 'reverse', 'reverseAlarms', ...BOOKKEEPING],
    access: ['databaseSecrets', 'reverseReplication'],
  },
  checkLateWrites: {
    states: ['CheckLateWrites'],
    function: 'database',
    deps: ['source', 'target', 'tables', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  dropTracking: {
    states: ['DropTracking'],
    function: 'database',
    deps: ['source', 'target', 'tables', ...BOOKKEEPING],
    access: ['databaseSecrets'],
  },
  complete: { states: ['Complete'], function: 'database', deps: [...BOOKKEEPING], access: [] },
  // Restores the frozen roles and drops the tracking slots; past the point of no return it reports (replication
  // status) instead. Alarm actions are untouched: only StopReplication mutes them, and it runs after the switch.
  rollback: {
    states: ['Rollback'],
    function: 'database',
    deps: ['source', 'target', 'replication', ...BOOKKEEPING],
    access: ['databaseSecrets', 'replicationStatus'],
  },
  reportFailureAfterSwitch: {
    states: ['ReportFailureAfterSwitch'],
    function: 'replication',
    deps: ['replication', ...BOOKKEEPING],
    access: ['replicationStatus'],
  },
  // Not a state: run by the EventBridge rule on TIMED_OUT / ABORTED / FAILED executions (the dead man's switch).
  // It also points the read path back when that execution moved it (before the point of no return).
  watchdog: {
    states: [],
    function: 'watchdog',
    // reverse: the slot a cutover that did not switch prepared or armed is dropped (its name only, no AWS call).
    deps: ['source', 'target', 'readTraffic', 'reverse', ...BOOKKEEPING],
    access: ['databaseSecrets', 'readTrafficSwitch'],
  },
  // Not a state: run by the EventBridge schedule (the periodic progress digest) while replication runs. It reads DMS
  // and CloudWatch and publishes to the topic; it keeps no state and never touches a database.
  digest: {
    states: [],
    function: 'digest',
    deps: ['replication', 'cutoverMetrics', 'defaults', 'notifier'],
    access: ['replicationStatus', 'tableStatistics', 'readCutoverMetrics'],
    directions: ['forward'],
  },
  // Not a state: run by the EventBridge schedule (`wayBackWatchInterval`) while the way back may be open. It reads the
  // reverse task's status and, only while it runs, the old source's guard; it notifies each write made there outside
  // the way back once (its memory is on the old source). Forward only: the old source is the cutover's source.
  watchWayBack: {
    states: [],
    function: 'database',
    deps: ['source', 'reverse', 'notifier'],
    access: ['databaseSecrets', 'reverseStatus'],
    directions: ['forward'],
  },
} as const satisfies Record<string, StepSpec>;

export type StepName = keyof typeof STEP_SPECS;
export type TaskStateName = (typeof STEP_SPECS)[StepName]['states'][number];

/** Step names, in declaration order. */
export const STEPS = Object.keys(STEP_SPECS) as StepName[];

/** Every Task state, by name, and the step it runs. */
export const STATE_STEP = Object.fromEntries(
  STEPS.flatMap((step) => STEP_SPECS[step].states.map((state) => [state, step])),
) as Record<TaskStateName, StepName>;

/** Steps served by `role`; without a traffic function, the database function runs (and skips) the switch steps. */
export function stepsOf(role: CutoverFunctionRole, hasTrafficFunction: boolean): readonly StepName[] {
  const served = (r: CutoverFunctionRole): StepName[] => STEPS.filter((step) => STEP_SPECS[step].function === r);
  return role === 'database' && !hasTrafficFunction ? [...served('database'), ...served('traffic')] : served(role);
}

/**
 * The fallback runs the cutover's steps with the sides swapped: where a step reads a field of the forward
 * dependencies, in the fallback it reads this one (the engine's lambda/engine/cutover/directions.ts, and the
 * construct's environment and grants, both follow this table). Absent: the same field; `null`: none.
 */
export const FALLBACK_DEPENDENCY: Readonly<Partial<Record<CutoverDependency, CutoverDependency | null>>> = {
  source: 'target',
  target: 'source',
  replication: 'reverse',
  alarms: 'reverseAlarms',
  reverse: null,
  reverseAlarms: null,
};

/** Access a step needs in the fallback instead of the forward one (the reverse task where the forward task was). */
const FALLBACK_ACCESS: Readonly<Partial<Record<StepAccess, StepAccess>>> = {
  replicationStatus: 'reverseStatus',
  stopReplication: 'stopReverse',
  disableAlarmActions: 'disableReverseAlarmActions',
};

/** Whether `step` runs in `direction` (the digest runs only while the forward replication does). */
export function runsIn(step: StepName, direction: CutoverDirection): boolean {
  const spec: StepSpec = STEP_SPECS[step];
  return !spec.directions || spec.directions.includes(direction);
}

/** The dependencies `step` reads when it runs in `direction` (none in a direction it does not run in). */
export function dependenciesOf(step: StepName, direction: CutoverDirection = 'forward'): readonly CutoverDependency[] {
  if (!runsIn(step, direction)) return [];
  const declared = STEP_SPECS[step].deps as readonly CutoverDependency[];
  if (direction === 'forward') return declared;
  const mapped = declared.map((dep) => {
    const to = FALLBACK_DEPENDENCY[dep];
    return to === undefined ? dep : to;
  });
  return [...new Set(mapped.filter((dep): dep is CutoverDependency => dep !== null))];
}

/** The AWS access `step` needs when it runs in `direction` (none in a direction it does not run in). */
export function accessOf(step: StepName, direction: CutoverDirection = 'forward'): readonly StepAccess[] {
  if (!runsIn(step, direction)) return [];
  const declared = STEP_SPECS[step].access as readonly StepAccess[];
  if (direction === 'forward') return declared;
  return [...new Set(declared.map((access) => FALLBACK_ACCESS[access] ?? access))];
}

/** Whether any of `steps`, run in any of `directions`, needs `access`. */
export function needsAccess(
  steps: readonly StepName[],
  access: StepAccess,
  directions: readonly CutoverDirection[] = ['forward'],
): boolean {
  return steps.some((step) => directions.some((direction) => accessOf(step, direction).includes(access)));
}
