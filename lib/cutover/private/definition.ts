import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERRORS, type StepName, STATES, STATE_STEP, resultKey, type TaskStateName } from '../../../contract';

/** Lambda service errors worth retrying; step errors (Zdm*) are never retried. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

export interface CutoverDefinitionProps {
  /** The function that runs each step. */
  readonly functionFor: (step: StepName) => lambda.IFunction;
  readonly pollInterval: Duration;
  readonly validationMaxConcurrency: number;
  readonly approvalTimeout: Duration;
}

/** The states that need individual tests, by name. */
export interface CutoverDefinition {
  readonly startState: sfn.IChainable;
  readonly states: Record<string, sfn.State>;
}

/**
 * Builds the cutover state machine (JSONPath ASL). Construct IDs are the state names (API, see state-names.ts).
 *
 * Data flow: `$.input` holds the validated CutoverInput (ValidateInput's result), `$.results.<state>` each
 * step's result, `$.error` a caught error (`{ Error, Cause }`).
 */
export function buildCutoverDefinition(scope: Construct, props: CutoverDefinitionProps): CutoverDefinition {
  const states: Record<string, sfn.State> = {};
  const input = sfn.JsonPath.objectAt('$.input');

  const task = (
    name: TaskStateName,
    extra: Record<string, unknown> = {},
    /**
     * `replaceState`: the result replaces the whole state (no ResultPath field; aws-local-stepfunctions
     * mishandles an explicit `"ResultPath": "$"`).
     */
    options: { replaceState?: boolean; resultSelector?: Record<string, unknown>; scope?: Construct } = {},
  ): tasks.LambdaInvoke => {
    const t = new tasks.LambdaInvoke(options.scope ?? scope, name, {
      stateName: name,
      lambdaFunction: props.functionFor(STATE_STEP[name]),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ step: STATE_STEP[name], input, ...extra }),
      ...(options.replaceState ? {} : { resultPath: `$.results.${resultKey(name)}` }),
      ...(options.resultSelector ? { resultSelector: options.resultSelector } : {}),
    });
    t.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    states[name] = t;
    return t;
  };

  // ---- terminal states -------------------------------------------------------------------------------------
  const invalidInput = new sfn.Fail(scope, STATES.invalidInput, {
    stateName: STATES.invalidInput,
    comment: 'The execution input was rejected; nothing was changed.',
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const rolledBack = new sfn.Fail(scope, STATES.rolledBack, {
    stateName: STATES.rolledBack,
    comment: 'Failed before replication was stopped; the source accepts writes again.',
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const rollbackFailed = new sfn.Fail(scope, STATES.rollbackFailed, {
    stateName: STATES.rollbackFailed,
    comment: 'Rollback itself failed: the source may still refuse application writes. Act now.',
    error: 'ZdmRollbackFailed',
    causePath: '$.rollbackError.Cause',
  });
  const failedAfterStop = new sfn.Fail(scope, STATES.failedAfterReplicationStopped, {
    stateName: STATES.failedAfterReplicationStopped,
    comment: 'Failed at or after StopReplication: no automatic rollback; the operator decides.',
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const succeeded = new sfn.Succeed(scope, STATES.succeeded, { stateName: STATES.succeeded });
  Object.assign(states, {
    [STATES.invalidInput]: invalidInput,
    [STATES.rolledBack]: rolledBack,
    [STATES.rollbackFailed]: rollbackFailed,
    [STATES.failedAfterReplicationStopped]: failedAfterStop,
    [STATES.succeeded]: succeeded,
  });

  // ---- failure handlers ------------------------------------------------------------------------------------
  const rollback = task('Rollback', { error: sfn.JsonPath.objectAt('$.error') });
  // Restoring the source's writes matters more than anything: retry any error a few times, then stop loudly.
  rollback.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
  rollback.addCatch(rollbackFailed, { errors: [sfn.Errors.ALL], resultPath: '$.rollbackError' });
  rollback.next(rolledBack);

  const reportStopped = task('ReportStoppedFailure', { error: sfn.JsonPath.objectAt('$.error') });
  reportStopped.addCatch(failedAfterStop, { errors: [sfn.Errors.ALL], resultPath: '$.reportError' });
  reportStopped.next(failedAfterStop);

  const beforeStop = <T extends sfn.TaskStateBase | sfn.Map>(state: T): T => {
    state.addCatch(rollback, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    return state;
  };
  const afterStop = <T extends sfn.TaskStateBase | sfn.Map>(state: T): T => {
    state.addCatch(reportStopped, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    return state;
  };

  // ---- validation Map (pre / post) -------------------------------------------------------------------------
  const validation = (phase: 'preValidation' | 'postValidation'): [sfn.IChainable, sfn.INextable] => {
    const pre = phase === 'preValidation';
    const plan = task(pre ? 'PlanPreValidation' : 'PlanPostValidation', { phase });
    const mapName = pre ? STATES.preValidation : STATES.postValidation;
    const map = new sfn.Map(scope, mapName, {
      stateName: mapName,
      comment: `Checks every planned range of the ${phase} in parallel.`,
      itemsPath: `$.results.${resultKey(plan.id)}.items`,
      itemSelector: {
        range: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
        input,
      },
      maxConcurrency: props.validationMaxConcurrency,
      resultPath: `$.results.${resultKey(mapName)}`,
    });
    const rangeTask = task(
      pre ? 'PreValidateRange' : 'PostValidateRange',
      { phase, range: sfn.JsonPath.objectAt('$.range') },
      { replaceState: true, scope: map },
    );
    map.itemProcessor(rangeTask);
    states[mapName] = map;
    const aggregate = task(pre ? 'AggregatePreValidation' : 'AggregatePostValidation', {
      phase,
      plan: sfn.JsonPath.objectAt(`$.results.${resultKey(plan.id)}.plan`),
      rangeResults: sfn.JsonPath.listAt(`$.results.${resultKey(mapName)}`),
    });
    const guard = pre ? beforeStop : afterStop;
    guard(plan);
    guard(map);
    guard(aggregate);
    return [plan.next(map).next(aggregate), aggregate];
  };

  // ---- the happy path --------------------------------------------------------------------------------------
  // The raw execution input goes in as `input`; the validated input becomes `$.input` (and only that).
  // The state becomes { input: <validated> }: raw operator fields do not linger.
  const validateInput = task(
    'ValidateInput',
    { input: sfn.JsonPath.entirePayload },
    { resultSelector: { input: sfn.JsonPath.entirePayload }, replaceState: true },
  );
  validateInput.addCatch(invalidInput, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

  const preflight = beforeStop(task('Preflight'));
  const [preValidation, preValidationEnd] = validation('preValidation');

  const startWait = new sfn.Pass(scope, STATES.startWaitForSync, {
    stateName: STATES.startWaitForSync,
    comment: 'Drops the pre-validation plan and range results (state size) and seeds the lag-check counter.',
    parameters: {
      input,
      results: {
        [resultKey('Preflight')]: sfn.JsonPath.objectAt(`$.results.${resultKey('Preflight')}`),
        [resultKey('AggregatePreValidation')]: sfn.JsonPath.objectAt(
          `$.results.${resultKey('AggregatePreValidation')}`,
        ),
        [resultKey('CheckLag')]: { consecutive: 0 },
      },
    },
  });
  const checkLag = beforeStop(
    task('CheckLag', { previous: sfn.JsonPath.objectAt(`$.results.${resultKey('CheckLag')}`) }),
  );
  const wait = new sfn.Wait(scope, STATES.waitForSync, {
    stateName: STATES.waitForSync,
    time: sfn.WaitTime.duration(props.pollInterval),
  });
  const syncTimedOut = new sfn.Pass(scope, STATES.syncTimedOut, {
    stateName: STATES.syncTimedOut,
    comment: 'Gives up waiting for sync. Nothing has been changed; Rollback only notifies.',
    parameters: {
      Error: ERRORS.syncTimeout,
      Cause: sfn.JsonPath.format(
        'Replication lag did not stay at or under the threshold within {} seconds; nothing was changed. Last check: {}',
        sfn.JsonPath.stringAt('$.input.syncTimeoutSeconds'),
        sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(`$.results.${resultKey('CheckLag')}`)),
      ),
    },
    resultPath: '$.error',
  });
  syncTimedOut.next(rollback);

  const requestApproval = new tasks.LambdaInvoke(scope, 'RequestApproval', {
    stateName: 'RequestApproval',
    comment: 'Sends the approval notice and waits for SendTaskSuccess (approve) or SendTaskFailure (reject).',
    lambdaFunction: props.functionFor(STATE_STEP.RequestApproval),
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    retryOnServiceExceptions: false,
    payload: sfn.TaskInput.fromObject({ step: STATE_STEP.RequestApproval, input, taskToken: sfn.JsonPath.taskToken }),
    resultPath: `$.results.${resultKey('RequestApproval')}`,
    taskTimeout: sfn.Timeout.duration(props.approvalTimeout),
  });
  requestApproval.addRetry({
    errors: LAMBDA_SERVICE_ERRORS,
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
    jitterStrategy: sfn.JitterType.FULL,
  });
  beforeStop(requestApproval);
  states.RequestApproval = requestApproval;

  const freeze = beforeStop(task('FreezeWrites'));
  const finalSync = beforeStop(task('FinalSync'));
  const stop = afterStop(task('StopReplication'));
  const sequences = afterStop(task('SyncSequences'));
  const [postValidation, postValidationEnd] = validation('postValidation');
  // Like StartWaitForSync: drop the post-validation plan and item results before the last steps (state size).
  // Only results every path to here has are kept (RequestApproval's is optional, a missing path fails a Pass).
  const keep = (name: string): Record<string, string> => ({
    [`${resultKey(name)}.$`]: `$.results.${resultKey(name)}`,
  });
  const postValidated = new sfn.Pass(scope, STATES.postValidated, {
    stateName: STATES.postValidated,
    comment: 'Drops the post-validation plan and range results (state size) before SwitchTraffic.',
    parameters: {
      input,
      results: Object.assign(
        {},
        ...[
          'Preflight',
          'AggregatePreValidation',
          'CheckLag',
          'FreezeWrites',
          'FinalSync',
          'StopReplication',
          'SyncSequences',
          'AggregatePostValidation',
        ].map(keep),
      ),
    },
  });
  states[STATES.postValidated] = postValidated;
  const switchTraffic = afterStop(task('SwitchTraffic'));
  const complete = afterStop(task('Complete'));

  const isApprovalRequired = new sfn.Choice(scope, STATES.isApprovalRequired, {
    stateName: STATES.isApprovalRequired,
  })
    .when(sfn.Condition.booleanEquals('$.input.requireApproval', true), requestApproval.next(freeze))
    .otherwise(freeze);

  const isSynced = new sfn.Choice(scope, STATES.isSynced, { stateName: STATES.isSynced })
    .when(sfn.Condition.booleanEquals(`$.results.${resultKey('CheckLag')}.synced`, true), isApprovalRequired)
    .when(sfn.Condition.booleanEquals(`$.results.${resultKey('CheckLag')}.timedOut`, true), syncTimedOut)
    .otherwise(wait.next(checkLag));
  states[STATES.isSynced] = isSynced;
  states[STATES.isApprovalRequired] = isApprovalRequired;
  states[STATES.syncTimedOut] = syncTimedOut;
  states[STATES.waitForSync] = wait;
  states[STATES.startWaitForSync] = startWait;

  // One StopReplication invocation waits a bounded time (a DMS task takes minutes to stop): until it reports
  // `stopped` (or a dry run), wait and call it again; it fails by itself when the task never stops.
  const stopResult = `$.results.${resultKey('StopReplication')}`;
  const waitForStop = new sfn.Wait(scope, STATES.waitForStop, {
    stateName: STATES.waitForStop,
    time: sfn.WaitTime.duration(props.pollInterval),
  });
  const isStopped = new sfn.Choice(scope, STATES.isReplicationStopped, { stateName: STATES.isReplicationStopped })
    .when(
      sfn.Condition.or(
        sfn.Condition.and(
          sfn.Condition.isPresent(`${stopResult}.stopped`),
          sfn.Condition.booleanEquals(`${stopResult}.stopped`, true),
        ),
        sfn.Condition.and(
          sfn.Condition.isPresent(`${stopResult}.dryRun`),
          sfn.Condition.booleanEquals(`${stopResult}.dryRun`, true),
        ),
      ),
      sequences,
    )
    .otherwise(waitForStop.next(stop));
  states[STATES.isReplicationStopped] = isStopped;
  states[STATES.waitForStop] = waitForStop;

  freeze.next(finalSync).next(stop).next(isStopped);
  sequences.next(postValidation);
  postValidationEnd.next(postValidated).next(switchTraffic);
  switchTraffic.next(complete).next(succeeded);

  preflight.next(preValidation);
  preValidationEnd.next(startWait);
  startWait.next(checkLag).next(isSynced);

  const startState = validateInput.next(preflight);
  return { startState, states };
}
