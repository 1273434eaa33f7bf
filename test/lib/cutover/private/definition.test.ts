import { App, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { STATE_STEP, stepOfState } from '../../../../contract';
import { buildCutoverDefinition } from '../../../../lib/cutover/private/definition';

type StateJson = Record<string, unknown> & {
  Type: string;
  Next?: string;
  Default?: string;
  Choices?: Array<{ Next: string }>;
  Catch?: Array<{ ErrorEquals: string[]; ResultPath?: string; Next: string }>;
};

function build(options: { direction?: 'forward' | 'fallback'; wayBack?: boolean } = { wayBack: true }): {
  stack: Stack;
  states: Record<string, sfn.State>;
  graph: Record<string, StateJson>;
} {
  const stack = new Stack(new App(), 'S');
  const fn = lambda.Function.fromFunctionArn(stack, 'F', 'arn:aws:lambda:eu-west-1:123456789012:function:steps');
  const { startState, states } = buildCutoverDefinition(stack, {
    functionFor: () => fn,
    pollInterval: Duration.seconds(20),
    validationMaxConcurrency: 3,
    approvalTimeout: Duration.hours(2),
    ...options,
  });
  const graph = stack.resolve(new sfn.StateGraph(startState.startState, 'Cutover').toGraphJson()) as {
    States: Record<string, StateJson>;
  };
  return { stack, states, graph: graph.States };
}

// The cutover machine; with a way back (the reverse replication); the fallback machine.
const { stack, states, graph } = build({});
const wayBack = build({ wayBack: true });
const wayBackJson = (name: string): Record<string, unknown> =>
  wayBack.stack.resolve(wayBack.states[name].toStateJson());
const json = (name: string): Record<string, unknown> => stack.resolve(states[name].toStateJson());
const fallback = build({ direction: 'fallback', wayBack: true });
const fallbackJson = (name: string): Record<string, unknown> =>
  fallback.stack.resolve(fallback.states[name].toStateJson());

/** Where a state goes when it does not fail (Next, the Choice branches, Default); Catch edges are not followed. */
const successors = (name: string): string[] => {
  const s = graph[name];
  return [s.Next, s.Default, ...(s.Choices ?? []).map((c) => c.Next)].filter((n): n is string => Boolean(n));
};
const reachableFrom = (start: string): Set<string> => {
  const seen = new Set<string>();
  const todo = successors(start);
  while (todo.length > 0) {
    const next = todo.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    todo.push(...successors(next));
  }
  return seen;
};
/** States on the normal path before `state` (those from which it is reachable). */
const before = (state: string): string[] =>
  Object.keys(graph).filter((name) => name !== state && reachableFrom(name).has(state));
/** States that may fail into a Catch: Task and Map states. */
const canCatch = (name: string): boolean => ['Task', 'Map'].includes(graph[name].Type);

test('every Task state of STATE_STEP is in one of the two machines', () => {
  for (const name of Object.keys(STATE_STEP)) {
    expect([name, wayBack.states[name] ?? fallback.states[name]]).toEqual([name, expect.anything()]);
  }
});

test('with a way back: prepared before the freeze, armed inside it before the switch, started after the forward stop, closed on demand', () => {
  // the slot is created before the freeze: every way into FreezeWrites passes PrepareReverse
  expect(wayBackJson('PrepareReverse')).toMatchObject({
    Parameters: { step: 'prepareReverse' },
    Next: 'FreezeWrites',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
  });
  const intoFreeze = Object.entries(wayBack.graph)
    .filter(([, state]) => JSON.stringify(state).includes('"FreezeWrites"'))
    .map(([name]) => name);
  expect(intoFreeze).toEqual(['PrepareReverse']);
  expect(wayBackJson('SyncSequences')).toMatchObject({ Next: 'ArmReverse' });
  expect(wayBackJson('ArmReverse')).toMatchObject({
    Parameters: { step: 'armReverse' },
    Next: 'SwitchTraffic',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
  });
  // late writes are read before the way back opens: a reverse task must not start over changes the target lacks
  expect((wayBackJson('IsReplicationStopped') as { Choices: { Next: string }[] }).Choices[0].Next).toBe(
    'CheckLateWrites',
  );
  expect(wayBackJson('CheckLateWrites')).toMatchObject({ Next: 'StartReverse' });
  expect(wayBackJson('StartReverse')).toMatchObject({
    Parameters: { step: 'startReverse' },
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReportFailureAfterSwitch' }],
  });
  expect(wayBackJson('IsRevertReads')).toMatchObject({ Default: 'IsEndFallbackWindow' });
  expect(wayBackJson('IsEndFallbackWindow')).toEqual({
    Type: 'Choice',
    Choices: [{ Variable: '$.input.action', StringEquals: 'end-fallback-window', Next: 'EndFallbackWindow' }],
    Default: 'Preflight',
  });
  expect(wayBackJson('EndFallbackWindow')).toMatchObject({
    Parameters: { step: 'endFallbackWindow' },
    Next: 'FallbackWindowEnded',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'EndFallbackWindowFailed' }],
  });
  // without one, none of it
  for (const name of ['PrepareReverse', 'ArmReverse', 'StartReverse', 'IsEndFallbackWindow', 'EndFallbackWindow']) {
    expect(states[name]).toBeUndefined();
  }
});

test('the fallback: the same steps the other way; reopen the source before its switch, reads back after, close the way back', () => {
  expect(fallbackJson('ValidateInput')).toMatchObject({
    Parameters: { step: 'validateInput', direction: 'fallback' },
    Next: 'Preflight',
  });
  expect(fallbackJson('SyncSequences')).toMatchObject({ Next: 'ReopenSource' });
  expect(fallbackJson('ReopenSource')).toMatchObject({
    Parameters: { step: 'reopenSource' },
    Next: 'SwitchTraffic',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
  });
  expect(fallbackJson('SwitchTraffic')).toMatchObject({ Next: 'FallBackReads' });
  expect(fallbackJson('FallBackReads')).toMatchObject({
    Parameters: { step: 'revertReads' },
    Next: 'StopReplication',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReportFailureAfterSwitch' }],
  });
  expect((fallbackJson('IsReplicationStopped') as { Choices: { Next: string }[] }).Choices[0].Next).toBe(
    'CheckLateWrites',
  );
  expect(fallbackJson('DropTracking')).toMatchObject({ Next: 'CloseWayBack' });
  expect(fallbackJson('CloseWayBack')).toMatchObject({ Parameters: { step: 'endFallbackWindow' }, Next: 'Complete' });
  expect(fallbackJson('Complete')).toMatchObject({ Next: 'FallbackSucceeded' });
  // no read-first switch, no way back of its own, no operator-only actions
  for (const name of ['SwitchReads', 'ArmReverse', 'StartReverse', 'IsRevertReads', 'EndFallbackWindow']) {
    expect(fallback.states[name]).toBeUndefined();
  }
});

test('the old stop-first failure states are gone', () => {
  for (const name of ['ReportStoppedFailure', 'FailedAfterReplicationStopped']) expect(graph[name]).toBeUndefined();
});

test('IsSynced: synced → the read switch, timedOut → SyncTimedOut, else wait', () => {
  expect(json('IsSynced')).toEqual({
    Type: 'Choice',
    Choices: [
      { Variable: '$.results.checkLag.synced', BooleanEquals: true, Next: 'SwitchReads' },
      { Variable: '$.results.checkLag.timedOut', BooleanEquals: true, Next: 'SyncTimedOut' },
    ],
    Default: 'WaitBeforeNextLagCheck',
  });
  expect(json('WaitBeforeNextLagCheck')).toEqual({ Type: 'Wait', Seconds: 20, Next: 'CheckLag' });
});

test('the read-first switch: after the sync gate, before the approval gate; switch-reads ends there; revert-reads alone', () => {
  expect(json('SwitchReads')).toMatchObject({
    Parameters: { step: 'switchReads', 'input.$': '$.input' },
    Next: 'IsReadSwitchOnly',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
  });
  expect(json('IsReadSwitchOnly')).toEqual({
    Type: 'Choice',
    Choices: [{ Variable: '$.input.action', StringEquals: 'switch-reads', Next: 'FinishReadSwitch' }],
    Default: 'IsApprovalRequired',
  });
  expect(json('FinishReadSwitch')).toMatchObject({
    Parameters: { step: 'finishReadSwitch' },
    Next: 'ReadsSwitched',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
  });
  expect(json('ReadsSwitched')).toMatchObject({ Type: 'Succeed' });
  expect(json('ValidateInput')).toMatchObject({ Next: 'IsRevertReads' });
  expect(json('IsRevertReads')).toEqual({
    Type: 'Choice',
    Choices: [{ Variable: '$.input.action', StringEquals: 'revert-reads', Next: 'RevertReads' }],
    Default: 'Preflight',
  });
  expect(json('RevertReads')).toMatchObject({
    Parameters: { step: 'revertReads' },
    Next: 'ReadsReverted',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RevertReadsFailed' }],
  });
  expect(json('RevertReadsFailed')).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error' });
});

test('StartWaitForSync seeds the lag-check counters and keeps only the results before it', () => {
  expect(json('AggregatePreValidation')).toMatchObject({ Next: 'StartWaitForSync' });
  expect(json('StartWaitForSync')).toMatchObject({
    Type: 'Pass',
    Next: 'CheckLag',
    Parameters: {
      'input.$': '$.input',
      results: {
        'preflight.$': '$.results.preflight',
        'startTracking.$': '$.results.startTracking',
        'aggregatePreValidation.$': '$.results.aggregatePreValidation',
        checkLag: { consecutive: 0, iterations: 0 },
      },
    },
  });
  const results = (json('StartWaitForSync').Parameters as { results: Record<string, unknown> }).results;
  expect(Object.keys(results)).not.toContain('planPreValidation.$');
  expect(Object.keys(results)).not.toContain('preValidation.$');
});

test('CheckLag sends the previous counters and keeps the input', () => {
  expect(json('CheckLag')).toMatchObject({
    Type: 'Task',
    Resource: 'arn:aws:lambda:eu-west-1:123456789012:function:steps',
    Parameters: {
      step: 'checkLag',
      'input.$': '$.input',
      previous: {
        'consecutive.$': '$.results.checkLag.consecutive',
        'iterations.$': '$.results.checkLag.iterations',
      },
    },
    ResultPath: '$.results.checkLag',
    Next: 'IsSynced',
  });
});

test('SyncTimedOut records ZdmSyncTimeout as $.error and rolls back', () => {
  expect(json('SyncTimedOut')).toMatchObject({
    Type: 'Pass',
    ResultPath: '$.error',
    Parameters: { Error: 'ZdmSyncTimeout', 'Cause.$': expect.stringContaining('$.results.checkLag') },
    Next: 'Rollback',
  });
});

test('the critical path: StartTracking before pre-validation; FreezeWrites → FinalSync → ProveChanges → SyncSequences → SwitchTraffic → StopReplication', () => {
  expect(graph.Preflight.Next).toBe('StartTracking');
  expect(graph.StartTracking.Next).toBe('PlanPreValidation');
  const order = ['FreezeWrites', 'FinalSync', 'ProveChanges', 'SyncSequences', 'SwitchTraffic', 'StopReplication'];
  expect(order.slice(0, -1).map((name) => [name, graph[name].Next])).toEqual(
    order.slice(0, -1).map((name, i) => [name, order[i + 1]]),
  );
  expect(json('ProveChanges')).toMatchObject({ Parameters: { step: 'proveChanges' } });
});

test('inside the freeze (FreezeWrites to SwitchTraffic): no validation Map, no range validation, no Wait', () => {
  const inFreeze = ['FreezeWrites', ...reachableFrom('FreezeWrites')].filter(
    (name) => name === 'SwitchTraffic' || reachableFrom(name).has('SwitchTraffic'),
  );
  expect(inFreeze.sort()).toEqual(['FinalSync', 'FreezeWrites', 'ProveChanges', 'SwitchTraffic', 'SyncSequences']);
  for (const name of inFreeze) {
    expect([name, graph[name].Type]).toEqual([name, 'Task']);
    expect(['planValidation', 'validateRange', 'aggregateValidation']).not.toContain(stepOfState(name));
  }
  // the validation Maps: before the freeze, and (optionally) after the switch
  expect(before('FreezeWrites')).toContain('PreValidation');
  expect(reachableFrom('SwitchTraffic').has('PostValidation')).toBe(true);
});

test('every state up to and including SwitchTraffic catches everything into Rollback', () => {
  const guarded = [...before('SwitchTraffic'), 'SwitchTraffic'].filter((n) => canCatch(n) && n !== 'ValidateInput');
  expect(guarded.sort()).toEqual(
    [
      'Preflight',
      'StartTracking',
      'PlanPreValidation',
      'PreValidation',
      'AggregatePreValidation',
      'CheckLag',
      'SwitchReads',
      'RequestApproval',
      'FreezeWrites',
      'FinalSync',
      'ProveChanges',
      'SyncSequences',
      'SwitchTraffic',
    ].sort(),
  );
  for (const name of guarded) {
    expect([name, graph[name].Catch]).toEqual([
      name,
      [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
    ]);
  }
  // nothing was validated yet: an input error ends the execution without a rollback
  expect(json('ValidateInput').Catch).toEqual([
    { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'InvalidInput' },
  ]);
});

test('every state after SwitchTraffic catches everything into ReportFailureAfterSwitch', () => {
  const guarded = [...reachableFrom('SwitchTraffic')].filter(canCatch);
  expect(guarded.sort()).toEqual(
    [
      'StopReplication',
      'CheckLateWrites',
      'PlanPostValidation',
      'PostValidation',
      'AggregatePostValidation',
      'DropTracking',
      'Complete',
    ].sort(),
  );
  for (const name of guarded) {
    expect([name, graph[name].Catch]).toEqual([
      name,
      [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReportFailureAfterSwitch' }],
    ]);
  }
  // no state after the switch leads to Rollback, by its Catch or otherwise
  expect(reachableFrom('SwitchTraffic').has('Rollback')).toBe(false);
  for (const name of reachableFrom('SwitchTraffic')) {
    expect([name, (graph[name].Catch ?? []).map((c) => c.Next)]).not.toEqual([
      name,
      expect.arrayContaining(['Rollback']),
    ]);
  }
});

test('the failure handlers: Rollback → RollbackReads → RolledBack (RollbackFailed if it fails), ReportFailureAfterSwitch → FailedAfterSwitch', () => {
  expect(json('Rollback')).toMatchObject({
    Parameters: { step: 'rollback', 'input.$': '$.input', 'error.$': '$.error' },
    Next: 'RollbackReads',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.rollbackError', Next: 'RollbackFailed' }],
  });
  // the writes are restored first; a read path that cannot go back still ends in RolledBack (its step notified)
  expect(json('RollbackReads')).toMatchObject({
    Parameters: { step: 'revertReads', 'input.$': '$.input' },
    Next: 'RolledBack',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.readsError', Next: 'RolledBack' }],
  });
  // restoring the source matters most: any error is retried before RollbackFailed
  expect(json('Rollback').Retry).toContainEqual(expect.objectContaining({ ErrorEquals: ['States.ALL'] }));
  expect(json('RolledBack')).toEqual({
    Type: 'Fail',
    Comment: expect.any(String),
    ErrorPath: '$.error.Error',
    CausePath: '$.error.Cause',
  });
  expect(json('RollbackFailed')).toMatchObject({ Type: 'Fail', Error: 'ZdmRollbackFailed' });
  expect(json('ReportFailureAfterSwitch')).toMatchObject({
    Parameters: { step: 'reportFailureAfterSwitch', 'input.$': '$.input', 'error.$': '$.error' },
    Next: 'IsLateWrites',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.reportError', Next: 'FailedAfterSwitch' }],
  });
  // late writes end in a state of their own: the console says what happened without opening the error
  expect(json('IsLateWrites')).toEqual({
    Type: 'Choice',
    Choices: [{ Variable: '$.error.Error', StringEquals: 'ZdmLateWrites', Next: 'LateWritesFound' }],
    Default: 'FailedAfterSwitch',
  });
  expect(json('LateWritesFound')).toMatchObject({
    Type: 'Fail',
    ErrorPath: '$.error.Error',
    CausePath: '$.error.Cause',
  });
  expect(json('FailedAfterSwitch')).toEqual({
    Type: 'Fail',
    Comment: expect.any(String),
    ErrorPath: '$.error.Error',
    CausePath: '$.error.Cause',
  });
});

test('IsReplicationStopped: stopped or dry run → CheckLateWrites, else wait and stop again', () => {
  const flag = (field: string): unknown => ({
    And: [
      { Variable: `$.results.stopReplication.${field}`, IsPresent: true },
      { Variable: `$.results.stopReplication.${field}`, BooleanEquals: true },
    ],
  });
  expect(json('StopReplication')).toMatchObject({ Next: 'IsReplicationStopped' });
  expect(json('IsReplicationStopped')).toEqual({
    Type: 'Choice',
    Choices: [{ Or: [flag('stopped'), flag('dryRun')], Next: 'CheckLateWrites' }],
    Default: 'WaitBeforeNextStopCheck',
  });
  expect(json('WaitBeforeNextStopCheck')).toEqual({ Type: 'Wait', Seconds: 20, Next: 'StopReplication' });
});

test('IsFullValidationRequested: fullValidationAfterSwitch → post-validation, else straight to DropTracking', () => {
  expect(json('CheckLateWrites')).toMatchObject({ Next: 'IsFullValidationRequested' });
  expect(json('IsFullValidationRequested')).toEqual({
    Type: 'Choice',
    Choices: [{ Variable: '$.input.fullValidationAfterSwitch', BooleanEquals: true, Next: 'PlanPostValidation' }],
    Default: 'DropTracking',
  });
  expect(json('DropTracking')).toMatchObject({ Next: 'Complete' });
  expect(json('Complete')).toMatchObject({ Next: 'CutoverSucceeded' });
});

test('retries Lambda service errors, CheckLag a database error once more, never Zdm* errors', () => {
  for (const name of Object.keys(STATE_STEP).filter((n) => n !== 'Rollback')) {
    const retry = (wayBack.states[name] ? wayBackJson(name) : fallbackJson(name)).Retry as Array<{
      ErrorEquals: string[];
      MaxAttempts?: number;
    }>;
    expect(retry).toHaveLength(name === 'CheckLag' ? 2 : 1);
    for (const e of retry[0].ErrorEquals) expect(e).toMatch(/^Lambda\./);
    if (name === 'CheckLag')
      expect(retry[1]).toMatchObject({ ErrorEquals: ['error', 'ConnectionLostError'], MaxAttempts: 2 });
    for (const r of retry) for (const e of r.ErrorEquals) expect(e).not.toMatch(/^Zdm|States\.ALL/);
  }
});

test('the validation Map: one range per item, input passed along, MaxConcurrency', () => {
  expect(json('PreValidation')).toMatchObject({
    Type: 'Map',
    ItemsPath: '$.results.planPreValidation.items',
    ItemSelector: { 'range.$': '$$.Map.Item.Value', 'input.$': '$.input' },
    MaxConcurrency: 3,
    ResultPath: '$.results.preValidation',
    ItemProcessor: {
      StartAt: 'PreValidateRange',
      States: {
        PreValidateRange: {
          Parameters: { step: 'validateRange', 'input.$': '$.input', 'range.$': '$.range', phase: 'preValidation' },
        },
      },
    },
  });
  expect(json('AggregatePreValidation')).toMatchObject({
    Parameters: {
      step: 'aggregateValidation',
      phase: 'preValidation',
      'plan.$': '$.results.planPreValidation.plan',
      'rangeResults.$': '$.results.preValidation',
    },
  });
});

test('RequestApproval waits for a task token and times out', () => {
  expect(json('RequestApproval')).toMatchObject({
    Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:::lambda:invoke.waitForTaskToken']] },
    Parameters: { Payload: { step: 'requestApproval', 'input.$': '$.input', 'taskToken.$': '$$.Task.Token' } },
    TimeoutSeconds: 7200,
  });
  expect(json('IsApprovalRequired')).toMatchObject({
    Choices: [{ Variable: '$.input.requireApproval', BooleanEquals: true, Next: 'RequestApproval' }],
    Default: 'FreezeWrites',
  });
});

test('ReceiveInput wraps the raw execution input; ValidateInput sends it and keeps only the validated input', () => {
  expect(json('ReceiveInput')).toMatchObject({ Type: 'Pass', Parameters: { 'raw.$': '$' }, Next: 'ValidateInput' });
  expect(json('ValidateInput')).toMatchObject({
    Parameters: { step: 'validateInput', 'input.$': '$.raw' },
    ResultSelector: { 'input.$': '$' },
  });
  expect(json('ValidateInput').ResultPath).toBeUndefined();
});

test('PostValidated drops the post-validation plan and item results before DropTracking (state size)', () => {
  expect(json('AggregatePostValidation')).toMatchObject({ Next: 'PostValidated' });
  const pass = json('PostValidated');
  expect(pass).toMatchObject({ Type: 'Pass', Next: 'DropTracking', Parameters: { 'input.$': '$.input' } });
  const kept = Object.keys((pass.Parameters as { results: Record<string, string> }).results);
  expect(kept).toEqual(
    expect.arrayContaining(['aggregatePostValidation.$', 'proveChanges.$', 'switchTraffic.$', 'checkLateWrites.$']),
  );
  expect(kept).not.toContain('planPostValidation.$');
  expect(kept).not.toContain('postValidation.$');
  expect(kept).not.toContain('requestApproval.$'); // optional: a missing path would fail the Pass state
});
