/**
 * The cutover's custom CloudWatch metrics: emitted by the Lambda steps in Embedded Metric Format
 * (lambda/handlers/observability.ts, and `recordMetric` in lambda/engine/telemetry.ts for the engine), graphed by the
 * construct's dashboard (lib/monitoring/migration-monitoring.ts). Both sides take the names from here.
 */

/** Namespace of every cutover metric. */
export const CUTOVER_METRICS_NAMESPACE = 'ZeroDowntimeMigration';

/** Value of the `service` dimension (and of the `service` field of every log line). */
export const CUTOVER_SERVICE_NAME = 'zero-downtime-migration';

/** Dimensions: every metric has `service` and `MigrationId`; the per-step ones also `Step`. */
export const CUTOVER_METRIC_DIMENSION = {
  service: 'service',
  migrationId: 'MigrationId',
  step: 'Step',
} as const;

/** Metric names, by meaning. */
export const CUTOVER_METRIC = {
  /** Milliseconds writes were frozen on the source (freeze start to the switch; `complete`, execute mode). */
  freezeDuration: 'FreezeDuration',
  /** Keys changed during replication that still await verification (emitted by the engine with `recordMetric`). */
  verificationBacklog: 'VerificationBacklog',
  /** Seconds of replication lag each `checkLag` saw. */
  replicationLag: 'ReplicationLag',
  /** Source rows checksummed by a validation range (`validateRange`; Sum = rows validated). */
  rowsValidated: 'RowsValidated',
  /** Rows that differ after a validation (`aggregateValidation`). */
  validationDifferences: 'ValidationDifferences',
  /** Milliseconds one step invocation took (dimension `Step` too). */
  stepDuration: 'StepDuration',
  /** 1 for a step invocation that failed (dimension `Step` too). */
  stepFailed: 'StepFailed',
} as const;

export type CutoverMetricName = (typeof CUTOVER_METRIC)[keyof typeof CUTOVER_METRIC];

/** CloudWatch units the cutover uses. */
export type CutoverMetricUnit = 'Count' | 'Seconds' | 'Milliseconds' | 'Count/Second' | 'Bytes' | 'Percent';
