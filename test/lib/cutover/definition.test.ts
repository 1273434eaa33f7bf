import { App, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { STATE_STEP } from '../../../contract';
import { buildCutoverDefinition } from '../../../lib/cutover/private/definition';

function build(): { stack: Stack; states: Record<string, sfn.State> } {
  const stack = new Stack(new App(), 'S');
  const fn = lambda.Function.fromFunctionArn(stack, 'F', 'arn:aws:lambda:eu-west-1:123456789012:function:steps');
  const { states } = buildCutoverDefinition(stack, {
    functionFor: () => fn,
    pollInterval: Duration.seconds(20),
    validationMaxConcurrency: 3,
    approvalTimeout: Duration.hours(2),
  });
  return { stack, states };
}

const { stack, states } = build();
const json = (name: string): Record<string, unknown> => stack.resolve(states[name].toStateJson());

test('every Task state of STATE_STEP is in the definition', () => {
  for (const name of Object.keys(STATE_STEP)) expect(states[name]).toBeDefined();
});

test('IsSynced: synced → approval choice, timedOut → SyncTimedOut, else wait', () => {
  expect(json('IsSynced')).toEqual({
    Type: 'Choice',
    Choices: [
      { Variable: '$.results.checkLag.synced', BooleanEquals: true, Next: 'IsApprovalRequired' },
      { Variable: '$.results.checkLag.timedOut', BooleanEquals: true, Next: 'SyncTimedOut' },
    ],
    Default: 'WaitBeforeNextLagCheck',
  });
  expect(json('WaitBeforeNextLagCheck')).toEqual({ Type: 'Wait', Seconds: 20, Next: 'CheckLag' });
});

test('CheckLag sends the previous result and keeps the input', () => {
  expect(json('CheckLag')).toMatchObject({
    Type: 'Task',
    Resource: 'arn:aws:lambda:eu-west-1:123456789012:function:steps',
    Parameters: { step: 'checkLag', 'input.$': '$.input', 'previous.$': '$.results.checkLag' },
    ResultPath: '$.results.checkLag',
    Next: 'IsSynced',
  });
});

test('states before StopReplication catch everything into Rollback; from StopReplication on into ReportStoppedFailure', () => {
  for (const name of [
    'Preflight',
    'PlanPreValidation',
    'PreValidation',
    'AggregatePreValidation',
    'CheckLag',
    'RequestApproval',
    'FreezeWrites',
    'FinalSync',
  ]) {
    expect([name, json(name).Catch]).toEqual([
      name,
      [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
    ]);
  }
  for (const name of [
    'StopReplication',
    'SyncSequences',
    'PlanPostValidation',
    'PostValidation',
    'AggregatePostValidation',
    'SwitchTraffic',
    'Complete',
  ]) {
    expect([name, json(name).Catch]).toEqual([
      name,
      [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReportStoppedFailure' }],
    ]);
  }
  expect(json('ValidateInput').Catch).toEqual([
    { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'InvalidInput' },
  ]);
  expect(json('Rollback')).toMatchObject({ Next: 'RolledBack', Catch: [{ Next: 'RollbackFailed' }] });
  expect(json('RolledBack')).toEqual({
    Type: 'Fail',
    Comment: expect.any(String),
    ErrorPath: '$.error.Error',
    CausePath: '$.error.Cause',
  });
  expect(json('ReportStoppedFailure')).toMatchObject({ Next: 'FailedAfterReplicationStopped' });
});

test('retries Lambda service errors only, never Zdm* errors', () => {
  for (const name of Object.keys(STATE_STEP).filter((n) => n !== 'Rollback')) {
    const retry = json(name).Retry as Array<{ ErrorEquals: string[] }>;
    expect(retry).toHaveLength(1);
    for (const e of retry[0].ErrorEquals) expect(e).toMatch(/^Lambda\./);
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

test('ValidateInput sends the raw execution input and keeps only the validated input', () => {
  expect(json('ValidateInput')).toMatchObject({
    Parameters: { step: 'validateInput', 'input.$': '$' },
    ResultSelector: { 'input.$': '$' },
  });
  expect(json('ValidateInput').ResultPath).toBeUndefined();
});

test('PostValidated drops the post-validation plan and item results before SwitchTraffic (state size)', () => {
  expect(json('AggregatePostValidation')).toMatchObject({ Next: 'PostValidated' });
  const pass = json('PostValidated');
  expect(pass).toMatchObject({ Type: 'Pass', Next: 'SwitchTraffic', Parameters: { 'input.$': '$.input' } });
  const kept = Object.keys((pass.Parameters as { results: Record<string, string> }).results);
  expect(kept).toContain('aggregatePostValidation.$');
  expect(kept).not.toContain('planPostValidation.$');
  expect(kept).not.toContain('postValidation.$');
  expect(kept).not.toContain('requestApproval.$'); // optional: a missing path would fail the Pass state
});
