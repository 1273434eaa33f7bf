/**
 * The cutover's Lambda steps behind one dispatcher: `createStepHandler(deps)(event)` runs `event.step`.
 * Every step is idempotent; phase steps skip (and return their stored summary with `skipped: true`) when the
 * state store shows them succeeded for this migration and mode.
 */
import { checkLag } from './check-lag';
import { createContext } from './step-context';
import { redactAll } from './redaction';
import {
  CutoverError,
  MAX_LAG_CHECKS,
  STEPS,
  type CutoverInput,
  type StepEvent,
  type StepName,
} from '../../../contract';
import type { CutoverDeps } from './deps';
import { finalSync } from './final-sync';
import { checkLateWrites } from './check-late-writes';
import { dropTrackingStep } from './drop-tracking';
import { complete, reportFailureAfterSwitch, rollback } from './finish';
import { proveChanges } from './prove-changes';
import { startTrackingStep } from './start-tracking';
import { watchdogForExecutionEvent } from './watchdog';
import { freezeWrites } from './freeze-writes';
import { preflightStep } from './preflight-step';
import { requestApproval } from './request-approval';
import { stopReplication } from './stop-replication';
import { switchTraffic } from './switch-traffic';
import { finishReadSwitch, revertReads, switchReads } from './switch-reads';
import { depsFor } from './directions';
import { progressDigest } from './progress-digest';
import { reopenSource } from './reopen-source';
import { armReverse, endFallbackWindow, prepareReverse, startReverse } from './way-back';
import { syncSequences } from './sync-sequences';
import { validateInput } from './validate-input';
import { watchWayBack } from './watch-way-back';
import { aggregateValidation, planValidation, validateRange } from './validation-steps';

export { stateKey } from './state-keys';
export { parseExecutionInput } from './validate-input';

/**
 * Extra event fields a step may read besides `StepEvent`:
 * - aggregateValidation: `plan` — planValidation's `plan` outline (`$.results.planValidation.plan`).
 */
export type StepEventWithPlan = StepEvent & { readonly plan?: unknown };

export type StepHandler = (event: StepEvent) => Promise<unknown>;

function isStep(value: unknown): value is StepName {
  return typeof value === 'string' && (STEPS as readonly string[]).includes(value);
}

/** A step handler bound to its dependencies. Errors keep their name (Step Functions matches on it); messages are redacted. */
export function createStepHandler(deps: CutoverDeps): StepHandler {
  return async (event: StepEvent): Promise<unknown> => {
    if (!event || typeof event !== 'object' || !isStep(event.step)) {
      throw new Error(`unknown cutover step ${JSON.stringify(event?.step)}; expected one of ${STEPS.join(', ')}`);
    }
    try {
      return await dispatch(deps, event as StepEventWithPlan);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      const message = await redactAll(deps, e.message);
      if (message !== e.message) {
        const redacted = e instanceof CutoverError ? new CutoverError(e.name as never, message) : new Error(message);
        redacted.name = e.name;
        throw redacted;
      }
      throw e;
    }
  };
}

type StepContext = ReturnType<typeof createContext>;
type StepRun = (ctx: StepContext, event: StepEventWithPlan, deps: CutoverDeps) => Promise<unknown>;

/** Steps run without an execution's input: validateInput makes it, the others run on EventBridge rules. */
type InputlessStep = 'validateInput' | 'watchdog' | 'digest' | 'watchWayBack';

/** How each step is run from its event; the compiler keeps this in step with STEP_SPECS (contract/steps.ts). */
const RUN: { readonly [step in Exclude<StepName, InputlessStep>]: StepRun } = {
  preflight: (ctx) => preflightStep(ctx),
  planValidation: (ctx, event) => planValidation(ctx, event.phase),
  validateRange: (ctx, event) => validateRange(ctx, event.range),
  aggregateValidation: (ctx, event) => aggregateValidation(ctx, event.phase, event.rangeResults, event.plan),
  startTracking: (ctx) => startTrackingStep(ctx),
  checkLag: (ctx, event) => checkLag(ctx, event.previous, MAX_LAG_CHECKS),
  proveChanges: (ctx) => proveChanges(ctx),
  checkLateWrites: (ctx) => checkLateWrites(ctx),
  dropTracking: (ctx) => dropTrackingStep(ctx),
  requestApproval: (ctx, event) => requestApproval(ctx, event.taskToken),
  freezeWrites: (ctx) => freezeWrites(ctx),
  finalSync: (ctx) => finalSync(ctx),
  stopReplication: (ctx, _event, deps) =>
    stopReplication(ctx, deps.stopWaitMs !== undefined ? { waitMs: deps.stopWaitMs } : {}),
  syncSequences: (ctx) => syncSequences(ctx),
  switchTraffic: (ctx) => switchTraffic(ctx),
  switchReads: (ctx) => switchReads(ctx),
  revertReads: (ctx) => revertReads(ctx),
  finishReadSwitch: (ctx) => finishReadSwitch(ctx),
  prepareReverse: (ctx) => prepareReverse(ctx),
  armReverse: (ctx) => armReverse(ctx),
  startReverse: (ctx) => startReverse(ctx),
  // These two act on what the cutover did (the old source's roles, the way back): the forward dependencies.
  reopenSource: (ctx, _event, deps) => reopenSource(ctx, deps),
  endFallbackWindow: (ctx, _event, deps) =>
    endFallbackWindow(ctx, deps, deps.stopWaitMs !== undefined ? { waitMs: deps.stopWaitMs } : {}),
  complete: (ctx) => complete(ctx),
  rollback: (ctx, event) => rollback(ctx, event.error),
  reportFailureAfterSwitch: (ctx, event) => reportFailureAfterSwitch(ctx, event.error),
};

async function dispatch(deps: CutoverDeps, event: StepEventWithPlan): Promise<unknown> {
  const direction = event.direction === 'fallback' ? 'fallback' : 'forward';
  if (event.step === 'validateInput') return validateInput(depsFor(deps, direction), event.input, direction);
  if (event.step === 'watchdog') return watchdogForExecutionEvent(deps, event as never);
  if (event.step === 'digest') return progressDigest(deps);
  // Run by the way back's schedule, `{ "step": "watchWayBack" }`: the old source is the cutover's source.
  if (event.step === 'watchWayBack') return watchWayBack(deps);
  const input = event.input as CutoverInput;
  if (!input || typeof input !== 'object' || typeof input.migrationId !== 'string' || !input.startedAt) {
    throw new Error(`step ${event.step} needs "input": the result of the validateInput step`);
  }
  // The validated input says which way the execution runs (the fallback machine set it in validateInput).
  return RUN[event.step](createContext(depsFor(deps, input.direction), input), event, deps);
}
