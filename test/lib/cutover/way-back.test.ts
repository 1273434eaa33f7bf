import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
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
