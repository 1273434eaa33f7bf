/**
 * Runs the cutover state machine the construct synthesizes, locally, with aws-local-stepfunctions:
 * every Task state is mapped (by state name, see STATE_STEP) onto one step handler, Wait states are
 * shortened, approval is simulated, and state enter/exit events are reported as they happen.
 *
 * Used by the rehearsal (`npm run rehearse`) and the integration tests. Needs the Promise.withResolvers
 * polyfill on Node 20 (imported below).
 */
import './polyfills';
import { randomUUID } from 'node:crypto';
import { checkServedBy, functionOfStates, type TemplateFunctions } from './template-functions';
import type * as LocalSfn from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import {
  CutoverError,
  ERRORS,
  type StepEvent,
  type StepName,
  STATE_STEP,
  TASK_TOKEN_STATES,
  stepOfState,
  type TaskStateName,
} from '../../contract';
import type { CutoverWorkflowDefinitionOptions } from '../../lib';
import {
  synthesizeDefinitionForLocalRun,
  synthesizeMachineForLocalRun,
  synthesizeWayBackDefinitionsForLocalRun,
} from './local-definition';

/** Options for `synthesizeCutoverDefinition`: the definition-shaping props of `CutoverWorkflow`. */
export interface SynthesizeCutoverOptions extends CutoverWorkflowDefinitionOptions {
  /**
   * With a reverse replication (the way back): `forward` is the cutover machine with PrepareReverse / ArmReverse / StartReverse,
   * `fallback` the fallback machine. @default - the cutover machine without a way back
   */
  readonly wayBack?: 'forward' | 'fallback';
}

/**
 * Synthesizes a stack with a `CutoverWorkflow` (dummy VPC, secrets and topic; asset bundling skipped) and
 * returns its state machine definition as plain ASL JSON text. Lambda ARNs (Fn::GetAtt) are replaced by
 * placeholder ARNs `arn:aws:lambda:us-east-1:123456789012:function:<LogicalId>`, pseudo parameters by
 * fixed values. Takes ~1-3 s (one CDK synth).
 */
export async function synthesizeCutoverDefinition(props: SynthesizeCutoverOptions = {}): Promise<string> {
  return synthesizeDefinitionForLocalRun(props);
}

/** Both machines of the way back (one synth): the cutover machine with PrepareReverse / ArmReverse / StartReverse, and the fallback's. */
export async function synthesizeWayBackDefinitions(
  props: CutoverWorkflowDefinitionOptions = {},
): Promise<{ readonly forward: string; readonly fallback: string; readonly functions: TemplateFunctions }> {
  return synthesizeWayBackDefinitionsForLocalRun(props);
}

/** The cutover machine and the template's functions (for `RunCutoverOptions.functions`), from one synth. */
export async function synthesizeCutoverMachine(
  props: CutoverWorkflowDefinitionOptions = {},
): Promise<{ readonly forward: string; readonly functions: TemplateFunctions }> {
  return synthesizeMachineForLocalRun(props);
}

/** What the runner asks the approver. */
export interface ApprovalRequest {
  /** The Step Functions task token the RequestApproval state was given. */
  readonly taskToken: string;
  /** The event the RequestApproval step received (its handler has already run and sent the notice). */
  readonly event: StepEvent;
  /** The Task state's Parameters as evaluated (`{ FunctionName, Payload }`): what Step Functions schedules. */
  readonly parameters: unknown;
}

/**
 * 'approve' = SendTaskSuccess, 'reject' = SendTaskFailure with `ZdmApprovalRejected`; `{ error, cause }` =
 * SendTaskFailure with that error and cause (as an operator or a CLI sends it).
 */
export type ApprovalDecision = 'approve' | 'reject' | { readonly error: string; readonly cause?: string };

/** A state-level event, reported live through `onStateEvent` and collected in `CutoverRunResult.events`. */
export interface CutoverStateEvent {
  readonly type: 'ExecutionStarted' | 'StateEntered' | 'StateExited' | 'StateFailed' | 'StateRetried' | 'StateCaught';
  /** State name (empty for ExecutionStarted). */
  readonly state: string;
  /** The state's type (`Task`, `Choice`, `Pass`, `Wait`, `Map`, `Succeed`, `Fail`). */
  readonly stateType?: string;
  /** StateExited: the state's output. */
  readonly output?: unknown;
  /** The Lambda step a Task state runs. */
  readonly step?: StepName;
  /** Map iteration index, for states inside the validation Maps. */
  readonly index?: number;
  /** ms since the epoch. */
  readonly timestamp: number;
  /** StateFailed: error name and cause. */
  readonly error?: string;
  readonly cause?: string;
}

export type CutoverRunStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface CutoverRunResult {
  readonly status: CutoverRunStatus;
  /** Execution output (SUCCEEDED only). */
  readonly output?: unknown;
  /** FAILED: the error name (e.g. `ZdmSyncTimeout`, `ZdmBadInput`). */
  readonly error?: string;
  /** FAILED: the cause (the step's error message). */
  readonly cause?: string;
  /** FAILED: the last state entered (the Fail state, e.g. `RolledBack`). */
  readonly lastState?: string;
  readonly events: readonly CutoverStateEvent[];
  readonly durationMs: number;
  /** What the watchdog step returned (or why it failed), when it ran. */
  readonly watchdog?: unknown;
}

export interface RunCutoverOptions {
  /** ASL JSON text (from `synthesizeCutoverDefinition`) or the parsed definition. */
  readonly definition: string | object;
  /** Runs one cutover step; every Task state is mapped onto it with the event its Parameters produce. */
  readonly stepHandler: (event: StepEvent) => Promise<unknown>;
  /** Execution input, as an operator would type it in the console (`{ migrationId, mode, ... }`). */
  readonly input: unknown;
  /** Every Wait state waits this many ms instead of its `Seconds`. @default 0 */
  readonly waitTimeOverrideMs?: number;
  /**
   * Simulates the operator at the approval gate (RequestApproval, a waitForTaskToken state): called after
   * the step has run; 'approve' = SendTaskSuccess, 'reject' = SendTaskFailure with `ZdmApprovalRejected`.
   * @default - approve at once
   */
  readonly approve?: (request: ApprovalRequest) => ApprovalDecision | Promise<ApprovalDecision>;
  /** Called synchronously for every state event as it happens (to show phases live). */
  readonly onStateEvent?: (event: CutoverStateEvent) => void;
  /** Aborts the execution (status ABORTED). */
  readonly signal?: AbortSignal;
  /** Ends the execution as TIMED_OUT after this many ms, like the state machine's TimeoutSeconds. @default - none */
  readonly timeoutMs?: number;
  /**
   * After an execution that did not succeed, run the `watchdog` step the way the construct's EventBridge rule does
   * (once every step still running has returned). @default true
   */
  readonly watchdog?: boolean;
  /**
   * The machine's direction as its watchdog rule passes it (`fallback`: the fallback machine's rule, so the
   * watchdog looks at the fallback's record and Aurora's roles). @default - the cutover machine's (none)
   */
  readonly watchdogDirection?: 'fallback';
  /**
   * The template's functions (by the ARN the Task states invoke): each step is first checked the way its function
   * would run it in AWS (`checkServedBy`). @default - not checked
   */
  readonly functions?: TemplateFunctions;
}

interface LambdaInvokeParameters {
  readonly FunctionName?: unknown;
  readonly Payload?: unknown;
}

function isStepEvent(value: unknown): value is StepEvent {
  return typeof value === 'object' && value !== null && typeof (value as { step?: unknown }).step === 'string';
}

const validatedDefinitions = new Set<string>();

/**
 * The local handler of each Task state: checks the state sent its own step, runs the step (tracked in `inFlight`
 * while it runs), and for a task-token state (the approval gate) asks `approve` after it.
 */
function taskHandlers(
  taskStates: readonly string[],
  options: RunCutoverOptions,
  taskToken: string,
  inFlight: Set<Promise<unknown>>,
  functionOf?: ReadonlyMap<string, string>,
): Record<string, (input: unknown) => Promise<unknown>> {
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const name of taskStates) {
    const step = stepOfState(name);
    if (!step) throw new Error(`runCutover: Task state ${JSON.stringify(name)} is not in STATE_STEP`);
    const waitsForToken = TASK_TOKEN_STATES.includes(name as TaskStateName);
    handlers[name] = async (parameters: unknown) => {
      // With `payloadResponseOnly` the Parameters are the payload itself; with the full lambda:invoke
      // integration (waitForTaskToken) they are `{ FunctionName, Payload }`.
      const event = isStepEvent(parameters) ? parameters : (parameters as LambdaInvokeParameters).Payload;
      if (!isStepEvent(event)) {
        throw new Error(`runCutover: state ${name} produced no step event: ${JSON.stringify(parameters)}`);
      }
      if (event.step !== step) {
        throw new Error(`runCutover: state ${name} sent step ${JSON.stringify(event.step)}, expected ${step}`);
      }
      if (options.functions) {
        const arn = functionOf?.get(name);
        const fn = arn === undefined ? undefined : options.functions.get(arn);
        if (!fn) throw new Error(`runCutover: state ${name} invokes ${arn ?? 'no function'}, not in the template`);
        checkServedBy(fn, event);
      }
      const running = options.stepHandler(event);
      inFlight.add(running);
      let result: unknown;
      try {
        result = await running;
      } finally {
        inFlight.delete(running);
      }
      if (!waitsForToken) return result ?? null;
      const decision = options.approve
        ? await options.approve({ taskToken: event.taskToken ?? taskToken, event, parameters })
        : 'approve';
      if (typeof decision === 'object') {
        const failure = new Error(decision.cause ?? '');
        failure.name = decision.error;
        throw failure;
      }
      if (decision !== 'approve') {
        throw new CutoverError(
          ERRORS.rejected,
          `Cutover ${event.input?.migrationId} was rejected at the approval gate`,
        );
      }
      return { approved: true, approvedAt: new Date().toISOString() };
    };
  }
  return handlers;
}

/** Starts the definition on aws-local-stepfunctions: Task states run locally, Wait states and retries don't wait. */
function startExecution(
  definition: LocalSfn.StateMachineDefinition,
  options: RunCutoverOptions,
  taskToken: string,
  inFlight: Set<Promise<unknown>>,
) {
  const { StateMachine } = loadLocalStepFunctions();
  const taskStates = collectStates(definition, 'Task');
  const functionOf = options.functions ? functionOfStates(JSON.stringify(definition)) : undefined;
  const handlers = taskHandlers(taskStates, options, taskToken, inFlight, functionOf);
  const waitTimeOverrides: Record<string, number> = {};
  for (const name of collectStates(definition, 'Wait')) waitTimeOverrides[name] = options.waitTimeOverrideMs ?? 0;
  const retryIntervalOverrides: Record<string, number> = {};
  for (const name of [...taskStates, ...collectStates(definition, 'Map')]) retryIntervalOverrides[name] = 0;

  // ASL validation compiles JSON schemas (~1-4 s): validate each distinct definition once per process.
  const key = JSON.stringify(definition);
  const machine = new StateMachine(definition, {
    validationOptions: validatedDefinitions.has(key) ? { noValidate: true } : { checkArn: false },
  });
  validatedDefinitions.add(key);
  return machine.run(options.input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      waitTimeOverrides,
      retryIntervalOverrides,
    },
    context: { Task: { Token: taskToken } },
  });
}

type LocalExecution = ReturnType<typeof startExecution>;

/** What the execution's event log says: the state events (each passed to `onStateEvent`), its last state, its failure. */
interface CollectedEvents {
  readonly events: CutoverStateEvent[];
  lastState?: string;
  failure?: { error?: string; cause?: string };
}

async function collectEvents(execution: LocalExecution, options: RunCutoverOptions, into: CollectedEvents) {
  for await (const log of execution.eventLogs) {
    let event: CutoverStateEvent | undefined;
    switch (log.type) {
      case 'ExecutionStarted':
        event = { type: log.type, state: '', timestamp: log.timestamp };
        break;
      case 'ExecutionFailed':
        into.failure = { error: log.Error, cause: stringifyCause(log.Cause) };
        break;
      case 'StateEntered':
      case 'StateExited':
      case 'StateRetried':
      case 'StateCaught':
      case 'StateFailed': {
        const step = stepOfState(log.state.name);
        event = {
          type: log.type,
          state: log.state.name,
          stateType: log.state.type,
          ...(step ? { step } : {}),
          ...(log.type === 'StateExited' && log.state.output !== undefined ? { output: log.state.output } : {}),
          ...(log.index !== undefined ? { index: log.index } : {}),
          timestamp: log.timestamp,
          ...(log.type === 'StateFailed' ? { error: log.Error, cause: stringifyCause(log.Cause) } : {}),
        };
        if (log.type === 'StateEntered' && log.index === undefined) into.lastState = log.state.name;
        break;
      }
      default:
        break;
    }
    if (event) {
      into.events.push(event);
      options.onStateEvent?.(event);
    }
  }
}

/** The dead man's switch after an execution that did not succeed, once the steps still running settled. */
async function runWatchdog(
  options: RunCutoverOptions,
  status: CutoverRunStatus,
  started: number,
  inFlight: Set<Promise<unknown>>,
): Promise<unknown> {
  await Promise.allSettled([...inFlight]);
  const event = {
    step: 'watchdog',
    ...(options.watchdogDirection ? { direction: options.watchdogDirection } : {}),
    detail: { status, input: JSON.stringify(options.input), startDate: started },
  };
  return options.stepHandler(event as never).catch((e: Error) => ({ failed: e.message }));
}

/** Runs the definition locally until it ends; never throws for a failed execution (see `status`). */
export async function runCutover(options: RunCutoverOptions): Promise<CutoverRunResult> {
  const { ExecutionAbortedError, ExecutionTimeoutError } = loadLocalStepFunctions();
  const definition = (
    typeof options.definition === 'string' ? JSON.parse(options.definition) : options.definition
  ) as LocalSfn.StateMachineDefinition;
  const taskToken = `local-task-token-${randomUUID()}`;
  const started = Date.now();
  // Steps still running when the execution ends (an abort does not stop a running Lambda either).
  const inFlight = new Set<Promise<unknown>>();
  const execution = startExecution(definition, options, taskToken, inFlight);

  const onAbort = (): void => execution.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) execution.abort();
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          execution.abort();
        }, options.timeoutMs);

  const collected: CollectedEvents = { events: [] };
  const collector = collectEvents(execution, options, collected);

  let status: CutoverRunStatus;
  let output: unknown;
  try {
    output = await execution.result;
    status = 'SUCCEEDED';
  } catch (err) {
    if (err instanceof ExecutionAbortedError) status = timedOut ? 'TIMED_OUT' : 'ABORTED';
    else if (err instanceof ExecutionTimeoutError) status = 'TIMED_OUT';
    else status = 'FAILED';
    if (!collected.failure && status === 'FAILED') {
      collected.failure = { error: (err as Error).name, cause: (err as Error).message };
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  }
  await collector.catch(() => undefined);
  const watchdog =
    status !== 'SUCCEEDED' && options.watchdog !== false
      ? await runWatchdog(options, status, started, inFlight)
      : undefined;

  const { failure, lastState, events } = collected;
  return {
    status,
    ...(status === 'SUCCEEDED' ? { output } : {}),
    ...(status === 'FAILED' ? { error: failure?.error, cause: failure?.cause } : {}),
    ...(lastState ? { lastState } : {}),
    events,
    durationMs: Date.now() - started,
    ...(watchdog !== undefined ? { watchdog } : {}),
  };
}

/**
 * aws-local-stepfunctions is published as ESM with a CommonJS build (`require` condition); this project
 * compiles to CommonJS and jest runs without VM modules, so it is required, not imported.
 */
function loadLocalStepFunctions(): typeof LocalSfn {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('aws-local-stepfunctions') as typeof LocalSfn;
}

function stringifyCause(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (typeof cause === 'string') return cause;
  if (cause instanceof Error) return cause.message;
  return JSON.stringify(cause);
}

interface StatesContainer {
  readonly States?: Record<
    string,
    { Type?: string; ItemProcessor?: StatesContainer; Iterator?: StatesContainer; Branches?: StatesContainer[] }
  >;
}

/** Names of every state of `type`, including those inside Map item processors and Parallel branches. */
export function collectStates(definition: StatesContainer, type: string): string[] {
  const names: string[] = [];
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    if (state.Type === type) names.push(name);
    for (const inner of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
      if (inner) names.push(...collectStates(inner, type));
    }
  }
  return names;
}

/** All Task state names the definition must contain (for checks). */
export const TASK_STATE_NAMES = Object.keys(STATE_STEP) as TaskStateName[];
