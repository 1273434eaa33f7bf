/**
 * The cutover and fallback state machines' definitions (internal): every Task state from the step table, the lag loop,
 * the validation Map states, approval, Retry/Catch routing to Rollback before the point of no return and to
 * FailedAfterSwitch after it, and the mode branches (execute, dry-run, switch-reads, end-fallback-window).
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  ERRORS,
  STATES,
  STATE_STEP,
  resultKey,
  type CutoverDirection,
  type StepName,
  type TaskStateName,
} from '../../../contract';

/** Lambda service errors worth retrying; step errors (Zdm*) are never retried. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/** Errors of a database look that a polling step may try once more: pg's (named "error") and a lost connection. */
export const TRANSIENT_STEP_ERRORS = ['error', 'ConnectionLostError'];

export interface CutoverDefinitionProps {
  /** The function that runs each step. */
  readonly functionFor: (step: StepName) => lambda.IFunction;
  /** The cutover (`forward`, default) or the fallback: the same steps the other way, over the reverse replication. */
  readonly direction?: CutoverDirection;
  /** Whether a reverse replication exists: the cutover arms and starts it, `end-fallback-window` closes it. */
  readonly wayBack?: boolean;
  readonly pollInterval: Duration;
  readonly validationMaxConcurrency: number;
  readonly approvalTimeout: Duration;
}

/** The states that need individual tests, by name. */
export interface CutoverDefinition {
  readonly startState: sfn.IChainable;
  readonly states: Record<string, sfn.State>;
}

type Guard = <T extends sfn.TaskStateBase | sfn.Map>(state: T) => T;

/**
 * Builds the cutover state machine (JSONPath ASL). Construct IDs are the state names (API, see contract/state-names).
 *
 * Read-first: after the sync gate, SwitchReads points the read path at the target's readers (a `switch-reads`
 * execution ends there; `revert-reads` runs RevertReads alone); a rollback points it back (RollbackReads).
 *
 * Critical path: FreezeWrites → FinalSync → ProveChanges (O(changes)) → SyncSequences → SwitchTraffic, the point of
 * no return. Until it, every failure rolls back (replication still runs, so that restores the roles and drops the
 * tracking slots); after it, StopReplication (minutes on DMS) and the rest run outside the freeze and never roll back.
 *
 * Data flow: `$.input` holds the validated CutoverInput (ValidateInput's result), `$.results.<state>` each step's
 * result, `$.error` a caught error (`{ Error, Cause }`).
 */
export function buildCutoverDefinition(scope: Construct, props: CutoverDefinitionProps): CutoverDefinition {
  const fallback = props.direction === 'fallback';
  const wayBack = Boolean(props.wayBack) && !fallback;
  const b = new DefinitionBuilder(scope, props);
  const { rollback, reportAfterSwitch } = b.failureHandlers();
  const beforeSwitch: Guard = (state) => {
    state.addCatch(rollback, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    return state;
  };
  const afterSwitch: Guard = (state) => {
    state.addCatch(reportAfterSwitch, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    return state;
  };

  const validateInput = b.validateInput(fallback);
  const preflight = beforeSwitch(b.task('Preflight'));
  const startTracking = beforeSwitch(b.task('StartTracking'));
  const preValidation = b.validation('preValidation', beforeSwitch);
  const waitForSync = b.waitForSync(beforeSwitch, rollback);
  const approval = b.approvalGate(beforeSwitch);

  // The cutover creates the way back's slot just before the freeze (its creation waits for running transactions).
  const beforeTheFreeze = wayBack ? [beforeSwitch(b.task('PrepareReverse'))] : [];

  // ---- inside the freeze: O(1) and O(changes) only ------------------------------------------------------------
  const freeze = beforeSwitch(b.task('FreezeWrites'));
  const finalSync = beforeSwitch(b.task('FinalSync'));
  const prove = beforeSwitch(b.task('ProveChanges'));
  const sequences = beforeSwitch(b.task('SyncSequences'));
  // The cutover arms the way back (the reverse slot on the target); the fallback reopens the old source's roles.
  const beforeTheSwitch = fallback
    ? [beforeSwitch(b.task('ReopenSource'))]
    : wayBack
      ? [beforeSwitch(b.task('ArmReverse'))]
      : [];
  const switchTraffic = beforeSwitch(b.task('SwitchTraffic'));

  // ---- after the switch: the application writes to the target -------------------------------------------------
  // The fallback points the reads back with the writes.
  const afterTheSwitch = fallback ? [afterSwitch(b.task('FallBackReads'))] : [];
  const stop = b.stopReplicationLoop(afterSwitch);
  // Only once forward replication has stopped (and no late write is found) does the reverse one start (no echo).
  const afterTheStop = wayBack ? [afterSwitch(b.task('StartReverse'))] : [];
  const lateWrites = afterSwitch(b.task('CheckLateWrites'));
  const postValidation = b.validation('postValidation', afterSwitch);
  const postValidated = b.postValidated([
    ...(fallback ? ['ReopenSource', 'FallBackReads'] : ['SwitchReads']),
    ...(wayBack ? ['PrepareReverse', 'ArmReverse', 'StartReverse'] : []),
  ]);
  const dropTracking = afterSwitch(b.task('DropTracking'));
  // The fallback ends the way back it came over.
  const beforeComplete = fallback ? [afterSwitch(b.task('CloseWayBack'))] : [];
  const complete = afterSwitch(b.task('Complete'));

  const isFullValidationRequested = b
    .choice(STATES.isFullValidationRequested)
    .when(sfn.Condition.booleanEquals('$.input.fullValidationAfterSwitch', true), postValidation.start)
    .otherwise(dropTracking);
  postValidation.end.next(postValidated).next(dropTracking);

  if (fallback) {
    validateInput.next(preflight);
  } else {
    // The operator actions that do not cut over: point the reads back, close the way back.
    const cutover = wayBack
      ? b
          .choice(STATES.isEndFallbackWindow)
          .when(sfn.Condition.stringEquals('$.input.action', 'end-fallback-window'), b.endFallbackWindowAlone())
          .otherwise(preflight)
      : preflight;
    validateInput.next(
      b
        .choice(STATES.isRevertReads)
        .when(sfn.Condition.stringEquals('$.input.action', 'revert-reads'), b.revertReadsAlone())
        .otherwise(cutover),
    );
  }
  preflight.next(startTracking).next(preValidation.start);
  preValidation.end.next(waitForSync.start);
  if (fallback) {
    waitForSync.synced(approval.start);
  } else {
    // ---- the read-first switch: reads to the target's readers, writes still on the source ------------------------
    const switchReads = beforeSwitch(b.task('SwitchReads'));
    const finishReadSwitch = beforeSwitch(b.task('FinishReadSwitch'));
    waitForSync.synced(switchReads);
    switchReads.next(
      b
        .choice(STATES.isReadSwitchOnly)
        .when(
          sfn.Condition.stringEquals('$.input.action', 'switch-reads'),
          finishReadSwitch.next(
            b.succeedAs(STATES.readsSwitched, 'Reads go to the target; writes stay on the source.'),
          ),
        )
        .otherwise(approval.start),
    );
  }
  approval.end(chain([...beforeTheFreeze, freeze]).start);
  chain([freeze, finalSync, prove, sequences, ...beforeTheSwitch, switchTraffic, ...afterTheSwitch]).next(stop.start);
  // Late writes are read before the way back starts: from then on the reverse replication writes on the source too.
  const afterStop = chain([lateWrites, ...afterTheStop]);
  stop.stopped(afterStop.start);
  afterStop.next(isFullValidationRequested);
  chain([dropTracking, ...beforeComplete, complete]).next(
    fallback ? b.succeedAs(STATES.fellBack, 'The application is on the source again.') : b.succeed(),
  );
  return { startState: validateInput, states: b.states };
}

/** Links states in order; returns the first (to enter) and the last (to continue from). */
function chain(states: readonly tasks.LambdaInvoke[]): {
  start: tasks.LambdaInvoke;
  next: (s: sfn.IChainable) => void;
} {
  for (let i = 1; i < states.length; i++) states[i - 1].next(states[i]);
  return { start: states[0], next: (s) => void states[states.length - 1].next(s) };
}

/** Creates the states, remembering each by name. */
class DefinitionBuilder {
  readonly states: Record<string, sfn.State> = {};
  private readonly input = sfn.JsonPath.objectAt('$.input');

  constructor(
    private readonly scope: Construct,
    private readonly props: CutoverDefinitionProps,
  ) {}

  /** A Lambda step; `replaceState`: the result replaces the whole state (aws-local-stepfunctions mishandles `"ResultPath": "$"`). */
  task(
    name: TaskStateName,
    extra: Record<string, unknown> = {},
    options: { replaceState?: boolean; resultSelector?: Record<string, unknown>; scope?: Construct } = {},
  ): tasks.LambdaInvoke {
    const t = new tasks.LambdaInvoke(options.scope ?? this.scope, name, {
      stateName: name,
      lambdaFunction: this.props.functionFor(STATE_STEP[name]),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ step: STATE_STEP[name], input: this.input, ...extra }),
      ...(options.replaceState ? {} : { resultPath: `$.results.${resultKey(name)}` }),
      ...(options.resultSelector ? { resultSelector: options.resultSelector } : {}),
    });
    retryServiceErrors(t);
    this.states[name] = t;
    return t;
  }

  choice(name: string): sfn.Choice {
    const c = new sfn.Choice(this.scope, name, { stateName: name });
    this.states[name] = c;
    return c;
  }

  private fail(name: string, props: sfn.FailProps): sfn.Fail {
    const f = new sfn.Fail(this.scope, name, { stateName: name, ...props });
    this.states[name] = f;
    return f;
  }

  succeed(): sfn.Succeed {
    return this.succeedAs(STATES.succeeded);
  }

  succeedAs(name: string, comment?: string): sfn.Succeed {
    const s = new sfn.Succeed(this.scope, name, { stateName: name, ...(comment ? { comment } : {}) });
    this.states[name] = s;
    return s;
  }

  /** `mode: "end-fallback-window"`: EndFallbackWindow → FallbackWindowEnded, or EndFallbackWindowFailed. */
  endFallbackWindowAlone(): tasks.LambdaInvoke {
    return this.alone('EndFallbackWindow', {
      failed: STATES.endFallbackWindowFailed,
      failedComment: 'The reverse replication could not be stopped or its slot dropped; see the notice.',
      succeeded: STATES.fallbackWindowEnded,
      succeededComment: 'The way back is closed.',
    });
  }

  /** `mode: "revert-reads"`: RevertReads → ReadsReverted, or RevertReadsFailed. */
  revertReadsAlone(): tasks.LambdaInvoke {
    return this.alone('RevertReads', {
      failed: STATES.revertReadsFailed,
      failedComment: 'The read path could not be pointed back; it still goes to the target.',
      succeeded: STATES.readsReverted,
      succeededComment: 'The read path goes to the source again.',
    });
  }

  /** An operator action that is one step: it succeeds into its own state or fails into its own (nothing to roll back). */
  private alone(
    name: TaskStateName,
    ends: { failed: string; failedComment: string; succeeded: string; succeededComment: string },
  ): tasks.LambdaInvoke {
    const task = this.task(name);
    task.addCatch(
      this.fail(ends.failed, { comment: ends.failedComment, errorPath: '$.error.Error', causePath: '$.error.Cause' }),
      { errors: [sfn.Errors.ALL], resultPath: '$.error' },
    );
    task.next(this.succeedAs(ends.succeeded, ends.succeededComment));
    return task;
  }

  /** The raw execution input goes in as `input`; the state becomes `{ input: <validated> }` (raw fields do not linger). */
  validateInput(fallback: boolean): sfn.Chain {
    const invalidInput = this.fail(STATES.invalidInput, {
      comment: 'The execution input was rejected; nothing was changed.',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    // Wrapped first: an array or scalar input could not take the Catch's `$.error`, and must get the same input error.
    const receive = new sfn.Pass(this.scope, STATES.receiveInput, {
      stateName: STATES.receiveInput,
      comment: 'Wraps the raw execution input (whatever its JSON type) as $.raw for ValidateInput.',
      parameters: { 'raw.$': '$' },
    });
    this.states[STATES.receiveInput] = receive;
    const t = this.task(
      'ValidateInput',
      { input: sfn.JsonPath.objectAt('$.raw'), ...(fallback ? { direction: 'fallback' } : {}) },
      { resultSelector: { input: sfn.JsonPath.entirePayload }, replaceState: true },
    );
    t.addCatch(invalidInput, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    return receive.next(t);
  }

  failureHandlers(): { rollback: tasks.LambdaInvoke; reportAfterSwitch: tasks.LambdaInvoke } {
    const rolledBack = this.fail(STATES.rolledBack, {
      comment: 'Failed before the switch; the source accepts writes again and replication still runs.',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const rollbackFailed = this.fail(STATES.rollbackFailed, {
      comment: 'Rollback itself failed: the source may still refuse application writes. Act now.',
      error: 'ZdmRollbackFailed',
      causePath: '$.rollbackError.Cause',
    });
    const failedAfterSwitch = this.fail(STATES.failedAfterSwitch, {
      comment: 'Failed after the point of no return (the switch): no automatic rollback; the operator decides.',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const rollback = this.task('Rollback', { error: sfn.JsonPath.objectAt('$.error') });
    // Restoring the source's writes matters more than anything: retry any error a few times, then stop loudly.
    rollback.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
    rollback.addCatch(rollbackFailed, { errors: [sfn.Errors.ALL], resultPath: '$.rollbackError' });
    // Then the read path goes back (if it moved). Writes are restored already: a failure here only adds a notice.
    const rollbackReads = this.task('RollbackReads', { error: sfn.JsonPath.objectAt('$.error') });
    rollbackReads.addCatch(rolledBack, { errors: [sfn.Errors.ALL], resultPath: '$.readsError' });
    rollback.next(rollbackReads).next(rolledBack);
    const reportAfterSwitch = this.task('ReportFailureAfterSwitch', { error: sfn.JsonPath.objectAt('$.error') });
    reportAfterSwitch.addCatch(failedAfterSwitch, { errors: [sfn.Errors.ALL], resultPath: '$.reportError' });
    const lateWritesFound = this.fail(STATES.lateWritesFound, {
      comment:
        'Selected tables changed on the source after the final-sync marker: those changes are not on the target. ' +
        "The source's tracking slot keeps them; see the notice.",
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    reportAfterSwitch.next(
      this.choice(STATES.isLateWrites)
        .when(sfn.Condition.stringEquals('$.error.Error', ERRORS.lateWrites), lateWritesFound)
        .otherwise(failedAfterSwitch),
    );
    return { rollback, reportAfterSwitch };
  }

  /** Plan → Map over the ranges → aggregate, for the pre-validation or the optional one after the switch. */
  validation(phase: 'preValidation' | 'postValidation', guard: Guard): { start: sfn.IChainable; end: sfn.INextable } {
    const pre = phase === 'preValidation';
    const plan = this.task(pre ? 'PlanPreValidation' : 'PlanPostValidation', { phase });
    const mapName = pre ? STATES.preValidation : STATES.postValidation;
    const map = new sfn.Map(this.scope, mapName, {
      stateName: mapName,
      comment: `Checks every planned range of the ${phase} in parallel.`,
      itemsPath: `$.results.${resultKey(plan.id)}.items`,
      itemSelector: { range: sfn.JsonPath.objectAt('$$.Map.Item.Value'), input: this.input },
      maxConcurrency: this.props.validationMaxConcurrency,
      resultPath: `$.results.${resultKey(mapName)}`,
    });
    map.itemProcessor(
      this.task(
        pre ? 'PreValidateRange' : 'PostValidateRange',
        { phase, range: sfn.JsonPath.objectAt('$.range') },
        { replaceState: true, scope: map },
      ),
    );
    this.states[mapName] = map;
    const aggregate = this.task(pre ? 'AggregatePreValidation' : 'AggregatePostValidation', {
      phase,
      plan: sfn.JsonPath.objectAt(`$.results.${resultKey(plan.id)}.plan`),
      rangeResults: sfn.JsonPath.listAt(`$.results.${resultKey(mapName)}`),
    });
    guard(plan);
    guard(map);
    guard(aggregate);
    return { start: plan.next(map).next(aggregate), end: aggregate };
  }

  /** StartWaitForSync → CheckLag → IsSynced (→ Wait → CheckLag | SyncTimedOut → Rollback). */
  waitForSync(
    guard: Guard,
    rollback: sfn.IChainable,
  ): { start: sfn.IChainable; synced: (next: sfn.IChainable) => void } {
    const checkLagKey = resultKey('CheckLag');
    const start = new sfn.Pass(this.scope, STATES.startWaitForSync, {
      stateName: STATES.startWaitForSync,
      comment: 'Drops the pre-validation plan and range results (state size) and seeds the lag-check counters.',
      parameters: {
        input: this.input,
        results: {
          [resultKey('Preflight')]: sfn.JsonPath.objectAt(`$.results.${resultKey('Preflight')}`),
          [resultKey('StartTracking')]: sfn.JsonPath.objectAt(`$.results.${resultKey('StartTracking')}`),
          [resultKey('AggregatePreValidation')]: sfn.JsonPath.objectAt(
            `$.results.${resultKey('AggregatePreValidation')}`,
          ),
          [checkLagKey]: { consecutive: 0, iterations: 0 },
        },
      },
    });
    this.states[STATES.startWaitForSync] = start;
    const lagTask = this.task('CheckLag', {
      previous: {
        consecutive: sfn.JsonPath.numberAt(`$.results.${checkLagKey}.consecutive`),
        iterations: sfn.JsonPath.numberAt(`$.results.${checkLagKey}.iterations`),
      },
    });
    // A look is repeated anyway (it stores what it read before it advances the tracking slots): a database error in
    // one look (pg's errors are named "error"; a dropped connection ConnectionLostError) gets one more try before
    // the wait is given up. Step errors (Zdm*) are never retried.
    lagTask.addRetry({
      errors: TRANSIENT_STEP_ERRORS,
      interval: Duration.seconds(1),
      maxAttempts: 2,
      backoffRate: 2,
    });
    const checkLag = guard(lagTask);
    const wait = new sfn.Wait(this.scope, STATES.waitForSync, {
      stateName: STATES.waitForSync,
      time: sfn.WaitTime.duration(this.props.pollInterval),
    });
    this.states[STATES.waitForSync] = wait;
    const syncTimedOut = new sfn.Pass(this.scope, STATES.syncTimedOut, {
      stateName: STATES.syncTimedOut,
      comment: 'Gives up waiting for sync. Nothing was frozen; Rollback drops the tracking slots and notifies.',
      parameters: {
        Error: ERRORS.syncTimeout,
        Cause: sfn.JsonPath.format(
          'Not in sync within {} seconds (lag, pending keys or range checks); nothing was changed. Last check: {}',
          sfn.JsonPath.stringAt('$.input.syncTimeoutSeconds'),
          sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(`$.results.${checkLagKey}`)),
        ),
      },
      resultPath: '$.error',
    });
    syncTimedOut.next(rollback);
    this.states[STATES.syncTimedOut] = syncTimedOut;
    const isSynced = this.choice(STATES.isSynced);
    start.next(checkLag).next(isSynced);
    return {
      start,
      synced: (next) => {
        isSynced
          .when(sfn.Condition.booleanEquals(`$.results.${checkLagKey}.synced`, true), next)
          .when(sfn.Condition.booleanEquals(`$.results.${checkLagKey}.timedOut`, true), syncTimedOut)
          .otherwise(wait.next(checkLag));
      },
    };
  }

  /** IsApprovalRequired → RequestApproval (task token) → next, or straight to next. */
  approvalGate(guard: Guard): { start: sfn.IChainable; end: (next: sfn.IChainable) => void } {
    const requestApproval = new tasks.LambdaInvoke(this.scope, 'RequestApproval', {
      stateName: 'RequestApproval',
      comment: 'Sends the approval notice and waits for SendTaskSuccess (approve) or SendTaskFailure (reject).',
      lambdaFunction: this.props.functionFor(STATE_STEP.RequestApproval),
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        step: STATE_STEP.RequestApproval,
        input: this.input,
        taskToken: sfn.JsonPath.taskToken,
      }),
      resultPath: `$.results.${resultKey('RequestApproval')}`,
      taskTimeout: sfn.Timeout.duration(this.props.approvalTimeout),
    });
    retryServiceErrors(requestApproval);
    guard(requestApproval);
    this.states.RequestApproval = requestApproval;
    const isApprovalRequired = this.choice(STATES.isApprovalRequired);
    return {
      start: isApprovalRequired,
      end: (next) => {
        isApprovalRequired
          .when(sfn.Condition.booleanEquals('$.input.requireApproval', true), requestApproval.next(next))
          .otherwise(next);
      },
    };
  }

  /**
   * One StopReplication invocation waits a bounded time (a DMS task takes minutes to stop): until it reports
   * `stopped` (or a dry run), wait and call it again; it fails by itself when the task never stops.
   */
  stopReplicationLoop(guard: Guard): { start: sfn.IChainable; stopped: (next: sfn.IChainable) => void } {
    const stop = guard(this.task('StopReplication'));
    const stopResult = `$.results.${resultKey('StopReplication')}`;
    const waitForStop = new sfn.Wait(this.scope, STATES.waitForStop, {
      stateName: STATES.waitForStop,
      time: sfn.WaitTime.duration(this.props.pollInterval),
    });
    this.states[STATES.waitForStop] = waitForStop;
    const isStopped = this.choice(STATES.isReplicationStopped);
    stop.next(isStopped);
    const flag = (field: string): sfn.Condition =>
      sfn.Condition.and(
        sfn.Condition.isPresent(`${stopResult}.${field}`),
        sfn.Condition.booleanEquals(`${stopResult}.${field}`, true),
      );
    return {
      start: stop,
      stopped: (next) => {
        isStopped.when(sfn.Condition.or(flag('stopped'), flag('dryRun')), next).otherwise(waitForStop.next(stop));
      },
    };
  }

  /** Drops the post-validation plan and item results before the last steps (state size). */
  postValidated(directional: readonly string[]): sfn.Pass {
    // Only results every path to here has are kept (RequestApproval's is optional, a missing path fails a Pass).
    const keep = (name: string): Record<string, string> => ({
      [`${resultKey(name)}.$`]: `$.results.${resultKey(name)}`,
    });
    const p = new sfn.Pass(this.scope, STATES.postValidated, {
      stateName: STATES.postValidated,
      comment: 'Drops the post-switch validation plan and range results (state size).',
      parameters: {
        input: this.input,
        results: Object.assign(
          {},
          ...[
            'Preflight',
            'StartTracking',
            'AggregatePreValidation',
            'CheckLag',
            ...directional,
            'FreezeWrites',
            'FinalSync',
            'ProveChanges',
            'SyncSequences',
            'SwitchTraffic',
            'StopReplication',
            'CheckLateWrites',
            'AggregatePostValidation',
          ].map(keep),
        ),
      },
    });
    this.states[STATES.postValidated] = p;
    return p;
  }
}

function retryServiceErrors(task: sfn.TaskStateBase): void {
  task.addRetry({
    errors: LAMBDA_SERVICE_ERRORS,
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
    jitterStrategy: sfn.JitterType.FULL,
  });
}
