/**
 * What the cutover functions say about their work: one structured JSON log line when a step starts and one when it
 * ends (Powertools Logger), and CloudWatch metrics in Embedded Metric Format (Powertools Metrics, namespace
 * `ZeroDowntimeMigration`, dimensions `service` + `MigrationId`; see contract/metrics.ts).
 *
 * Log fields: `migrationId`, `execution` (`mode` and `startedAt`, which identify one execution of the state machine),
 * `step`, `phase`, `durationMs`, `outcome`, the numbers and flags of the step's result (`result`) and, on failure,
 * the error's name and redacted message. Never the event or the result themselves: no password, secret value,
 * connection string, task token or row key is logged.
 *
 * Metrics: `StepDuration` / `StepFailed` per step (dimension `Step` too), `FreezeDuration` (complete),
 * `ReplicationLag` (checkLag), `RowsValidated` (validateRange), `ValidationDifferences` (aggregateValidation), and
 * whatever the engine records with `recordMetric` (lambda/engine/telemetry.ts), e.g. `VerificationBacklog`.
 *
 * The engine does not know any of this: {@link observeStep} wraps the dispatcher (`createStepHandler`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CUTOVER_METRIC,
  CUTOVER_METRIC_DIMENSION,
  CUTOVER_METRICS_NAMESPACE,
  CUTOVER_SERVICE_NAME,
  MIGRATION_ID_PATTERN,
  type CutoverMetricUnit,
  type PhaseName,
  type StepEvent,
  type StepName,
} from '../../contract';
import { withTelemetry, type TelemetrySink } from '../engine/telemetry';

/** The part of the Lambda context the logger reads (function name, request id, memory, cold start). */
export interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
}

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Whether metrics are written (in Lambda; elsewhere only when asked for). */
  readonly metricsEnabled: boolean;
}

export interface ObservabilityOptions {
  /** @default `POWERTOOLS_LOG_LEVEL`, else INFO in Lambda and SILENT elsewhere (tests, local runs) */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** @default in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) unless `POWERTOOLS_METRICS_DISABLED` is true */
  readonly metricsEnabled?: boolean;
}

/** A logger and a metrics buffer for the cutover functions. */
export function createObservability(
  options: ObservabilityOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Observability {
  const inLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
  const level = options.logLevel ?? (env.POWERTOOLS_LOG_LEVEL?.toUpperCase() || (inLambda ? 'INFO' : 'SILENT'));
  const logger = new Logger({ serviceName: CUTOVER_SERVICE_NAME, logLevel: level as ObservabilityOptions['logLevel'] });
  const metrics = new Metrics({ namespace: CUTOVER_METRICS_NAMESPACE, serviceName: CUTOVER_SERVICE_NAME, logger });
  const disabled = ['1', 'true'].includes((env.POWERTOOLS_METRICS_DISABLED ?? '').toLowerCase());
  return { logger, metrics, metricsEnabled: options.metricsEnabled ?? (inLambda && !disabled) };
}

/** The phase each step works on (validation steps name theirs in the event; validateInput, rollback... have none). */
const STEP_PHASE: Partial<Record<StepName, PhaseName>> = {
  preflight: 'preflight',
  checkLag: 'waitForSync',
  requestApproval: 'approval',
  freezeWrites: 'freezeWrites',
  finalSync: 'finalSync',
  stopReplication: 'stopReplication',
  syncSequences: 'sequences',
  switchTraffic: 'switchTraffic',
  complete: 'done',
};

/** What identifies a step invocation in its log lines. Only validated, non-secret values. */
export interface StepFields {
  readonly migrationId?: string;
  readonly execution?: { readonly mode: string; readonly startedAt: string };
  readonly step: string;
  readonly phase?: string;
}

export function stepFields(event: unknown): StepFields {
  const e = (event && typeof event === 'object' ? event : {}) as Partial<StepEvent>;
  const step = typeof e.step === 'string' && e.step.length <= 64 ? e.step : 'unknown';
  const input = (e.input && typeof e.input === 'object' ? e.input : {}) as Partial<Record<string, unknown>>;
  const migrationId =
    typeof input.migrationId === 'string' && MIGRATION_ID_PATTERN.test(input.migrationId)
      ? input.migrationId
      : undefined;
  const mode = input.mode === 'execute' || input.mode === 'dry-run' ? input.mode : undefined;
  const startedAt =
    typeof input.startedAt === 'string' && !Number.isNaN(Date.parse(input.startedAt)) ? input.startedAt : undefined;
  const phase = e.phase === 'preValidation' || e.phase === 'postValidation' ? e.phase : STEP_PHASE[step as StepName];
  return {
    ...(migrationId ? { migrationId } : {}),
    ...(mode && startedAt ? { execution: { mode, startedAt } } : {}),
    step,
    ...(phase ? { phase } : {}),
  };
}

/** The numbers and flags of a step result (top level only): safe to log, unlike its strings and lists. */
export function resultSummary(result: unknown): Record<string, number | boolean> | undefined {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const out: Record<string, number | boolean> = {};
  for (const [key, value] of Object.entries(result)) {
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Passwords in URLs and `password=...` pairs of an error message, as a last line of defence. */
export function redactMessage(message: string): string {
  return message
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
    .replace(/\b(password|passwd|pwd|secret|token)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&)]+)/gi, '$1$2***');
}

/** The metrics a step's result carries. */
function recordResultMetrics(step: string, result: unknown, sink: TelemetrySink): void {
  if (!result || typeof result !== 'object') return;
  const r = result as Record<string, unknown>;
  const num = (key: string): number | undefined =>
    typeof r[key] === 'number' && Number.isFinite(r[key]) ? (r[key] as number) : undefined;
  if (r.skipped === true) return;
  const record = (name: string, value: number | undefined, unit: CutoverMetricUnit): void => {
    if (value !== undefined) sink.recordMetric(name, value, unit);
  };
  if (step === 'checkLag') record(CUTOVER_METRIC.replicationLag, num('lagSeconds'), 'Seconds');
  if (step === 'validateRange') record(CUTOVER_METRIC.rowsValidated, num('sourceRows'), 'Count');
  if (step === 'aggregateValidation') record(CUTOVER_METRIC.validationDifferences, num('differences'), 'Count');
  if (step === 'complete') record(CUTOVER_METRIC.freezeDuration, num('writeFreezeMs'), 'Milliseconds');
}

export type ObservedStepHandler = (event: StepEvent, context?: LambdaContext) => Promise<unknown>;

/**
 * `run` with a log line at the start and the end of every invocation and the step's metrics flushed at its end.
 * Errors are logged (name and redacted message) and rethrown unchanged: Step Functions matches on their names.
 */
export function observeStep(
  run: (event: StepEvent) => Promise<unknown>,
  observability: Observability = createObservability(),
): ObservedStepHandler {
  const { logger, metrics, metricsEnabled } = observability;
  return async (event, context) => {
    const started = Date.now();
    if (context) logger.addContext(context as unknown as Parameters<Logger['addContext']>[0]);
    const fields = stepFields(event);
    logger.appendKeys({ ...fields });
    let migrationId = fields.migrationId;
    const sink: TelemetrySink = {
      recordMetric: (name, value, unit) => {
        if (metricsEnabled) metrics.addMetric(name, unit as Parameters<Metrics['addMetric']>[1], value);
      },
    };
    let failed = false;
    try {
      logger.info('step started');
      const result = await withTelemetry(sink, () => run(event));
      if (fields.step === 'validateInput') {
        // The validated input names the migration and the execution.
        const named = stepFields({ step: fields.step, input: result });
        migrationId = named.migrationId;
        logger.appendKeys({ ...named });
      }
      recordResultMetrics(fields.step, result, sink);
      logger.info('step succeeded', {
        outcome: 'succeeded',
        durationMs: Date.now() - started,
        ...(resultSummary(result) ? { result: resultSummary(result) } : {}),
      });
      return result;
    } catch (error) {
      failed = true;
      const e = error instanceof Error ? error : new Error(String(error));
      logger.error('step failed', {
        outcome: 'failed',
        durationMs: Date.now() - started,
        error: { name: e.name, message: redactMessage(e.message).slice(0, 2000) },
      });
      throw error;
    } finally {
      if (metricsEnabled) flushMetrics(metrics, fields.step, migrationId, Date.now() - started, failed);
      logger.resetKeys();
    }
  };
}

function flushMetrics(metrics: Metrics, step: string, migrationId: string | undefined, ms: number, failed: boolean) {
  try {
    const perStep = metrics.singleMetric();
    if (migrationId) perStep.addDimension(CUTOVER_METRIC_DIMENSION.migrationId, migrationId);
    perStep.addDimension(CUTOVER_METRIC_DIMENSION.step, step);
    perStep.addMetric(CUTOVER_METRIC.stepDuration, 'Milliseconds', ms);
    if (failed) {
      const failure = metrics.singleMetric();
      if (migrationId) failure.addDimension(CUTOVER_METRIC_DIMENSION.migrationId, migrationId);
      failure.addDimension(CUTOVER_METRIC_DIMENSION.step, step);
      failure.addMetric(CUTOVER_METRIC.stepFailed, 'Count', 1);
    }
    if (metrics.hasStoredMetrics()) {
      if (migrationId) metrics.addDimension(CUTOVER_METRIC_DIMENSION.migrationId, migrationId);
      metrics.publishStoredMetrics();
    }
  } catch {
    // A metric must never fail a step.
    metrics.clearMetrics();
  }
}
