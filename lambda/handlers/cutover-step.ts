/**
 * Lambda entry point of every cutover step: `{ step, input, ... }` → `createStepHandler(deps)(event)`.
 * Dependencies are built once per container from the environment (see ./environment.ts). `ALLOWED_STEPS`
 * restricts which steps this function serves, so the construct can deploy it as several functions with
 * different permissions. Every invocation logs a structured line at its start and end and flushes its metrics
 * (./observability.ts), the "not served" rejection included.
 */
import type { StepEvent } from '../../contract';
import { closeSharedPools } from '../engine/cutover/connections';
import type { CutoverDeps } from '../engine/cutover/deps';
import { createStepHandler, type StepHandler } from '../engine/cutover/steps';
import { allowedSteps, createDepsFromEnvironment } from './environment';
import {
  createObservability,
  observeStep,
  type LambdaContext,
  type Observability,
  type ObservedStepHandler,
} from './observability';

let cached: { deps: CutoverDeps; run: StepHandler } | undefined;
let observed: { observability: Observability; run: ObservedStepHandler } | undefined;

/** For tests: forget the per-container dependencies and close their database connections. */
export async function resetHandlerCache(): Promise<void> {
  const previous = cached;
  cached = undefined;
  observed = undefined;
  if (previous) await closeSharedPools(previous.deps);
}

export async function handler(event: StepEvent, context?: LambdaContext): Promise<unknown> {
  if (!observed) {
    const observability = createObservability();
    observed = { observability, run: observeStep(dispatch, observability) };
  }
  return observed.run(event, context);
}

async function dispatch(event: StepEvent): Promise<unknown> {
  const allowed = allowedSteps(process.env);
  const step = (event as { step?: unknown } | null)?.step;
  if (typeof step !== 'string' || !(allowed as readonly string[]).includes(step)) {
    throw new Error(
      `step ${JSON.stringify(step)} is not served by this function (ALLOWED_STEPS: ${allowed.join(', ')})`,
    );
  }
  if (!cached) {
    const deps = createDepsFromEnvironment(process.env);
    cached = { deps, run: createStepHandler(deps) };
  }
  return cached.run(event);
}
