import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { LayerVersion } from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { CutoverWorkflowProps } from '../../../lib/cutover/cutover-workflow';
import { TrafficSwitchTarget } from '../../../lib/cutover/traffic-switch';
import { SslMode } from '../../../lib/replication/dms-replication';
import { TASK_ARN, workflowStack } from './support';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function statementsOf(template: Template): Array<Statement & { policy: string }> {
  const out: Array<Statement & { policy: string }> = [];
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    for (const st of (res as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
      .Statement) {
      out.push({ ...st, policy: id });
    }
  }
  return out;
}

const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** The `*_DB_SSL_*` variables of `fn`. */
function databaseTlsVariables(template: Template, fn: lambda.IFunction): Record<string, string> {
  const id = Stack.of(fn).getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  const variables = (
    template.findResources('AWS::Lambda::Function')[id] as {
      Properties: { Environment: { Variables: Record<string, string> } };
    }
  ).Properties.Environment.Variables;
  return Object.fromEntries(Object.entries(variables).filter(([name]) => /_DB_SSL_/.test(name)));
}

describe('CutoverWorkflow resources', () => {
  const { stack, workflow } = workflowStack();
  const template = Template.fromStack(stack);
  const policyOf = (fn: lambda.IFunction): string =>
    stack.getLogicalId(fn.role!.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy);

  test('a Standard state machine with logging ALL, tracing and a timeout', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    const definition = JSON.stringify(
      stack.resolve((workflow.stateMachine.node.defaultChild as sfn.CfnStateMachine).definitionString),
    );
    expect(definition).toContain('\\"TimeoutSeconds\\":172800');
  });

  test('the state table: migrationId key, encrypted, point-in-time recovery, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: 'migrationId', KeyType: 'HASH' }],
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('Node 24 functions in the VPC with X-Ray and their ALLOWED_STEPS', () => {
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { ALLOWED_STEPS: Match.anyValue() } } },
    });
    const allowed = Object.values(fns).map(
      (f) =>
        (f as { Properties: { Environment: { Variables: { ALLOWED_STEPS: string } } } }).Properties.Environment
          .Variables.ALLOWED_STEPS,
    );
    expect(allowed.sort()).toEqual([
      'digest',
      'stopReplication,reportFailureAfterSwitch',
      'validateInput,preflight,startTracking,planValidation,validateRange,aggregateValidation,checkLag,finishReadSwitch,requestApproval,freezeWrites,finalSync,proveChanges,syncSequences,prepareReverse,armReverse,reopenSource,startReverse,endFallbackWindow,checkLateWrites,dropTracking,complete,rollback,watchWayBack,switchReads,revertReads,switchTraffic',
      'watchdog',
    ]);
    for (const f of Object.values(fns)) {
      expect(f).toMatchObject({
        Properties: {
          Runtime: 'nodejs24.x',
          TracingConfig: { Mode: 'Active' },
          VpcConfig: { SubnetIds: expect.any(Array), SecurityGroupIds: expect.any(Array) },
        },
      });
    }
    expect(Object.keys(workflow.functions).sort()).toEqual(['database', 'digest', 'replication', 'watchdog']);
  });

  test('least privilege: no Resource "*" except GetMetricData, DescribeReplicationTasks, X-Ray and log delivery', () => {
    const allowedStar =
      /^(dms:DescribeReplicationTasks|cloudwatch:GetMetricData|xray:.*|logs:(Create|Get|Update|Delete|List)LogDelivery|logs:ListLogDeliveries|logs:PutResourcePolicy|logs:DescribeResourcePolicies|logs:DescribeLogGroups)$/;
    for (const st of statementsOf(template)) {
      const resources = Array.isArray(st.Resource) ? st.Resource : [st.Resource];
      if (resources.includes('*')) {
        for (const action of actions(st)) expect(action).toMatch(allowedStar);
      }
    }
  });

  test('DMS: stop exactly the task (describe is account-level); alarm actions on exactly the lag alarms', () => {
    const sts = statementsOf(template);
    const stop = sts.filter((s) => actions(s).includes('dms:StopReplicationTask'));
    expect(stop).toHaveLength(1);
    expect(stop[0].Resource).toEqual(TASK_ARN);
    // only the replication function may stop the task
    expect(stop[0].policy).toBe(policyOf(workflow.functions.replication!));
    // DescribeReplicationTasks and GetMetricData support no resource-level permissions; both functions that read
    // the task status (database: preflight, checkLag, rollback; replication: stopReplication,
    // reportFailureAfterSwitch; digest: the progress digest) get them, the watchdog does not.
    const status = sts.filter((s) => actions(s).includes('dms:DescribeReplicationTasks'));
    expect(status.map((s) => [s.policy, actions(s).sort(), s.Resource]).sort()).toEqual(
      [workflow.functions.database!, workflow.functions.replication!, workflow.functions.digest!]
        .map((fn) => [policyOf(fn), ['cloudwatch:GetMetricData', 'dms:DescribeReplicationTasks'], '*'])
        .sort(),
    );
    // replication disables the lag alarms' actions (stopReplication, after the switch); nothing re-enables them
    // (rollback never follows the switch)
    const toggles = sts.filter((s) => actions(s).some((a) => /^cloudwatch:(Disable|Enable)AlarmActions$/.test(a)));
    expect(toggles.map((s) => [s.policy, actions(s), s.Resource]).sort()).toEqual(
      [
        [
          policyOf(workflow.functions.replication!),
          ['cloudwatch:DisableAlarmActions'],
          'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:zdm-lag-source',
        ],
      ].sort(),
    );
  });

  test('no alarm action statement without lag alarms', () => {
    const { stack: bare } = workflowStack({ lagAlarms: [] });
    const toggles = statementsOf(Template.fromStack(bare)).filter((s) =>
      actions(s).some((a) => a.endsWith('AlarmActions')),
    );
    expect(toggles).toEqual([]);
  });

  test('only the database and watchdog functions read the database secrets', () => {
    const reads = statementsOf(template).filter((s) => actions(s).includes('secretsmanager:GetSecretValue'));
    expect(new Set(reads.map((s) => s.policy))).toEqual(
      new Set([policyOf(workflow.functions.database!), policyOf(workflow.functions.watchdog!)]),
    );
    const secrets = [
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:source-AbCdEf',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:target-AbCdEf',
    ];
    for (const fn of [workflow.functions.database!, workflow.functions.watchdog!]) {
      const resources = reads.filter((s) => s.policy === policyOf(fn)).map((s) => s.Resource);
      expect(resources.sort()).toEqual(secrets);
    }
  });

  test('the functions that connect to the databases trust the RDS CA: Node.js 20+ Lambda runtimes do not load it by default', () => {
    // Without it, TLS to Aurora fails certificate verification ("self-signed certificate in certificate chain").
    const variablesOf = (fn: lambda.IFunction): Record<string, string> =>
      (
        template.findResources('AWS::Lambda::Function')[
          stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)
        ] as {
          Properties: { Environment: { Variables: Record<string, string> } };
        }
      ).Properties.Environment.Variables;
    for (const fn of [workflow.functions.database!, workflow.functions.watchdog!]) {
      expect(variablesOf(fn)).toMatchObject({ NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' });
    }
    expect(variablesOf(workflow.functions.replication!)).not.toHaveProperty('NODE_EXTRA_CA_CERTS');
  });

  test('TLS per side, on the database and watchdog functions only: source require (the default), target verify-full', () => {
    for (const fn of [workflow.functions.database!, workflow.functions.watchdog!]) {
      expect(databaseTlsVariables(template, fn)).toEqual({
        SOURCE_DB_SSL_MODE: 'require',
        TARGET_DB_SSL_MODE: 'verify-full',
      });
    }
    expect(databaseTlsVariables(template, workflow.functions.replication!)).toEqual({});
  });

  test('the execution-failed alarm: ExecutionsFailed >= 1 to the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionsFailed',
      Namespace: 'AWS/States',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^Topic') }],
    });
    expect(workflow.executionFailedAlarm).toBeDefined();
    expect(workflow.metricExecutionsFailed({ period: Duration.minutes(5) }).period.toMinutes()).toBe(5);
  });
});

describe("the watchdog (dead man's switch)", () => {
  const { stack, workflow, topic } = workflowStack();
  const template = Template.fromStack(stack);
  const watchdog = workflow.functions.watchdog!;
  const watchdogPolicy = stack.getLogicalId(
    watchdog.role!.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy,
  );
  const stateMachineArn = stack.resolve(workflow.stateMachine.stateMachineArn);

  test("the rule matches this state machine's executions that ended TIMED_OUT, ABORTED or FAILED", () => {
    // the other rule is the progress digest's schedule (its own test: progress-digest.test.ts)
    const rules = template.findResources('AWS::Events::Rule', { Properties: { EventPattern: Match.anyValue() } });
    expect(Object.keys(rules)).toEqual([stack.getLogicalId(workflow.watchdogRule.node.defaultChild as events.CfnRule)]);
    const rule = Object.values(rules)[0] as { Properties: { EventPattern: unknown; State: string } };
    expect(rule.Properties.State).toBe('ENABLED');
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { stateMachineArn: [stateMachineArn], status: ['TIMED_OUT', 'ABORTED', 'FAILED'] },
    });
  });

  test("the rule invokes the watchdog function with { step: 'watchdog', detail } and may invoke it", () => {
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as {
      Properties: {
        Targets: Array<{
          Arn: unknown;
          InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
        }>;
      };
    };
    const targets = rule.Properties.Targets;
    expect(targets).toHaveLength(1);
    expect(targets[0].Arn).toEqual(stack.resolve(watchdog.functionArn));
    const { InputPathsMap, InputTemplate } = targets[0].InputTransformer;
    expect(InputPathsMap).toEqual({ detail: '$.detail' });
    // what the function receives for an event's detail
    const detail = { status: 'TIMED_OUT', executionArn: 'arn:x', input: '{"migrationId":"m1"}' };
    expect(JSON.parse(InputTemplate.replace('<detail>', JSON.stringify(detail)))).toEqual({ step: 'watchdog', detail });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: stack.resolve(watchdog.functionArn),
      Principal: 'events.amazonaws.com',
      SourceArn: stack.resolve(workflow.watchdogRule.ruleArn),
    });
  });

  test.each([
    ['ExecutionTimedOutAlarm', 'ExecutionsTimedOut'],
    ['ExecutionAbortedAlarm', 'ExecutionsAborted'],
  ])('%s: %s >= 1 in a minute, to the topic', (id, metricName) => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: metricName } });
    expect(Object.keys(alarms)).toHaveLength(1);
    expect(Object.keys(alarms)[0]).toMatch(new RegExp(`^Cutover${id}`));
    expect(Object.values(alarms)[0]).toMatchObject({
      Properties: {
        Namespace: 'AWS/States',
        Dimensions: [{ Name: 'StateMachineArn', Value: stateMachineArn }],
        Statistic: 'Sum',
        Period: 60,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [stack.resolve(topic.topicArn)],
      },
    });
  });

  test('the watchdog role reads both secrets and the state table, and cannot stop the DMS task', () => {
    const own = statementsOf(template).filter((s) => s.policy === watchdogPolicy);
    const secretReads = own.filter((s) => actions(s).includes('secretsmanager:GetSecretValue')).map((s) => s.Resource);
    expect(secretReads.sort()).toEqual([
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:source-AbCdEf',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:target-AbCdEf',
    ]);
    const tableArn = stack.resolve(workflow.stateTable.tableArn);
    const table = own.filter((s) =>
      (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).some(
        (r) => JSON.stringify(r) === JSON.stringify(tableArn),
      ),
    );
    expect(table.flatMap(actions)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:UpdateItem']));
    expect(own.flatMap(actions)).toContain('sns:Publish');
    // it only restores the source and drops the tracking slots: no DMS call at all, no alarm actions
    expect(own.flatMap(actions).filter((a) => /^dms:|AlarmActions$/.test(a))).toEqual([]);
  });
});

describe('grantStartCutover', () => {
  test('StartExecution on the machine, execution reads and task responses', () => {
    const { stack, workflow } = workflowStack();
    const role = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    workflow.grantStartCutover(role);
    const sts = statementsOf(Template.fromStack(stack)).filter((s) => actions(s).some((a) => a.startsWith('states:')));
    const all = sts.flatMap(actions);
    expect(all).toEqual(
      expect.arrayContaining([
        'states:StartExecution',
        'states:DescribeExecution',
        'states:GetExecutionHistory',
        'states:StopExecution',
        'states:SendTaskSuccess',
        'states:SendTaskFailure',
      ]),
    );
    for (const st of sts) expect(st.Resource).not.toEqual('*');
  });
});

describe('traffic switch', () => {
  test('SSM parameter: the traffic function gets read/write on exactly that parameter', () => {
    const { stack } = workflowStack({
      trafficSwitch: TrafficSwitchTarget.ssmParameter(
        ssm.StringParameter.fromStringParameterName(new Stack(), 'P', '/app/db-host'),
      ),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ALLOWED_STEPS: 'switchReads,revertReads,switchTraffic',
          TRAFFIC_SWITCH_KIND: 'ssm-parameter',
          TRAFFIC_SWITCH_TARGET: '/app/db-host',
        }),
      },
    });
    const put = statementsOf(template).filter((s) => actions(s).includes('ssm:PutParameter'));
    expect(put).toHaveLength(1);
    expect(JSON.stringify(put[0].Resource)).toContain(':parameter/app/db-host');
  });

  test('Route 53: the change is limited to the record name', () => {
    const { stack, workflow } = workflowStack({
      trafficSwitch: TrafficSwitchTarget.route53Record(
        route53.HostedZone.fromHostedZoneAttributes(new Stack(), 'Z', {
          hostedZoneId: 'Z123',
          zoneName: 'example.com',
        }),
        'DB.example.com.',
      ),
    });
    const template = Template.fromStack(stack);
    const change = statementsOf(template).filter((s) => actions(s).includes('route53:ChangeResourceRecordSets'));
    expect(change).toHaveLength(1);
    expect(change[0]).toMatchObject({
      Condition: {
        'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['db.example.com'] },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ALLOWED_STEPS: 'switchReads,revertReads,switchTraffic',
          TRAFFIC_SWITCH_KIND: 'route53-cname',
          TRAFFIC_SWITCH_TARGET: 'Z123/db.example.com',
        }),
      },
    });
    // the adapter lists and UPSERTs the record and never waits on a change id
    expect(
      statementsOf(template)
        .flatMap(actions)
        .filter((a) => a.startsWith('route53:'))
        .sort(),
    ).toEqual(['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets']);
    expect(workflow.functions.traffic).toBeDefined();
  });

  test('fails when the record name is not a DNS name', () => {
    expect(() =>
      TrafficSwitchTarget.route53Record(
        route53.HostedZone.fromHostedZoneAttributes(new Stack(), 'Z', { hostedZoneId: 'Z1', zoneName: 'example.com' }),
        'not a name',
      ),
    ).toThrow(/recordName .* got "not a name"/);
  });
});

describe('source TLS of the step functions', () => {
  const CA_PEM = readFileSync(path.join(__dirname, '..', '..', 'support', 'tls', 'ca.pem'), 'utf8');
  const variables = (overrides: Partial<CutoverWorkflowProps>): Record<string, string> => {
    const { stack, workflow } = workflowStack(overrides);
    return databaseTlsVariables(Template.fromStack(stack), workflow.functions.database!);
  };

  test.each([
    ['NONE', 'disable'],
    ['REQUIRE', 'require'],
    ['VERIFY_CA', 'verify-ca'],
    ['VERIFY_FULL', 'verify-full'],
  ] as const)('sourceSslMode SslMode.%s → SOURCE_DB_SSL_MODE %s', (mode, value) => {
    expect(variables({ sourceSslMode: SslMode[mode] })).toEqual({
      SOURCE_DB_SSL_MODE: value,
      TARGET_DB_SSL_MODE: 'verify-full',
    });
  });

  test('a verifying mode gets the source CA as a file in a layer, not as environment text (the target never does)', () => {
    const { stack, workflow } = workflowStack({ sourceSslMode: SslMode.VERIFY_FULL, sourceCaCertificatePem: CA_PEM });
    const template = Template.fromStack(stack);
    expect(databaseTlsVariables(template, workflow.functions.database!)).toEqual({
      SOURCE_DB_SSL_MODE: 'verify-full',
      SOURCE_DB_SSL_CA_FILE: '/opt/zdm/source-ca.pem',
      TARGET_DB_SSL_MODE: 'verify-full',
    });
    // one layer holding exactly that PEM at that path, on every function that reads the variable
    const layers = stack.node.findAll().filter((c): c is lambda.LayerVersion => c instanceof LayerVersion);
    expect(layers).toHaveLength(1);
    const asset = (layers[0].node.findChild('Code') as unknown as { assetPath: string }).assetPath;
    const assembly = stack.node.root as unknown as { outdir: string };
    expect(readFileSync(path.join(assembly.outdir, asset, 'zdm', 'source-ca.pem'), 'utf8').trim()).toBe(CA_PEM.trim());
    const layerRef = stack.resolve(layers[0].layerVersionArn);
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    const reading = functions.filter((f) => f.Properties.Environment.Variables.SOURCE_DB_SSL_CA_FILE);
    expect(reading.length).toBeGreaterThanOrEqual(2); // the database function and the watchdog
    for (const f of functions) {
      expect(f.Properties.Layers ?? []).toEqual(
        f.Properties.Environment.Variables.SOURCE_DB_SSL_CA_FILE ? [layerRef] : [],
      );
      expect(JSON.stringify(f.Properties.Environment)).not.toContain('BEGIN CERTIFICATE');
    }
  });

  test('require leaves the CA PEM out (it is not used, and the environment is limited to 4 KB)', () => {
    expect(variables({ sourceSslMode: SslMode.REQUIRE, sourceCaCertificatePem: CA_PEM })).toEqual({
      SOURCE_DB_SSL_MODE: 'require',
      TARGET_DB_SSL_MODE: 'verify-full',
    });
  });

  test('fails when sourceCaCertificatePem is not a PEM certificate', () => {
    expect(() =>
      workflowStack({ sourceSslMode: SslMode.VERIFY_FULL, sourceCaCertificatePem: '/etc/ssl/ca.pem' }),
    ).toThrow(
      /sourceCaCertificatePem must be a PEM certificate \(-----BEGIN CERTIFICATE-----\), got "\/etc\/ssl\/ca.pem"/,
    );
  });

  test('fails when sourceCaCertificatePem does not fit the Lambda environment', () => {
    const bundle = [CA_PEM, CA_PEM, CA_PEM].join('');
    expect(() => workflowStack({ sourceSslMode: SslMode.VERIFY_CA, sourceCaCertificatePem: bundle })).toThrow(
      new RegExp(`sourceCaCertificatePem is ${bundle.length} characters; at most 2600 fit`),
    );
  });
});

describe('prop validation', () => {
  test.each([
    [{ validationMaxConcurrency: 0 }, /validationMaxConcurrency must be an integer between 1 and 1000, got 0/],
    [{ syncTimeout: Duration.seconds(0) }, /syncTimeout \(seconds\) must be greater than 0, got 0/],
    [{ finalSyncTimeout: Duration.minutes(20) }, /finalSyncTimeout must be at most 14 minutes.*20 minutes/],
    [{ pollInterval: Duration.millis(0) }, /pollInterval \(seconds\) must be greater than 0, got 0/],
    [{ timeout: Duration.hours(1) }, /timeout \(1 hour\) must be longer than syncTimeout plus finalSyncTimeout/],
    [{ consecutiveLagChecks: 0 }, /consecutiveLagChecks must be an integer between 1 and 100, got 0/],
    [{ applicationRoles: [''] }, /applicationRoles\[0\] must be a role name of 1 to 63 characters without NUL, got ""/],
    [
      { applicationRoles: ['pg_monitor'] },
      /applicationRoles\[0\] must be a role the application logs in as \(reserved/,
    ],
    [{ applicationRoles: ['app', 'postgres'] }, /applicationRoles\[1\] .*\(reserved system role\), got "postgres"/],
    [{ applicationRoles: ['app', 'app'] }, /applicationRoles must not repeat a role, got "app"/],
    [{ replicationTaskArn: 'my-task' }, /replicationTaskArn must be a DMS replication task ARN.*got "my-task"/],
    [{ tables: { include: [] } }, /"include" must list at least one/],
  ])('fails when %p', (overrides, message) => {
    expect(() => workflowStack(overrides as never)).toThrow(message);
  });
});

describe('cdk-nag', () => {
  test('AwsSolutionsChecks finds nothing unacknowledged', () => {
    const { app, stack } = workflowStack({}, { nagFriendly: true });
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const unacknowledged = report.violations.map(
      (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`,
    );
    expect(unacknowledged).toEqual([]);
    expect(Validations).toBeDefined();
  });
});
