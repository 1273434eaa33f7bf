import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  AuroraTarget,
  DmsReplication,
  DmsReplicationProps,
  ReverseReplication,
  SslMode,
  type SourceDatabaseProps,
} from '../../../lib';
import { toDmsTableMappings } from '../../../contract';
import { CA_PEM, TABLES, testEnv } from '../helpers';

function build(overrides: Partial<DmsReplicationProps> = {}, source: Partial<SourceDatabaseProps> = {}) {
  const env = testEnv();
  const target = new AuroraTarget(env.stack, 'Target', { vpc: env.vpc, databaseName: 'orders_aurora' });
  const replication = new DmsReplication(env.stack, 'Replication', {
    vpc: env.vpc,
    source: { databaseName: 'orders', secret: env.sourceSecret, ...source },
    target,
    tables: TABLES,
    ...overrides,
  });
  return { ...env, target, replication, template: Template.fromStack(env.stack) };
}

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] }; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed template

const only = (template: Template, type: string, props: Record<string, unknown>): [string, Resource] => {
  const found = Object.entries(template.findResources(type, { Properties: props }));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
};

const logicalId = (stack: Stack, resource: { node: { defaultChild?: unknown } } | object): string =>
  stack.getLogicalId(resource as never);

describe('ReverseReplication (created by DmsReplication by default)', () => {
  let built: ReturnType<typeof build>;
  let reverse: ReverseReplication;
  beforeAll(() => {
    built = build();
    reverse = built.replication.reverseReplication!;
  });

  test('exists by default, with its own task and endpoints', () => {
    expect(reverse).toBeInstanceOf(ReverseReplication);
    built.template.resourceCountIs('AWS::DMS::ReplicationTask', 2);
    built.template.resourceCountIs('AWS::DMS::Endpoint', 4);
  });

  test('a CDC-only task on the forward instance, the forward table mappings (marker table included), no start position', () => {
    const [id, task] = only(built.template, 'AWS::DMS::ReplicationTask', { MigrationType: 'cdc' });
    expect(id).toBe(logicalId(built.stack, reverse.replicationTask));
    const [, forward] = only(built.template, 'AWS::DMS::ReplicationTask', { MigrationType: 'full-load-and-cdc' });
    expect(task.Properties.TableMappings).toEqual(forward.Properties.TableMappings);
    expect(task.Properties.TableMappings).toEqual(JSON.stringify(toDmsTableMappings(TABLES)));
    expect(JSON.parse(task.Properties.TableMappings).rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          'object-locator': { 'schema-name': 'zdm_cutover', 'table-name': 'cutover_marker' },
          'rule-action': 'include',
        }),
      ]),
    );
    expect(task.Properties.ReplicationInstanceArn).toEqual(forward.Properties.ReplicationInstanceArn);
    expect(task.Properties.SourceEndpointArn).toEqual({ Ref: logicalId(built.stack, reverse.sourceEndpoint) });
    expect(task.Properties.TargetEndpointArn).toEqual({ Ref: logicalId(built.stack, reverse.targetEndpoint) });
    // the cutover gives the slot's LSN when it starts the task; a PostgreSQL source takes no start time
    for (const key of ['CdcStartPosition', 'CdcStartTime', 'CdcStopPosition']) {
      expect(task.Properties[key]).toBeUndefined();
    }
  });

  test('task settings: logging on, DO_NOTHING (the source has the tables), no validation', () => {
    const [, task] = only(built.template, 'AWS::DMS::ReplicationTask', { MigrationType: 'cdc' });
    const settings = JSON.parse(task.Properties.ReplicationTaskSettings);
    expect(settings.Logging.EnableLogging).toBe(true);
    expect(settings.Logging.LogComponents.map((c: { Id: string }) => c.Id)).toEqual(
      expect.arrayContaining(['SOURCE_CAPTURE', 'TARGET_APPLY']),
    );
    expect(settings.FullLoadSettings.TargetTablePrepMode).toBe('DO_NOTHING');
    expect(settings.ValidationSettings.EnableValidation).toBe(false);
    // A conflict is a write on the old source behind the way back: the task stops (its event reaches SNS).
    expect(settings.ErrorBehavior).toEqual({
      ApplyErrorDeletePolicy: 'STOP_TASK',
      ApplyErrorInsertPolicy: 'STOP_TASK',
      ApplyErrorUpdatePolicy: 'STOP_TASK',
    });
  });

  test('its source endpoint is Aurora, reading the named slot with test-decoding, credentials from the target secret', () => {
    const [id, endpoint] = only(built.template, 'AWS::DMS::Endpoint', {
      EndpointType: 'source',
      EngineName: 'aurora-postgresql',
    });
    expect(id).toBe(logicalId(built.stack, reverse.sourceEndpoint));
    expect(endpoint.Properties).toMatchObject({ DatabaseName: 'orders_aurora', SslMode: 'require' });
    expect(endpoint.Properties.PostgreSqlSettings).toMatchObject({
      SlotName: reverse.slotName,
      // the DMS API value (PluginNameValue.TEST_DECODING); the PostgreSQL plugin of the slot is test_decoding
      PluginName: 'test-decoding',
      SecretsManagerSecretId: built.stack.resolve(built.target.secret.secretArn),
      SecretsManagerAccessRoleArn: built.stack.resolve(built.replication.secretsAccessRole.roleArn),
      HeartbeatEnable: true,
      HeartbeatFrequency: 5,
      CaptureDdls: false,
    });
    expect(reverse.slotPlugin).toBe('test_decoding');
  });

  test('its target endpoint is the old source, with the source secret and the SSL mode DMS uses for the source', () => {
    const [id, endpoint] = only(built.template, 'AWS::DMS::Endpoint', {
      EndpointType: 'target',
      EngineName: 'postgres',
    });
    expect(id).toBe(logicalId(built.stack, reverse.targetEndpoint));
    expect(endpoint.Properties).toMatchObject({ DatabaseName: 'orders', SslMode: 'require' });
    expect(endpoint.Properties.CertificateArn).toBeUndefined();
    expect(JSON.stringify(endpoint.Properties.PostgreSqlSettings.SecretsManagerSecretId)).toContain(
      ':secret:zdm/source',
    );
    expect(endpoint.Properties.PostgreSqlSettings).toMatchObject({
      SecretsManagerAccessRoleArn: built.stack.resolve(built.replication.secretsAccessRole.roleArn),
      AfterConnectScript: "SET session_replication_role = 'replica'",
    });
  });

  test('no password on either reverse endpoint; both wait for the secrets role policy', () => {
    const policyId = logicalId(
      built.stack,
      built.replication.secretsAccessRole.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy,
    );
    for (const endpoint of [reverse.sourceEndpoint, reverse.targetEndpoint]) {
      const resource = built.template.toJSON().Resources[logicalId(built.stack, endpoint)] as Resource;
      expect(resource.Properties.Password).toBeUndefined();
      expect(resource.Properties.Username).toBeUndefined();
      expect(JSON.stringify(resource)).not.toMatch(/password/i);
      expect(resource.DependsOn).toEqual(expect.arrayContaining([policyId]));
    }
  });

  test('the secrets access role reads exactly the two secrets', () => {
    const statements = Object.values(built.template.findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s: { Action: string | string[] }) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    const resources = statements.map((s: { Resource: unknown }) => JSON.stringify(s.Resource));
    expect(new Set(resources).size).toBe(2);
    expect(resources.some((r: string) => r.includes(':secret:zdm/source'))).toBe(true);
    expect(resources).toContain(JSON.stringify(built.stack.resolve(built.target.secret.secretArn)));
  });

  test('identifiers: the task resource id from the ARN, the forward instance, a valid deterministic slot name', () => {
    expect(built.stack.resolve(reverse.taskArn)).toEqual({ Ref: logicalId(built.stack, reverse.replicationTask) });
    expect(built.stack.resolve(reverse.taskIdentifier)).toEqual({
      'Fn::Select': [6, { 'Fn::Split': [':', { Ref: logicalId(built.stack, reverse.replicationTask) }] }],
    });
    expect(reverse.instanceIdentifier).toBe(built.replication.replicationInstanceIdentifier);
    expect(reverse.slotName).toMatch(/^zdm_reverse_[0-9a-f]{16}$/);
    expect(reverse.slotName.length).toBeLessThanOrEqual(63);
    // the same construct path gives the same slot; another path another one
    expect(build().replication.reverseReplication!.slotName).toBe(reverse.slotName);
    const env = testEnv('OtherStack');
    const target = new AuroraTarget(env.stack, 'Target', { vpc: env.vpc });
    const other = new DmsReplication(env.stack, 'Replication', {
      vpc: env.vpc,
      source: { databaseName: 'd', secret: env.sourceSecret },
      target,
      tables: TABLES,
    });
    expect(other.reverseReplication!.slotName).not.toBe(reverse.slotName);
  });

  test('nothing starts the task at deploy time: no custom resource refers to it', () => {
    const taskId = logicalId(built.stack, reverse.replicationTask);
    const resources = built.template.toJSON().Resources as Record<string, Resource>;
    const custom = Object.entries(resources).filter(
      ([, r]) => r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource',
    );
    for (const [, r] of custom) expect(JSON.stringify(r)).not.toContain(taskId);
    const starters = Object.entries(resources).filter(
      ([id, r]) => id !== taskId && r.Type !== 'AWS::IAM::Policy' && JSON.stringify(r).includes('StartReplicationTask'),
    );
    expect(starters).toEqual([]);
  });
});

describe('ReverseReplication options', () => {
  test('the reverse target uses the SSL mode and CA certificate of the forward source endpoint', () => {
    const { template, replication, stack } = build({}, { sslMode: SslMode.VERIFY_FULL, caCertificatePem: CA_PEM });
    const [, endpoint] = only(template, 'AWS::DMS::Endpoint', { EndpointType: 'target', EngineName: 'postgres' });
    expect(endpoint.Properties.SslMode).toBe('verify-full');
    expect(endpoint.Properties.CertificateArn).toEqual({ Ref: logicalId(stack, replication.sourceCertificate!) });
    template.resourceCountIs('AWS::DMS::Certificate', 1);
  });

  test('heartbeat, DDL capture and endpoint limits follow the forward options', () => {
    const { template } = build({
      heartbeatFrequency: Duration.minutes(1),
      heartbeatSchema: 'zdm_cutover',
      captureDdls: true,
      executeTimeout: Duration.minutes(5),
    });
    const [, endpoint] = only(template, 'AWS::DMS::Endpoint', {
      EndpointType: 'source',
      EngineName: 'aurora-postgresql',
    });
    expect(endpoint.Properties.PostgreSqlSettings).toMatchObject({
      HeartbeatFrequency: 1,
      HeartbeatSchema: 'zdm_cutover',
      CaptureDdls: true,
      ExecuteTimeout: 300,
    });
  });

  test('reverseReplication: false creates none of it', () => {
    const { template, replication } = build({ reverseReplication: false });
    expect(replication.reverseReplication).toBeUndefined();
    template.resourceCountIs('AWS::DMS::ReplicationTask', 1);
    template.resourcePropertiesCountIs('AWS::DMS::ReplicationTask', { MigrationType: 'cdc' }, 0);
    template.resourceCountIs('AWS::DMS::Endpoint', 2);
    template.resourcePropertiesCountIs(
      'AWS::DMS::Endpoint',
      { EndpointType: 'source', EngineName: 'aurora-postgresql' },
      0,
    );
    template.resourcePropertiesCountIs(
      'AWS::DMS::Endpoint',
      { PostgreSqlSettings: Match.objectLike({ PluginName: 'test_decoding' }) },
      0,
    );
  });
});
