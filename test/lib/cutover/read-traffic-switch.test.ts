import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { TrafficSwitchTarget } from '../../../lib/cutover/traffic-switch';
import { ZeroDowntimeMigration } from '../../../lib';
import { TABLES, testEnv } from '../helpers';
import { workflowStack } from './support';

type Statement = { Action: string | string[]; Resource: unknown };

function variablesOf(stack: Stack, fn: lambda.IFunction): Record<string, unknown> {
  const id = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  return Template.fromStack(stack).findResources('AWS::Lambda::Function')[id].Properties.Environment.Variables;
}

/** Actions granted to `fn`'s role, with their resources as JSON text. */
function grantsOf(stack: Stack, fn: lambda.IFunction): Array<{ action: string; resource: string }> {
  const roleId = stack.getLogicalId(fn.role!.node.defaultChild as never);
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).filter((p) =>
    JSON.stringify(p.Properties.Roles).includes(roleId),
  );
  return policies.flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) =>
      (Array.isArray(s.Action) ? s.Action : [s.Action]).map((action) => ({
        action,
        resource: JSON.stringify(s.Resource),
      })),
    ),
  );
}

const defaultsOf = (stack: Stack, fn: lambda.IFunction): Record<string, unknown> =>
  JSON.parse(String(variablesOf(stack, fn).DEFAULTS_JSON)) as Record<string, unknown>;

describe('read traffic switch', () => {
  test('alone: a traffic function that may change exactly the read parameter, and the read endpoint as default', () => {
    const { stack, workflow } = workflowStack((s) => ({
      readTrafficSwitch: TrafficSwitchTarget.ssmParameter(
        ssm.StringParameter.fromStringParameterName(s, 'ReadHost', '/app/db-read-host'),
      ),
      readEndpoint: 'orders.cluster-ro-abc.eu-west-1.rds.amazonaws.com',
    }));
    const traffic = workflow.functions.traffic!;
    expect(variablesOf(stack, traffic)).toMatchObject({
      ALLOWED_STEPS: 'switchReads,revertReads,switchTraffic',
      READ_TRAFFIC_SWITCH_KIND: 'ssm-parameter',
      READ_TRAFFIC_SWITCH_TARGET: '/app/db-read-host',
      TRAFFIC_SWITCH_KIND: 'none',
    });
    const puts = grantsOf(stack, traffic).filter((g) => g.action === 'ssm:PutParameter');
    expect(puts).toHaveLength(1);
    expect(puts[0].resource).toContain(':parameter/app/db-read-host');
    // no other function may move the reads, but the watchdog (it points back the reads an aborted execution moved)
    for (const role of ['database', 'replication']) {
      expect(grantsOf(stack, workflow.functions[role]!).map((g) => g.action)).not.toContain('ssm:PutParameter');
    }
    expect(grantsOf(stack, workflow.functions.watchdog!).filter((g) => g.action === 'ssm:PutParameter')).toEqual([
      { action: 'ssm:PutParameter', resource: expect.stringContaining(':parameter/app/db-read-host') },
    ]);
    // validateInput (database function) knows a read switch exists and where reads go by default
    expect(defaultsOf(stack, workflow.functions.database!)).toMatchObject({
      readTrafficSwitch: true,
      switchReadsTo: 'orders.cluster-ro-abc.eu-west-1.rds.amazonaws.com',
    });
  });

  test('with the write switch: each path has its own variables and grants', () => {
    const { stack, workflow } = workflowStack((s) => ({
      trafficSwitch: TrafficSwitchTarget.ssmParameter(
        ssm.StringParameter.fromStringParameterName(s, 'WriteHost', '/app/db-host'),
      ),
      readTrafficSwitch: TrafficSwitchTarget.secret(
        secretsmanager.Secret.fromSecretCompleteArn(
          s,
          'ReadSecret',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-read-AbCdEf',
        ),
      ),
    }));
    const traffic = workflow.functions.traffic!;
    expect(variablesOf(stack, traffic)).toMatchObject({
      TRAFFIC_SWITCH_KIND: 'ssm-parameter',
      TRAFFIC_SWITCH_TARGET: '/app/db-host',
      READ_TRAFFIC_SWITCH_KIND: 'secret',
      READ_TRAFFIC_SWITCH_TARGET: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-read-AbCdEf',
    });
    const grants = grantsOf(stack, traffic);
    expect(grants.filter((g) => g.action === 'secretsmanager:PutSecretValue').map((g) => g.resource)).toEqual([
      expect.stringContaining('app-read-AbCdEf'),
    ]);
    expect(grants.filter((g) => g.action === 'ssm:PutParameter').map((g) => g.resource)).toEqual([
      expect.stringContaining(':parameter/app/db-host'),
    ]);
    // no read endpoint given: each execution names it (switchReadsTo), none is made up
    expect(defaultsOf(stack, workflow.functions.database!)).not.toHaveProperty('switchReadsTo');
  });

  test('without one, validateInput is told so (switch-reads is refused there)', () => {
    const { stack, workflow } = workflowStack();
    expect(defaultsOf(stack, workflow.functions.database!)).toMatchObject({ readTrafficSwitch: false });
    expect(variablesOf(stack, workflow.functions.database!)).toMatchObject({ READ_TRAFFIC_SWITCH_KIND: 'none' });
  });

  test('a read endpoint without a read switch, or one with spaces, is refused naming it', () => {
    expect(() => workflowStack({ readEndpoint: 'reader.example.com' })).toThrow(
      /readEndpoint is set but readTrafficSwitch is not/,
    );
    expect(() =>
      workflowStack((s) => ({
        readTrafficSwitch: TrafficSwitchTarget.ssmParameter(
          ssm.StringParameter.fromStringParameterName(s, 'R', '/app/r'),
        ),
        readEndpoint: 'two words',
      })),
    ).toThrow(/readEndpoint must be a host name without spaces, got "two words"/);
  });

  test("in a ZeroDowntimeMigration the reads go to the Aurora cluster's reader endpoint by default", () => {
    const env = testEnv();
    const migration = new ZeroDowntimeMigration(env.stack, 'Migration', {
      vpc: env.vpc,
      source: { databaseName: 'orders', secret: env.sourceSecret },
      tables: TABLES,
      cutover: {
        applicationRoles: ['app'],
        readTrafficSwitch: TrafficSwitchTarget.ssmParameter(
          ssm.StringParameter.fromStringParameterName(env.stack, 'ReadHost', '/app/db-read-host'),
        ),
      },
    });
    const defaults = JSON.stringify(variablesOf(env.stack, migration.cutover.functions.database!).DEFAULTS_JSON);
    const clusterId = env.stack.getLogicalId(migration.target.cluster.node.defaultChild as never);
    expect(defaults).toContain('switchReadsTo');
    expect(defaults).toContain(clusterId);
    expect(defaults).toContain('ReadEndpoint.Address');
  });
});
