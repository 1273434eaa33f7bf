import { CfnParameter, Duration, Size } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import {
  AuroraTarget,
  DmsReplication,
  DmsReplicationProps,
  LogicalReplicationPlugin,
  SslMode,
  TargetTablePrepMode,
} from '../../../lib';
import { toDmsTableMappings } from '../../../contract';
import { CA_PEM, TABLES, testEnv } from '../helpers';

function build(overrides: Partial<DmsReplicationProps> = {}, source: Partial<DmsReplicationProps['source']> = {}) {
  const env = testEnv();
  const target = new AuroraTarget(env.stack, 'Target', { vpc: env.vpc, databaseName: 'orders' });
  const replication = new DmsReplication(env.stack, 'Replication', {
    vpc: env.vpc,
    source: { databaseName: 'orders', secret: env.sourceSecret, ...source },
    target,
    tables: TABLES,
    ...overrides,
  });
  return { ...env, target, replication };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON document
const settingsOf = (template: Template): Record<string, any> => {
  const tasks = Object.values(
    template.findResources('AWS::DMS::ReplicationTask', { Properties: { MigrationType: 'full-load-and-cdc' } }),
  );
  expect(tasks).toHaveLength(1);
  return JSON.parse(tasks[0].Properties.ReplicationTaskSettings);
};

describe('DmsReplication defaults', () => {
  let template: Template;
  let built: ReturnType<typeof build>;
  let grantee: iam.Role;
  beforeAll(() => {
    built = build();
    grantee = new iam.Role(built.stack, 'Grantee', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    built.replication.grantTaskControl(grantee);
    template = Template.fromStack(built.stack);
  });

  test('subnet group over two AZs', () => {
    template.hasResourceProperties('AWS::DMS::ReplicationSubnetGroup', {
      SubnetIds: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp('private') })]),
    });
    const group = Object.values(template.findResources('AWS::DMS::ReplicationSubnetGroup'))[0];
    expect(group.Properties.SubnetIds).toHaveLength(2);
  });

  test('Multi-AZ, private replication instance of a DMS class with storage and an identifier', () => {
    template.hasResourceProperties('AWS::DMS::ReplicationInstance', {
      ReplicationInstanceClass: 'dms.r6i.large',
      AllocatedStorage: 100,
      MultiAZ: true,
      PubliclyAccessible: false,
      ReplicationInstanceIdentifier: built.replication.replicationInstanceIdentifier,
      VpcSecurityGroupIds: [Match.objectLike({ 'Fn::GetAtt': Match.anyValue() })],
    });
    expect(built.replication.replicationInstanceIdentifier).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
    expect(built.replication.replicationInstanceIdentifier).not.toMatch(/--|-$/);
  });

  test('no password in any endpoint: credentials come from Secrets Manager', () => {
    const endpoints = template.findResources('AWS::DMS::Endpoint');
    expect(Object.keys(endpoints)).toHaveLength(4); // forward source and target, reverse source and target
    for (const endpoint of Object.values(endpoints)) {
      expect(endpoint.Properties.Password).toBeUndefined();
      expect(endpoint.Properties.Username).toBeUndefined();
      expect(JSON.stringify(endpoint)).not.toMatch(/password/i);
      expect(endpoint.Properties.PostgreSqlSettings.SecretsManagerSecretId).toBeDefined();
      expect(endpoint.Properties.PostgreSqlSettings.SecretsManagerAccessRoleArn['Fn::GetAtt'][1]).toBe('Arn');
    }
  });

  test('source endpoint: postgres, SSL require, logical replication settings', () => {
    template.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'source',
      EngineName: 'postgres',
      DatabaseName: 'orders',
      SslMode: 'require',
      PostgreSqlSettings: Match.objectLike({
        HeartbeatEnable: true,
        HeartbeatFrequency: 5,
        CaptureDdls: false,
        MaxFileSize: 32768,
        ExecuteTimeout: 60,
      }),
    });
  });

  test('source endpoint reads the source secret', () => {
    const sources = Object.values(
      template.findResources('AWS::DMS::Endpoint', { Properties: { EndpointType: 'source', EngineName: 'postgres' } }),
    );
    expect(sources).toHaveLength(1);
    const source = sources[0];
    expect(JSON.stringify(source.Properties.PostgreSqlSettings.SecretsManagerSecretId)).toContain(':secret:zdm/source');
  });

  test('target endpoint: aurora-postgresql, SSL require, session_replication_role replica', () => {
    template.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'target',
      EngineName: 'aurora-postgresql',
      DatabaseName: 'orders',
      SslMode: 'require',
      PostgreSqlSettings: Match.objectLike({ AfterConnectScript: "SET session_replication_role = 'replica'" }),
    });
  });

  test('secrets access role: regional DMS principal, GetSecretValue on exactly the two secrets', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'dms.eu-west-1.amazonaws.com' } })],
      },
    });
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const secretStatements = statements.filter((s) =>
      [].concat(s.Action).includes('secretsmanager:GetSecretValue' as never),
    );
    expect(secretStatements).toHaveLength(2);
    for (const s of secretStatements) expect(s.Resource).not.toEqual('*');
  });

  test('full-load-and-cdc task with mappings from the table selection', () => {
    template.hasResourceProperties('AWS::DMS::ReplicationTask', {
      MigrationType: 'full-load-and-cdc',
      TableMappings: JSON.stringify(toDmsTableMappings(TABLES)),
    });
  });

  test('task settings: logging, validation, limited LOB mode, DO_NOTHING', () => {
    const settings = settingsOf(template);
    expect(settings.Logging.EnableLogging).toBe(true);
    expect(settings.Logging.LogComponents.map((c: { Id: string }) => c.Id)).toEqual(
      expect.arrayContaining(['SOURCE_CAPTURE', 'TARGET_APPLY']),
    );
    expect(settings.ValidationSettings.EnableValidation).toBe(true);
    expect(settings.TargetMetadata).toMatchObject({ LimitedSizeLobMode: true, FullLobMode: false, LobMaxSize: 32 });
    expect(settings.FullLoadSettings.TargetTablePrepMode).toBe('DO_NOTHING');
  });

  test('task log components are the documented ones: VALIDATOR_EXT, never VALIDATOR', () => {
    const ids = settingsOf(template).Logging.LogComponents.map((c: { Id: string }) => c.Id);
    expect(ids).toContain('VALIDATOR_EXT');
    expect(ids).not.toContain('VALIDATOR');
  });

  test('MapBooleanAsBoolean is true on all four PostgreSQL endpoints (DMS needs it on both sides)', () => {
    const endpoints = Object.values(template.findResources('AWS::DMS::Endpoint'));
    expect(endpoints).toHaveLength(4);
    for (const endpoint of endpoints) expect(endpoint.Properties.PostgreSqlSettings.MapBooleanAsBoolean).toBe(true);
  });

  test('DMS service roles are not created by default', () => {
    template.resourcePropertiesCountIs('AWS::IAM::Role', { RoleName: 'dms-vpc-role' }, 0);
    template.resourcePropertiesCountIs('AWS::IAM::Role', { RoleName: 'dms-cloudwatch-logs-role' }, 0);
  });

  test('DMS may reach the target on its port', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      Description: 'DMS replication instance to the target',
    });
  });

  test('metric dimensions: instance identifier and the task resource ID from the ARN', () => {
    const resolved = built.stack.resolve(built.replication.replicationTaskIdentifier);
    expect(resolved).toEqual({
      'Fn::Select': [6, { 'Fn::Split': [':', { Ref: built.stack.getLogicalId(built.replication.replicationTask) }] }],
    });
    expect(built.stack.resolve(built.replication.replicationTaskArn)).toEqual({
      Ref: built.stack.getLogicalId(built.replication.replicationTask),
    });
  });

  test('grantTaskControl is scoped to the task (describe is account-level and takes "*")', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: built.stack.getLogicalId(grantee.node.defaultChild as iam.CfnRole) }],
      PolicyDocument: {
        Statement: [
          { Action: 'dms:DescribeReplicationTasks', Effect: 'Allow', Resource: '*' },
          Match.objectLike({
            Action: Match.arrayWith(['dms:StartReplicationTask', 'dms:StopReplicationTask']),
            Resource: { Ref: built.stack.getLogicalId(built.replication.replicationTask) },
          }),
        ],
      },
    });
  });
});

describe('DmsReplication options', () => {
  let template: Template;
  let built: ReturnType<typeof build>;
  beforeAll(() => {
    const env = build(
      {
        createDmsServiceRoles: true,
        replicationInstanceClass: 'dms.c6i.2xlarge',
        allocatedStorageGiB: 250,
        engineVersion: '3.5.4',
        replicationInstanceIdentifier: 'orders-migration',
        targetTablePrepMode: TargetTablePrepMode.TRUNCATE_BEFORE_LOAD,
        lobMaxSize: Size.kibibytes(64),
        slotName: 'zdm_slot',
        pluginName: LogicalReplicationPlugin.PGLOGICAL,
        heartbeatFrequency: Duration.minutes(1),
        heartbeatSchema: 'zdm_cutover',
        captureDdls: true,
        maxFileSize: Size.mebibytes(64),
        executeTimeout: Duration.minutes(5),
      },
      { sslMode: SslMode.VERIFY_FULL, caCertificatePem: CA_PEM, port: 6432 },
    );
    built = env;
    template = Template.fromStack(env.stack);
  });

  test('account-level DMS roles with fixed names and managed policies; instance and subnet group depend on them', () => {
    for (const [name, policy] of [
      ['dms-vpc-role', 'AmazonDMSVPCManagementRole'],
      ['dms-cloudwatch-logs-role', 'AmazonDMSCloudWatchLogsRole'],
    ]) {
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: name,
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'dms.amazonaws.com' } })] },
        ManagedPolicyArns: [
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::aws:policy/service-role/${policy}`]] },
        ],
      });
    }
    const roleIds = Object.keys(
      template.findResources('AWS::IAM::Role', { Properties: { RoleName: Match.stringLikeRegexp('^dms-') } }),
    );
    for (const type of ['AWS::DMS::ReplicationInstance', 'AWS::DMS::ReplicationSubnetGroup']) {
      const resource = Object.values(template.findResources(type))[0];
      expect(resource.DependsOn).toEqual(expect.arrayContaining(roleIds));
    }
  });

  test('instance options', () => {
    template.hasResourceProperties('AWS::DMS::ReplicationInstance', {
      ReplicationInstanceClass: 'dms.c6i.2xlarge',
      AllocatedStorage: 250,
      EngineVersion: '3.5.4',
      ReplicationInstanceIdentifier: 'orders-migration',
    });
  });

  test('verify-full with a DMS certificate from the PEM', () => {
    template.hasResourceProperties('AWS::DMS::Certificate', { CertificatePem: CA_PEM });
    template.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'source',
      SslMode: 'verify-full',
      CertificateArn: { Ref: Match.stringLikeRegexp('SourceCaCertificate') },
    });
  });

  test('PostgreSQL source settings', () => {
    template.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'source',
      PostgreSqlSettings: Match.objectLike({
        SlotName: 'zdm_slot',
        PluginName: 'pglogical',
        HeartbeatFrequency: 1,
        HeartbeatSchema: 'zdm_cutover',
        CaptureDdls: true,
        MaxFileSize: 65536,
        ExecuteTimeout: 300,
      }),
    });
  });

  test('LogicalReplicationPlugin.TEST_DECODING is the DMS API value test-decoding', () => {
    const { stack } = build({ pluginName: LogicalReplicationPlugin.TEST_DECODING });
    Template.fromStack(stack).hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'source',
      EngineName: 'postgres',
      PostgreSqlSettings: Match.objectLike({ PluginName: 'test-decoding' }),
    });
  });

  test('task settings options', () => {
    const settings = settingsOf(template);
    expect(settings.FullLoadSettings.TargetTablePrepMode).toBe('TRUNCATE_BEFORE_LOAD');
    expect(settings.TargetMetadata.LobMaxSize).toBe(64);
    expect(built.replication.sourceCertificate).toBeDefined();
  });

  test('customer KMS key on the instance and endpoints', () => {
    const env = testEnv();
    const key = new kms.Key(env.stack, 'Key');
    const target = new AuroraTarget(env.stack, 'Target', { vpc: env.vpc });
    new DmsReplication(env.stack, 'R', {
      vpc: env.vpc,
      source: { databaseName: 'd', secret: env.sourceSecret },
      target,
      tables: TABLES,
      kmsKey: key,
    });
    const t = Template.fromStack(env.stack);
    const keyArn = { 'Fn::GetAtt': [env.stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] };
    t.hasResourceProperties('AWS::DMS::ReplicationInstance', { KmsKeyId: keyArn });
    t.hasResourceProperties('AWS::DMS::Endpoint', { EndpointType: 'source', KmsKeyId: keyArn });
  });
});

describe('DmsReplication warnings', () => {
  test('warns when the source SSL mode is none', () => {
    const { stack } = build({}, { sslMode: SslMode.NONE });
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Replication',
      Match.stringLikeRegexp('unencrypted.*zero-downtime-migration:sourceSslNone'),
    );
  });
});

describe('DmsReplication validation', () => {
  test('fails when the instance class is not a DMS class', () => {
    expect(() => build({ replicationInstanceClass: 'db.r6g.large' })).toThrow(
      /dms\.<family>\.<size>.*got "db\.r6g\.large"/,
    );
    expect(() => build({ replicationInstanceClass: 'dms.r6i' })).toThrow(/got "dms\.r6i"/);
  });

  test('fails when allocated storage is outside 5..6144', () => {
    expect(() => build({ allocatedStorageGiB: 4 })).toThrow(
      /allocatedStorageGiB must be an integer between 5 and 6144, got 4/,
    );
    expect(() => build({ allocatedStorageGiB: 7000 })).toThrow(/got 7000/);
  });

  test('a source port in the props (deprecated) is ignored with a warning: the secret has the address', () => {
    const { stack } = build({}, { port: 6543 });
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Replication',
      Match.stringLikeRegexp('source port is ignored: .*"host" and "port" fields.*sourceAddressInSecret'),
    );
  });

  test('without host or port in the props, no address warning', () => {
    const { stack } = build();
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('sourceAddressInSecret'));
  });

  test('fails when the subnets span one AZ only', () => {
    const env = testEnv();
    const target = new AuroraTarget(env.stack, 'Target', { vpc: env.vpc });
    expect(
      () =>
        new DmsReplication(env.stack, 'R', {
          vpc: env.vpc,
          vpcSubnets: {
            subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
            availabilityZones: [env.vpc.availabilityZones[0]],
          },
          source: { databaseName: 'd', secret: env.sourceSecret },
          target,
          tables: TABLES,
        }),
    ).toThrow(
      new RegExp(
        `at least 2 availability zones, got 1 availability zone\\(s\\): .*\\(${env.vpc.availabilityZones[0]}\\)`,
      ),
    );
  });

  test('fails when one subnet is given whose ID and AZ are tokens, naming them as tokens (never ${Token[...]})', () => {
    const env = testEnv();
    const target = new AuroraTarget(env.stack, 'Target', { vpc: env.vpc });
    const subnet = ec2.Subnet.fromSubnetAttributes(env.stack, 'Imported', {
      subnetId: new CfnParameter(env.stack, 'SubnetId').valueAsString,
      availabilityZone: new CfnParameter(env.stack, 'SubnetAz').valueAsString,
    });
    let message = '';
    try {
      new DmsReplication(env.stack, 'R', {
        vpc: env.vpc,
        vpcSubnets: { subnets: [subnet] },
        source: { databaseName: 'd', secret: env.sourceSecret },
        target,
        tables: TABLES,
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'DMS replication subnet group needs subnets in at least 2 availability zones, got 1 subnet(s) in availability ' +
        'zones known only at deploy time: a token (a token)',
    );
  });

  test('fails when verify-full comes without a CA certificate', () => {
    expect(() => build({}, { sslMode: SslMode.VERIFY_FULL })).toThrow(/"verify-full" .*needs "caCertificatePem"/);
  });

  test('fails when the CA certificate is not PEM', () => {
    expect(() => build({}, { sslMode: SslMode.VERIFY_FULL, caCertificatePem: 'not a cert' })).toThrow(
      /got "not a cert"/,
    );
  });

  test('fails when the instance identifier is invalid', () => {
    expect(() => build({ replicationInstanceIdentifier: '1-bad--id' })).toThrow(/got "1-bad--id"/);
  });

  test('fails when the table selection is empty', () => {
    expect(() => build({ tables: { include: [] } })).toThrow(/at least one/);
  });

  test('fails when maxFullLoadSubTasks is out of range', () => {
    expect(() => build({ maxFullLoadSubTasks: 50 })).toThrow(/maxFullLoadSubTasks .*got 50/);
  });
});
