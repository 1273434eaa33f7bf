import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type CfnElement, Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { CUTOVER_ENVIRONMENT, toDmsTableMappings } from '../../contract';
import { SslMode, ZeroDowntimeMigration } from '../../lib';
import { TABLES, testEnv } from './helpers';

describe('ZeroDowntimeMigration', () => {
  let env: ReturnType<typeof testEnv>;
  let migration: ZeroDowntimeMigration;
  let template: Template;
  let grantee: iam.Role;
  beforeAll(() => {
    env = testEnv();
    migration = new ZeroDowntimeMigration(env.stack, 'Migration', {
      vpc: env.vpc,
      source: { databaseName: 'orders', secret: env.sourceSecret },
      tables: TABLES,
      monitoring: { cdcLatencyThreshold: Duration.seconds(10) },
    });
    grantee = new iam.Role(env.stack, 'Grantee', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    migration.grantReplicationTaskControl(grantee);
    migration.grantReadSourceCredentials(grantee);
    migration.grantReadTargetCredentials(grantee);
    migration.grantLagAlarmActionsControl(grantee);
    template = Template.fromStack(env.stack);
  });

  test('composes target, replication and monitoring', () => {
    template.resourceCountIs('AWS::RDS::DBCluster', 1);
    template.resourceCountIs('AWS::DMS::ReplicationInstance', 1);
    template.resourceCountIs('AWS::DMS::ReplicationTask', 2); // forward, and the way back (created, never started)
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::RDS::DBCluster', { DatabaseName: 'orders' });
    template.hasResourceProperties('AWS::DMS::Endpoint', { EndpointType: 'target', DatabaseName: 'orders' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CDCLatencySource', Threshold: 10 });
    expect(migration.replicationTask).toBe(migration.replication.replicationTask);
    expect(migration.alarmTopic).toBe(migration.monitoring.alarmTopic);
  });

  test('lag alarms use the replication dimensions', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CDCLatencyTarget',
      Dimensions: [
        { Name: 'ReplicationInstanceIdentifier', Value: migration.replication.replicationInstanceIdentifier },
        {
          Name: 'ReplicationTaskIdentifier',
          Value: {
            'Fn::Select': [6, { 'Fn::Split': [':', { Ref: env.stack.getLogicalId(migration.replicationTask) }] }],
          },
        },
      ],
    });
  });

  test('metric verbs: Maximum with both dimensions, overridable', () => {
    const m = migration.metricCdcLatencySource();
    expect(m.statistic).toBe('Maximum');
    expect(m.metricName).toBe('CDCLatencySource');
    expect(Object.keys(m.dimensions ?? {})).toEqual(['ReplicationInstanceIdentifier', 'ReplicationTaskIdentifier']);
    const t = migration.metricCdcLatencyTarget({ period: Duration.minutes(5), statistic: 'Average' });
    expect(t.statistic).toBe('Average');
    expect(t.period.toMinutes()).toBe(5);
    const cpu = migration.metricReplicationInstanceCpu();
    expect(cpu.metricName).toBe('CPUUtilization');
    expect(Object.keys(cpu.dimensions ?? {})).toEqual(['ReplicationInstanceIdentifier']);
  });

  test('cutover inputs expose what the workflow needs', () => {
    const inputs = migration.cutoverInputs;
    expect(inputs.sourceSecret).toBe(env.sourceSecret);
    expect(inputs.targetSecret).toBe(migration.target.secret);
    expect(inputs.replicationTaskArn).toBe(migration.replicationTaskArn);
    expect(inputs.lagAlarmNames).toHaveLength(2);
    expect(inputs.alarmTopic).toBe(migration.alarmTopic);
    expect(inputs.targetDatabaseName).toBe('orders');
  });

  test('grants are scoped to the task, the secrets and the lag alarms', () => {
    const policy = Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: env.stack.getLogicalId(grantee.node.defaultChild as iam.CfnRole) }] },
      }),
    )[0];
    const statements = policy.Properties.PolicyDocument.Statement;
    // Only DescribeReplicationTasks, an account-level action, may (and must) take "*".
    for (const s of statements.filter((st: { Resource: unknown }) => st.Resource === '*')) {
      expect(s.Action).toEqual('dms:DescribeReplicationTasks');
    }
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: ['cloudwatch:DisableAlarmActions', 'cloudwatch:EnableAlarmActions'] }),
        expect.objectContaining({ Action: expect.arrayContaining(['secretsmanager:GetSecretValue']) }),
      ]),
    );
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['dms:StartReplicationTask']),
            Resource: { Ref: Match.anyValue() },
          }),
        ]),
      },
    });
  });
});

test('the cutover connects to the source with its sslMode and CA, to the target with verify-full', () => {
  const env = testEnv();
  const caCertificatePem = readFileSync(path.join(__dirname, '..', 'support', 'tls', 'ca.pem'), 'utf8');
  const migration = new ZeroDowntimeMigration(env.stack, 'Migration', {
    vpc: env.vpc,
    source: {
      databaseName: 'orders',
      secret: env.sourceSecret,
      sslMode: SslMode.VERIFY_CA,
      caCertificatePem,
    },
    tables: TABLES,
  });
  const fn = migration.cutover.functions.database!;
  const id = env.stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  const variables = Template.fromStack(env.stack).findResources('AWS::Lambda::Function')[id].Properties.Environment
    .Variables;
  expect(variables).toMatchObject({
    SOURCE_DB_SSL_MODE: 'verify-ca',
    SOURCE_DB_SSL_CA_FILE: '/opt/zdm/source-ca.pem',
    TARGET_DB_SSL_MODE: 'verify-full',
    NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
    // The databases DMS replicates: the target's generated secret has no dbname (the functions would use postgres).
    SOURCE_DB_NAME: 'orders',
    TARGET_DB_NAME: 'orders',
  });
});

describe('ZeroDowntimeMigration reverse replication', () => {
  let env: ReturnType<typeof testEnv>;
  let migration: ZeroDowntimeMigration;
  let template: Template;
  beforeAll(() => {
    env = testEnv();
    migration = new ZeroDowntimeMigration(env.stack, 'Migration', {
      vpc: env.vpc,
      source: { databaseName: 'orders', secret: env.sourceSecret },
      tables: TABLES,
      monitoring: { cdcLatencyThreshold: Duration.seconds(10) },
    });
    template = Template.fromStack(env.stack);
  });

  test('the binding names the reverse task, its instance, the slot, test_decoding and the muted alarms', () => {
    const reverse = migration.replication.reverseReplication!;
    const binding = migration.reverseReplicationBinding!;
    const taskId = env.stack.getLogicalId(reverse.replicationTask);
    expect(env.stack.resolve(binding.taskArn)).toEqual({ Ref: taskId });
    expect(env.stack.resolve(binding.taskIdentifier)).toEqual({
      'Fn::Select': [6, { 'Fn::Split': [':', { Ref: taskId }] }],
    });
    expect(binding.instanceIdentifier).toBe(migration.replication.replicationInstanceIdentifier);
    expect(binding.slotName).toBe(reverse.slotName);
    expect(binding.slotName).toMatch(/^[a-z0-9_]{1,63}$/);
    expect(binding.slotPlugin).toBe('test_decoding');
    expect(binding.lagAlarms).toEqual(migration.reverseLagAlarms);
    expect(migration.reverseLagAlarms).toEqual(migration.monitoring.reverseLagAlarms);
    expect(migration.reverseLagAlarms).toHaveLength(2);
    // the forward lag alarms (which the cutover mutes while it stops replication) stay the forward ones
    expect(migration.cutoverInputs.lagAlarmNames).toHaveLength(2);
  });

  test('the reverse task is CDC-only with the forward mappings; its source is Aurora reading the slot', () => {
    const reverse = migration.replication.reverseReplication!;
    template.hasResourceProperties('AWS::DMS::ReplicationTask', {
      MigrationType: 'cdc',
      TableMappings: JSON.stringify(toDmsTableMappings(TABLES)),
      SourceEndpointArn: { Ref: env.stack.getLogicalId(reverse.sourceEndpoint) },
      CdcStartPosition: Match.absent(),
      CdcStartTime: Match.absent(),
    });
    template.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'source',
      EngineName: 'aurora-postgresql',
      DatabaseName: 'orders',
      PostgreSqlSettings: Match.objectLike({
        SlotName: reverse.slotName,
        PluginName: 'test-decoding',
        SecretsManagerSecretId: env.stack.resolve(migration.target.secret.secretArn),
      }),
    });
  });

  test.each(['CDCLatencySource', 'CDCLatencyTarget'])(
    'reverse %s alarm on the reverse task dimensions, actions disabled, to the alarm topic',
    (metricName) => {
      const reverse = migration.replication.reverseReplication!;
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        Threshold: 10,
        ActionsEnabled: false,
        AlarmActions: [env.stack.resolve((migration.alarmTopic as sns.Topic).topicArn)],
        Dimensions: [
          { Name: 'ReplicationInstanceIdentifier', Value: migration.replication.replicationInstanceIdentifier },
          { Name: 'ReplicationTaskIdentifier', Value: env.stack.resolve(reverse.taskIdentifier) },
        ],
      });
    },
  );

  test('the cutover gets the binding: its functions name the reverse task, slot, plugin and alarms', () => {
    const binding = migration.reverseReplicationBinding!;
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((fn) => fn.Properties.Environment?.Variables ?? {})
      .filter((v) => v[CUTOVER_ENVIRONMENT.reverseSlotName] !== undefined);
    expect(variables.length).toBeGreaterThan(0);
    for (const v of variables) {
      expect(v).toMatchObject({
        [CUTOVER_ENVIRONMENT.reverseTaskArn]: env.stack.resolve(binding.taskArn),
        [CUTOVER_ENVIRONMENT.reverseTaskId]: env.stack.resolve(binding.taskIdentifier),
        [CUTOVER_ENVIRONMENT.reverseInstanceId]: binding.instanceIdentifier,
        [CUTOVER_ENVIRONMENT.reverseSlotName]: binding.slotName,
        [CUTOVER_ENVIRONMENT.reverseSlotPlugin]: 'test_decoding',
      });
    }
    expect(migration.cutover.fallbackStateMachine).toBeDefined();
  });

  test('replication.reverseReplication: false creates none of it and leaves the binding undefined', () => {
    const other = testEnv();
    const oneWay = new ZeroDowntimeMigration(other.stack, 'Migration', {
      vpc: other.vpc,
      source: { databaseName: 'orders', secret: other.sourceSecret },
      tables: TABLES,
      replication: { reverseReplication: false },
    });
    expect(oneWay.replication.reverseReplication).toBeUndefined();
    expect(oneWay.reverseReplicationBinding).toBeUndefined();
    expect(oneWay.reverseLagAlarms).toEqual([]);
    const t = Template.fromStack(other.stack);
    t.resourceCountIs('AWS::DMS::ReplicationTask', 1);
    t.resourcePropertiesCountIs('AWS::DMS::ReplicationTask', { MigrationType: 'cdc' }, 0);
    t.resourcePropertiesCountIs('AWS::DMS::Endpoint', { EndpointType: 'source', EngineName: 'aurora-postgresql' }, 0);
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { ActionsEnabled: false }, 0);
    // and the cutover has no way back
    expect(oneWay.cutover.fallbackStateMachine).toBeUndefined();
    const variables = Object.values(t.findResources('AWS::Lambda::Function')).map(
      (fn) => fn.Properties.Environment?.Variables ?? {},
    );
    for (const v of variables) expect(v[CUTOVER_ENVIRONMENT.reverseSlotName]).toBeUndefined();
  });
});

describe('ZeroDowntimeMigration validation', () => {
  test('fails when an existing target cluster comes with new-cluster options', () => {
    const env = testEnv();
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(env.stack, 'C', { clusterIdentifier: 'c' });
    const secret = secretsmanager.Secret.fromSecretNameV2(env.stack, 'S', 's');
    expect(
      () =>
        new ZeroDowntimeMigration(env.stack, 'M', {
          vpc: env.vpc,
          source: { databaseName: 'd', secret: env.sourceSecret },
          tables: TABLES,
          target: { cluster, secret, storageEncryptionKey: undefined, deletionProtection: true },
        }),
    ).toThrow(/cannot be combined with options for a new cluster: deletionProtection/);
  });

  test('the source address is in its secret only: a host or port in the props is ignored, with a warning', () => {
    const env = testEnv();
    new ZeroDowntimeMigration(env.stack, 'M', {
      vpc: env.vpc,
      source: { host: 'db.example.com', port: 6543, databaseName: 'd', secret: env.sourceSecret },
      tables: TABLES,
    });
    Annotations.fromStack(env.stack).hasWarning(
      '/TestStack/M/Replication',
      Match.stringLikeRegexp(
        'source host and port are ignored: DMS and the cutover functions read .* from its secret.*sourceAddressInSecret',
      ),
    );
    // DMS reads the address from the secret: the endpoint names neither
    const endpoint = Template.fromStack(env.stack).findResources('AWS::DMS::Endpoint', {
      Properties: { EndpointType: 'source' },
    });
    for (const { Properties } of Object.values(endpoint)) {
      expect(Properties).not.toHaveProperty('ServerName');
      expect(Properties).not.toHaveProperty('Port');
      expect(Properties.PostgreSqlSettings.SecretsManagerSecretId).toBeDefined();
    }
  });
});

describe('ZeroDowntimeMigration L2 verbs and outputs', () => {
  let env: ReturnType<typeof testEnv>;
  let migration: ZeroDowntimeMigration;
  let template: Template;
  let sourceSg: ec2.SecurityGroup;
  let operator: iam.Role;
  beforeAll(() => {
    env = testEnv();
    migration = new ZeroDowntimeMigration(env.stack, 'Migration', {
      vpc: env.vpc,
      source: { databaseName: 'orders', secret: env.sourceSecret },
      tables: TABLES,
    });
    sourceSg = new ec2.SecurityGroup(env.stack, 'SourceSg', { vpc: env.vpc });
    sourceSg.connections.allowFrom(migration, ec2.Port.tcp(5432), 'migration to the source');
    operator = new iam.Role(env.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    migration.grantStartFallback(operator);
    template = Template.fromStack(env.stack);
  });

  const groupIdOf = (sg: ec2.ISecurityGroup) => ({
    'Fn::GetAtt': [env.stack.getLogicalId(sg.node.defaultChild as ec2.CfnSecurityGroup), 'GroupId'],
  });

  test('is IConnectable: allowing the migration in allows DMS and the cutover functions', () => {
    const groups = migration.connections.securityGroups;
    expect(groups).toEqual([
      ...migration.replication.connections.securityGroups,
      ...migration.cutover.connections.securityGroups,
    ]);
    expect(groups.length).toBeGreaterThanOrEqual(2);
    for (const sg of groups) {
      template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        GroupId: groupIdOf(sourceSg),
        SourceSecurityGroupId: groupIdOf(sg),
        FromPort: 5432,
        ToPort: 5432,
        Description: 'migration to the source',
      });
    }
  });

  test('grantStartFallback allows starting the fallback state machine only', () => {
    const fallback = migration.cutover.fallbackStateMachine!;
    const policy = Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: env.stack.getLogicalId(operator.node.defaultChild as iam.CfnRole) }] },
      }),
    )[0];
    const starts = policy.Properties.PolicyDocument.Statement.filter((s: { Action: string | string[] }) =>
      ([] as string[]).concat(s.Action).includes('states:StartExecution'),
    );
    expect(starts).toEqual([
      expect.objectContaining({
        Resource: { Ref: env.stack.getLogicalId(fallback.node.defaultChild as sfn.CfnStateMachine) },
      }),
    ]);
  });

  test('fails when grantStartFallback is asked of a migration without the way back', () => {
    const other = testEnv();
    const oneWay = new ZeroDowntimeMigration(other.stack, 'Migration', {
      vpc: other.vpc,
      source: { databaseName: 'orders', secret: other.sourceSecret },
      tables: TABLES,
      replication: { reverseReplication: false },
    });
    const role = new iam.Role(other.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => oneWay.grantStartFallback(role)).toThrow(
      /no fallback state machine, because its replication has no way back \(replication.reverseReplication is false\)/,
    );
  });

  test('typed cutover metrics: name, namespace, the migration id dimension, statistic', () => {
    const cases: [cloudwatch.Metric, string, string][] = [
      [migration.metricFreezeDuration('orders-1'), 'FreezeDuration', 'Maximum'],
      [migration.metricVerificationBacklog('orders-1'), 'VerificationBacklog', 'Maximum'],
      [migration.metricCutoverReplicationLag('orders-1'), 'ReplicationLag', 'Maximum'],
      [migration.metricRowsValidated('orders-1'), 'RowsValidated', 'Sum'],
      [migration.metricValidationDifferences('orders-1'), 'ValidationDifferences', 'Maximum'],
    ];
    for (const [metric, name, statistic] of cases) {
      expect(metric).toMatchObject({ metricName: name, namespace: 'ZeroDowntimeMigration', statistic });
      expect(metric.dimensions).toMatchObject({ MigrationId: 'orders-1' });
      expect(metric.period.toMinutes()).toBe(1);
    }
    const overridden = migration.metricFreezeDuration('orders-2', { statistic: 'p99', period: Duration.minutes(5) });
    expect(overridden).toMatchObject({ statistic: 'p99' });
    expect(overridden.period.toMinutes()).toBe(5);
    expect(overridden.dimensions).toMatchObject({ MigrationId: 'orders-2' });
  });

  test('outputs: state machine ARNs, target endpoint, port and secret, task and topic ARNs', () => {
    const ref = (c: IConstruct) => ({ Ref: env.stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement) });
    const outputs = template.findOutputs('*');
    const byId = (id: string) => {
      const found = Object.entries(outputs).filter(([key]) => key.startsWith(`Migration${id}`));
      expect(found).toHaveLength(1);
      return found[0][1];
    };
    expect(byId('CutoverStateMachineArn').Value).toEqual(ref(migration.stateMachine));
    expect(byId('FallbackStateMachineArn').Value).toEqual(ref(migration.cutover.fallbackStateMachine!));
    expect(byId('TargetEndpoint').Value).toEqual({
      'Fn::GetAtt': [
        env.stack.getLogicalId(migration.target.cluster.node.defaultChild as CfnElement),
        'Endpoint.Address',
      ],
    });
    expect(byId('TargetPort').Value).toBeDefined();
    expect(byId('TargetSecretArn').Value).toEqual(ref(migration.target.secret));
    expect(byId('ReplicationTaskArn').Value).toEqual(ref(migration.replicationTask));
    expect(byId('AlarmTopicArn').Value).toEqual(ref(migration.alarmTopic));
    for (const output of Object.values(outputs)) expect(output.Export).toBeUndefined();
  });

  test('outputs: false adds none', () => {
    const other = testEnv();
    new ZeroDowntimeMigration(other.stack, 'Migration', {
      vpc: other.vpc,
      source: { databaseName: 'orders', secret: other.sourceSecret },
      tables: TABLES,
      outputs: false,
    });
    expect(Template.fromStack(other.stack).findOutputs('*')).toEqual({});
  });
});
