/**
 * The engine's port for metrics: `recordMetric(name, value, unit)` from anywhere inside a cutover step.
 *
 * The Lambda handler runs each step inside {@link withTelemetry} with a sink that writes CloudWatch Embedded Metric
 * Format through Powertools (lambda/handlers/observability.ts), dimensioned by the step's `MigrationId`. Outside it
 * (the rehearsal, the CLI, tests) there is no sink and a call does nothing, so the engine never depends on Powertools
 * or AWS. The sink follows the async call chain of one invocation (AsyncLocalStorage): concurrent steps in one process
 * do not see each other's.
 *
 * @example
 *   import { CUTOVER_METRIC } from '../../../contract';
 *   import { recordMetric } from '../telemetry';
 *   recordMetric(CUTOVER_METRIC.verificationBacklog, pendingKeys, 'Count');
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CutoverMetricUnit } from '../../contract';

/** Where metrics go. */
export interface TelemetrySink {
  recordMetric(name: string, value: number, unit: CutoverMetricUnit): void;
}

const current = new AsyncLocalStorage<TelemetrySink>();

/** Runs `fn` with `sink` receiving every {@link recordMetric} made inside it (across awaits). */
export function withTelemetry<T>(sink: TelemetrySink, fn: () => T): T {
  return current.run(sink, fn);
}

/**
 * Records one value of metric `name` (a `CUTOVER_METRIC` name, or your own) for the running step. Not finite values
 * are dropped. Never throws: a metric must not fail a cutover step.
 */
export function recordMetric(name: string, value: number, unit: CutoverMetricUnit = 'Count'): void {
  const sink = current.getStore();
  if (!sink || !Number.isFinite(value)) return;
  try {
    sink.recordMetric(name, value, unit);
  } catch {
    // Telemetry is best effort.
  }
}
