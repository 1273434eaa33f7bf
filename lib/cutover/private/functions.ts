import type { StepName } from '../../../lambda/engine/cutover/contract';
import {
  CUTOVER_ENVIRONMENT,
  DEPENDENCY_ENVIRONMENT,
  type CutoverDependency,
  type CutoverEnvironmentVariable,
} from '../../../lambda/handlers/environment-names';

/** The cutover functions, one per set of permissions. */
export type CutoverFunctionRole = 'database' | 'replication' | 'traffic';

/**
 * Steps each function may run (its ALLOWED_STEPS). Every function gets the state table and the topic; the
 * rest follows from STEP_NEEDS: `database`: both secrets + describe the task and read its lag (preflight);
 * `replication`: describe/stop the task + read its lag + disable the
 * lag alarms' actions (no secrets); `traffic`: the traffic switch resource only.
 */
export const FUNCTION_STEPS: Record<CutoverFunctionRole, readonly StepName[]> = {
  database: [
    'validateInput',
    'preflight',
    'planValidation',
    'validateRange',
    'aggregateValidation',
    'requestApproval',
    'freezeWrites',
    'finalSync',
    'syncSequences',
    'complete',
    'rollback',
  ],
  replication: ['checkLag', 'stopReplication', 'reportStoppedFailure'],
  traffic: ['switchTraffic'],
};

/** Steps of `role`; without a traffic function, the database function runs (and skips) switchTraffic. */
export function stepsOf(role: CutoverFunctionRole, hasTrafficFunction: boolean): readonly StepName[] {
  return role === 'database' && !hasTrafficFunction
    ? [...FUNCTION_STEPS.database, 'switchTraffic']
    : FUNCTION_STEPS[role];
}

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
  | 'trafficSwitch';

/** What a step's code (lambda/engine/cutover/) uses: the dependencies it touches and the AWS calls they make. */
export interface StepNeeds {
  readonly deps: readonly CutoverDependency[];
  readonly access: readonly StepAccess[];
}

/**
 * Per step, read from its code under lambda/engine/cutover/ (phase bookkeeping = `state` + `notifier`). A
 * step that ends up on a function without its access fails at run time, so keep this in step with the code.
 */
export const STEP_NEEDS: Record<StepName, StepNeeds> = {
  validateInput: { deps: ['defaults', 'state', 'notifier'], access: [] },
  preflight: {
    deps: ['source', 'target', 'tables', 'replication', 'state', 'notifier'],
    access: ['databaseSecrets', 'replicationStatus'],
  },
  planValidation: {
    deps: ['source', 'target', 'tables', 'rowsPerRange', 'state', 'notifier'],
    access: ['databaseSecrets'],
  },
  validateRange: { deps: ['source', 'target'], access: ['databaseSecrets'] },
  aggregateValidation: {
    deps: ['source', 'target', 'tables', 'rowsPerRange', 'state', 'notifier'],
    access: ['databaseSecrets'],
  },
  checkLag: { deps: ['replication', 'state', 'notifier'], access: ['replicationStatus'] },
  requestApproval: { deps: ['state', 'notifier'], access: [] },
  freezeWrites: { deps: ['source', 'state', 'notifier'], access: ['databaseSecrets'] },
  // replication: its description only (no AWS call)
  finalSync: { deps: ['source', 'target', 'replication', 'state', 'notifier'], access: ['databaseSecrets'] },
  stopReplication: {
    deps: ['replication', 'alarms', 'state', 'notifier'],
    access: ['replicationStatus', 'stopReplication', 'disableAlarmActions'],
  },
  syncSequences: { deps: ['source', 'target', 'tables', 'state', 'notifier'], access: ['databaseSecrets'] },
  switchTraffic: { deps: ['traffic', 'state', 'notifier'], access: ['trafficSwitch'] },
  complete: { deps: ['state', 'notifier'], access: [] },
  // restores the frozen roles on the source; hands over to reportStoppedFailure (replication description) once
  // replication was stopped. Alarm actions are untouched: only StopReplication mutes them, and rollback never
  // follows it.
  rollback: {
    deps: ['source', 'replication', 'state', 'notifier'],
    access: ['databaseSecrets'],
  },
  reportStoppedFailure: { deps: ['replication', 'state', 'notifier'], access: [] },
};

/** Whether any of `steps` needs `access`. */
export function needsAccess(steps: readonly StepName[], access: StepAccess): boolean {
  return steps.some((step) => STEP_NEEDS[step].access.includes(access));
}

/** Environment variables of the cutover functions: the handler's names (lambda/handlers/environment-names.ts). */
export const CUTOVER_ENV = CUTOVER_ENVIRONMENT;

/**
 * The environment of a function serving `steps`: `ALLOWED_STEPS` plus the variables of the dependencies those
 * steps use, taken from `values` (a variable without a value is left out; the handler then uses its default).
 */
export function environmentOf(
  steps: readonly StepName[],
  values: Partial<Record<CutoverEnvironmentVariable, string>>,
): Record<string, string> {
  const names = new Set<CutoverEnvironmentVariable>();
  for (const step of steps) {
    for (const dep of STEP_NEEDS[step].deps) for (const name of DEPENDENCY_ENVIRONMENT[dep]) names.add(name);
  }
  const environment: Record<string, string> = {};
  for (const name of [...names].sort()) {
    const value = values[name];
    if (value !== undefined) environment[name] = value;
  }
  environment[CUTOVER_ENVIRONMENT.allowedSteps] = steps.join(',');
  return environment;
}
