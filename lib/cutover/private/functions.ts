import type { StepName } from '../../../lambda/engine/cutover/contract';

/** The cutover functions, one per set of permissions. */
export type CutoverFunctionRole = 'database' | 'replication' | 'traffic';

/**
 * Steps each function may run (its ALLOWED_STEPS). `database`: secrets + state table + topic + describe task;
 * `replication`: state table + topic + describe/stop the task + GetMetricData + alarm actions;
 * `traffic`: state table + topic + the traffic switch resource.
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

/** Environment variables of the cutover functions (see lambda/handlers/environment.ts). */
export const CUTOVER_ENV = {
  allowedSteps: 'ALLOWED_STEPS',
  sourceSecretArn: 'SOURCE_SECRET_ARN',
  targetSecretArn: 'TARGET_SECRET_ARN',
  stateTableName: 'STATE_TABLE_NAME',
  topicArn: 'TOPIC_ARN',
  tables: 'TABLE_SELECTION',
  replicationTaskArn: 'REPLICATION_TASK_ARN',
  replicationInstanceIdentifier: 'REPLICATION_INSTANCE_IDENTIFIER',
  replicationTaskIdentifier: 'REPLICATION_TASK_IDENTIFIER',
  lagAlarmNames: 'LAG_ALARM_NAMES',
  defaults: 'CUTOVER_DEFAULTS',
} as const;
