/** The progress digest's schedule, function and permissions in the template. */
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { TASK_ARN, workflowStack } from './support';

type Statement = { Action: string | string[]; Resource: unknown };

function digestFunction(overrides: Parameters<typeof workflowStack>[0] = {}) {
  const { stack, workflow } = workflowStack(overrides);
  const template = Template.fromStack(stack);
  const fn = workflow.functions.digest as lambda.Function | undefined;
  if (!fn) return { template, workflow };
  const fnId = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  const policyId = stack.getLogicalId(fn.role!.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy);
  const statements = (
    template.findResources('AWS::IAM::Policy')[policyId].Properties as {
      PolicyDocument: { Statement: Statement[] };
    }
  ).PolicyDocument.Statement;
  const variables = (
    template.findResources('AWS::Lambda::Function')[fnId].Properties as {
      Environment: { Variables: Record<string, unknown> };
    }
  ).Environment.Variables;
  return { template, workflow, fnId, statements, variables };
}

const actions = (statements: Statement[]) =>
  statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();

test('hourly by default: an EventBridge schedule sends { step: "digest" } to the digest function', () => {
  const { template, workflow, fnId } = digestFunction();
  expect(workflow.digestRule).toBeDefined();
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(1 hour)',
    State: 'ENABLED',
    Targets: [
      Match.objectLike({
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Input: JSON.stringify({ step: 'digest' }),
        RetryPolicy: { MaximumRetryAttempts: 2 },
      }),
    ],
  });
  template.hasResourceProperties('AWS::Lambda::Permission', {
    Action: 'lambda:InvokeFunction',
    FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
    Principal: 'events.amazonaws.com',
  });
});

test('least privilege: DMS status and table statistics of the task, metrics, the topic; no state table, no secrets', () => {
  const { statements, variables } = digestFunction();
  expect(actions(statements!)).toEqual(
    [
      'cloudwatch:GetMetricData',
      'dms:DescribeReplicationTasks',
      'dms:DescribeTableStatistics',
      'sns:Publish',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ].sort(),
  );
  const tableStatistics = statements!.find((s) => actions([s]).includes('dms:DescribeTableStatistics'))!;
  expect(tableStatistics.Resource).toBe(TASK_ARN);
  expect(Object.keys(variables!).sort()).toEqual(
    [
      'ALLOWED_STEPS',
      'DEFAULTS_JSON',
      'NODE_OPTIONS',
      'REPLICATION_INSTANCE_ID',
      'REPLICATION_TASK_ARN',
      'REPLICATION_TASK_ID',
      'TOPIC_ARN',
    ].sort(),
  );
  expect(variables!.ALLOWED_STEPS).toBe('digest');
});

test("the digest function is not in the step functions' security group: the databases do not let it in", () => {
  const { workflow } = digestFunction();
  const groupsOf = (fn: lambda.IFunction) => fn.connections.securityGroups.map((g) => g.node.path);
  expect(groupsOf(workflow.functions.digest!)).toEqual(['Test/Cutover/DigestSecurityGroup']);
  for (const group of workflow.connections.securityGroups) {
    expect(groupsOf(workflow.functions.digest!)).not.toContain(group.node.path);
  }
  expect(groupsOf(workflow.functions.database!)).toEqual(workflow.connections.securityGroups.map((g) => g.node.path));
});

test('digestInterval sets the rate; digest: false leaves out the schedule and the function', () => {
  digestFunction({ digestInterval: Duration.minutes(15) }).template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(15 minutes)',
  });
  const off = digestFunction({ digest: false });
  expect(off.workflow.digestRule).toBeUndefined();
  expect(off.workflow.functions.digest).toBeUndefined();
  expect(
    Object.values(off.template.findResources('AWS::Events::Rule')).filter(
      (r) => (r.Properties as { ScheduleExpression?: string }).ScheduleExpression,
    ),
  ).toEqual([]);
});

test.each([
  [
    '90 seconds',
    { digestInterval: Duration.seconds(90) },
    'whole minutes from 1 minute to 1 day, got 1 minute 30 seconds',
  ],
  ['2 days', { digestInterval: Duration.days(2) }, 'whole minutes from 1 minute to 1 day, got 2 days'],
  [
    'an interval without a digest',
    { digest: false, digestInterval: Duration.hours(2) },
    'digestInterval is set but digest is false',
  ],
])('refuses %s', (_name, props, message) => {
  expect(() => workflowStack(props)).toThrow(message);
});
