import { Duration, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { REVERSE_ALARM_ARN, REVERSE_TASK_ARN, reverseReplicationBinding, workflowStack } from './support';

type Statement = { Action: string | string[]; Resource: unknown };

function statementsOf(stack: Stack, fn: lambda.IFunction): Statement[] {
  const roleId = stack.getLogicalId(fn.role!.node.defaultChild as never);
  return Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('the way back (reverse replication)', () => {
  const { stack, workflow } = workflowStack((s) => ({
    reverseReplication: reverseReplicationBinding(s),
    fallbackEndpoint: 'db.internal:5432',
  }));
  const template = Template.fromStack(stack);

  test('a second state machine, the fallback, with its own watchdog rule and failure alarm', () => {
    expect(workflow.fallbackStateMachine).toBeDefined();
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r.Properties.Targets ?? []).includes('\\"direction\\":\\"fallback\\"'),
    );
    expect(rules).toHaveLength(1);
    expect(JSON.stringify(rules[0].Properties.EventPattern)).toContain(
      stack.getLogicalId(workflow.fallbackStateMachine!.node.defaultChild as never),
    );
    expect(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm')).some((id) =>
        id.includes('FallbackExecutionFailed'),
      ),
    ).toBe(true);
  });

  test('only the reverse task may be started, by the functions whose steps start or stop it', () => {
    const starters = Object.entries(workflow.functions).filter(([, fn]) =>
      statementsOf(stack, fn).some((s) => actionsOf(s).includes('dms:StartReplicationTask')),
    );
    // StartReverse advances the slot on the target first: it runs on the database function.
    expect(starters.map(([role]) => role).sort()).toEqual(['database']);
    for (const [, fn] of starters) {
      const start = statementsOf(stack, fn).filter((s) => actionsOf(s).includes('dms:StartReplicationTask'));
      expect(start.map((s) => s.Resource)).toEqual([REVERSE_TASK_ARN]);
      const alarms = statementsOf(stack, fn).filter((s) => actionsOf(s).includes('cloudwatch:EnableAlarmActions'));
      expect(alarms.map((s) => s.Resource)).toEqual([REVERSE_ALARM_ARN]);
    }
  });

  test('the functions know the reverse task, its slot and where a fallback points the application', () => {
    const fn = workflow.functions.database!;
    const id = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
    const variables = template.findResources('AWS::Lambda::Function')[id].Properties.Environment.Variables;
    expect(variables).toMatchObject({
      REVERSE_REPLICATION_TASK_ARN: REVERSE_TASK_ARN,
      REVERSE_SLOT_NAME: 'zdm_reverse_0123456789abcdef',
      REVERSE_SLOT_PLUGIN: 'test_decoding',
    });
    expect(JSON.parse(String(variables.DEFAULTS_JSON))).toMatchObject({ fallbackTrafficTo: 'db.internal:5432' });
    // The watchdog drops the slot of a cutover that did not switch: it knows the slot, and may not start anything.
    const watchdog = workflow.functions.watchdog!;
    const watchdogId = stack.getLogicalId(watchdog.node.defaultChild as lambda.CfnFunction);
    expect(template.findResources('AWS::Lambda::Function')[watchdogId].Properties.Environment.Variables).toMatchObject({
      REVERSE_SLOT_NAME: 'zdm_reverse_0123456789abcdef',
    });
    expect(statementsOf(stack, watchdog).flatMap(actionsOf)).not.toContain('dms:StartReplicationTask');
  });

  test('grantStartFallback lets an operator start the fallback machine', () => {
    // a stack of its own: the shared one is synthesized already
    const own = workflowStack((s) => ({ reverseReplication: reverseReplicationBinding(s) }));
    const role = new iam.Role(own.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    own.workflow.grantStartFallback(role);
    const fallbackId = own.stack.getLogicalId(own.workflow.fallbackStateMachine!.node.defaultChild as never);
    const statements = Object.values(Template.fromStack(own.stack).findResources('AWS::IAM::Policy'))
      .filter((p) =>
        JSON.stringify(p.Properties.Roles).includes(own.stack.getLogicalId(role.node.defaultChild as never)),
      )
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const start = statements.find((s) => actionsOf(s).includes('states:StartExecution'));
    expect(JSON.stringify(start?.Resource)).toContain(fallbackId);
  });

  test('without a reverse replication: no fallback machine, and grantStartFallback says why', () => {
    const plain = workflowStack();
    expect(plain.workflow.fallbackStateMachine).toBeUndefined();
    const role = new iam.Role(plain.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => plain.workflow.grantStartFallback(role)).toThrow(/has no reverseReplication/);
  });
});

describe("the way back's watch: a schedule runs watchWayBack on the database function", () => {
  const scheduled = (template: Template) =>
    Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r.Properties.Targets ?? []).includes('watchWayBack'),
    );

  test('every minute by default, { step: "watchWayBack" } to the database function, which serves that step', () => {
    const { stack, workflow } = workflowStack((s) => ({ reverseReplication: reverseReplicationBinding(s) }));
    const template = Template.fromStack(stack);
    const database = workflow.functions.database!;
    const fnId = stack.getLogicalId(database.node.defaultChild as lambda.CfnFunction);
    expect(workflow.wayBackWatchRule).toBeDefined();
    expect(scheduled(template)).toHaveLength(1);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          Input: JSON.stringify({ step: 'watchWayBack' }),
          RetryPolicy: { MaximumRetryAttempts: 2 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [stack.getLogicalId(workflow.wayBackWatchRule!.node.defaultChild as never), 'Arn'] },
    });
    const variables = template.findResources('AWS::Lambda::Function')[fnId].Properties.Environment.Variables;
    expect(String(variables.ALLOWED_STEPS).split(',')).toContain('watchWayBack');
    // it reads the reverse task's status (account-level Describe) and the source's secret
    expect(statementsOf(stack, database).flatMap(actionsOf)).toEqual(
      expect.arrayContaining(['dms:DescribeReplicationTasks', 'secretsmanager:GetSecretValue', 'sns:Publish']),
    );
  });

  test('wayBackWatchInterval sets the rate', () => {
    const { stack } = workflowStack((s) => ({
      reverseReplication: reverseReplicationBinding(s),
      wayBackWatchInterval: Duration.minutes(5),
    }));
    const [rule] = scheduled(Template.fromStack(stack));
    expect(rule.Properties.ScheduleExpression).toBe('rate(5 minutes)');
  });

  test('without the way back: no watch schedule', () => {
    const { stack, workflow } = workflowStack();
    expect(workflow.wayBackWatchRule).toBeUndefined();
    expect(scheduled(Template.fromStack(stack))).toEqual([]);
  });

  test.each([
    [
      '90 seconds',
      Duration.seconds(90),
      'wayBackWatchInterval must be whole minutes from 1 minute to 1 day, got 1 minute 30 seconds',
    ],
    [
      '30 seconds',
      Duration.seconds(30),
      'wayBackWatchInterval must be whole minutes from 1 minute to 1 day, got 30 seconds',
    ],
    ['2 days', Duration.days(2), 'wayBackWatchInterval must be whole minutes from 1 minute to 1 day, got 2 days'],
  ])('refuses %s, naming the value', (_name, wayBackWatchInterval, message) => {
    expect(() =>
      workflowStack((s) => ({ reverseReplication: reverseReplicationBinding(s), wayBackWatchInterval })),
    ).toThrow(message);
  });

  test('refuses an interval without a way back', () => {
    expect(() => workflowStack({ wayBackWatchInterval: Duration.minutes(5) })).toThrow(
      'wayBackWatchInterval is set but reverseReplication is not: there is no way back to watch',
    );
  });
});
