/**
 * The synthesized template of a normal app, read against the AWS API models (there is no AWS account here):
 * - every enum-typed DMS endpoint / instance / task property holds a member of the DMS SDK's enum, the enums and the
 *   property → enum mapping both read from the installed `@aws-sdk/client-database-migration-service` (its API model:
 *   the `Create*Message` and `PostgreSQLSettings` shapes), not from a hand copy;
 * - the task settings use only documented keys and log components (test/support/dms-task-settings-docs.ts);
 * - every Lambda function's environment fits Lambda's 4 KB once CloudFormation has resolved every reference to a
 *   realistic ARN, at the props' worst case (a source CA at the construct's own cap, verify-full, the way back on, a
 *   write switch and a read switch).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as dmsSdk from '@aws-sdk/client-database-migration-service';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { SslMode, TrafficSwitchTarget, ZeroDowntimeMigration } from '../../lib';
import { buildExampleApp } from '../../bin/app';
import {
  DOCUMENTED_APPLY_ERROR_POLICIES,
  DOCUMENTED_LOG_COMPONENTS,
  DOCUMENTED_LOG_SEVERITIES,
  DOCUMENTED_TARGET_TABLE_PREP_MODES,
  DOCUMENTED_TASK_SETTINGS_KEYS,
  DOCUMENTED_VALIDATION_MODES,
} from '../support/dms-task-settings-docs';
import { environmentSize, templateResolver } from '../support/resolve-template';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed template JSON
type Json = any;

/** The cap of `sourceCaCertificatePem` the construct enforces (lib/cutover/cutover-workflow.ts, MAX_CA_PEM_CHARS). */
const CA_CAP_CHARS = 2600;
const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** A PEM certificate of exactly `chars` characters. */
function pemOfLength(chars: number): string {
  const head = '-----BEGIN CERTIFICATE-----\n';
  const tail = '\n-----END CERTIFICATE-----\n';
  let body = '';
  while (head.length + body.length + tail.length < chars) {
    body += (body.length + 1) % 65 === 0 ? '\n' : 'A';
  }
  return head + body.replace(/\n$/, 'A') + tail;
}

/** The worst case of the props for the functions' environments. */
function worstCaseStack(): { stack: Stack; template: Json } {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'ZeroDowntimeMigrationWorstCaseEnvironmentStack', {
    env: { account: '123456789012', region: 'ap-southeast-5' },
  });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const sourceSecret = secretsmanager.Secret.fromSecretNameV2(
    stack,
    'SourceSecret',
    'production/orders-service/postgresql-source-credentials',
  );
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    zoneName: 'internal.orders.example.com',
  });
  new ZeroDowntimeMigration(stack, 'OrdersDatabaseMigration', {
    vpc,
    source: {
      databaseName: 'orders_production',
      secret: sourceSecret,
      sslMode: SslMode.VERIFY_FULL,
      caCertificatePem: pemOfLength(CA_CAP_CHARS),
    },
    tables: {
      include: [
        { schema: 'public' },
        { schema: 'billing', table: 'invoice%' },
        { schema: 'inventory', table: 'stock_movement%' },
      ],
      exclude: [{ schema: 'public', table: 'tmp_%' }],
    },
    cutover: {
      applicationRoles: ['orders_app', 'orders_worker', 'billing_app', 'reporting_app'],
      requireApproval: true,
      trafficSwitch: TrafficSwitchTarget.route53Record(zone, 'orders-primary-writer.internal.orders.example.com'),
      readTrafficSwitch: TrafficSwitchTarget.ssmParameter(
        ssm.StringParameter.fromStringParameterName(stack, 'ReadHost', '/orders-service/production/database/read-host'),
      ),
      fallbackEndpoint: 'orders-primary-db.eu-central.internal.orders.example.com',
    },
  });
  return { stack, template: Template.fromStack(stack).toJSON() };
}

// ---- the DMS API model, from the installed SDK --------------------------------------------------------------------

const sdkModelsDir = path.join(
  path.dirname(require.resolve('@aws-sdk/client-database-migration-service/package.json')),
  'dist-types',
  'models',
);
const sdkModels = fs
  .readdirSync(sdkModelsDir)
  .filter((f) => /^models_\d+\.d\.ts$/.test(f))
  .map((f) => fs.readFileSync(path.join(sdkModelsDir, f), 'utf8'))
  .join('\n');

/** The runtime enum objects the SDK exports (`PluginNameValue`, `DmsSslModeValue`, ...). */
function sdkEnum(name: string): readonly string[] | undefined {
  const value = (dmsSdk as Record<string, unknown>)[name];
  if (!value || typeof value !== 'object') return undefined;
  const members = Object.values(value as Record<string, unknown>);
  return members.length > 0 && members.every((m) => typeof m === 'string') ? (members as string[]) : undefined;
}

/** `field → enum members` of an SDK shape, for the fields the model types with an enum. */
function enumFieldsOf(shape: string): Record<string, readonly string[]> {
  const start = sdkModels.indexOf(`export interface ${shape} {`);
  if (start < 0) throw new Error(`the DMS SDK has no shape ${shape}`);
  const end = sdkModels.indexOf('\n}', start);
  const body = sdkModels.slice(start, end);
  const fields: Record<string, readonly string[]> = {};
  for (const m of body.matchAll(/^\s+(\w+)\??: (\w+)(?: \| undefined)?;$/gm)) {
    const members = sdkEnum(m[2]);
    if (members) fields[m[1]] = members;
  }
  return fields;
}

/**
 * The values a string field's documentation in the SDK model lists (`Valid values ... include <code>"x"</code>, ...`):
 * for fields the model types as a plain string, such as `CreateEndpointMessage.EngineName`.
 */
function documentedValuesOf(shape: string, field: string): string[] {
  const start = sdkModels.indexOf(`export interface ${shape} {`);
  const end = sdkModels.indexOf('\n}', start);
  const body = sdkModels.slice(start, end);
  const at = body.search(new RegExp(`^\\s+${field}\\??: string`, 'm'));
  if (start < 0 || at < 0) throw new Error(`the DMS SDK has no string field ${shape}.${field}`);
  const doc = body.slice(body.lastIndexOf('/**', at), at);
  return [...doc.matchAll(/<code>"?([a-z0-9-]+)"?<\/code>/g)].map((m) => m[1]);
}

/** CloudFormation resource type → the SDK shape of its create call, and nested settings → their shapes. */
const RESOURCE_SHAPES: Record<string, { shape: string; nested?: Record<string, string> }> = {
  'AWS::DMS::Endpoint': { shape: 'CreateEndpointMessage', nested: { PostgreSqlSettings: 'PostgreSQLSettings' } },
  'AWS::DMS::ReplicationInstance': { shape: 'CreateReplicationInstanceMessage' },
  'AWS::DMS::ReplicationTask': { shape: 'CreateReplicationTaskMessage' },
  'AWS::DMS::ReplicationSubnetGroup': { shape: 'CreateReplicationSubnetGroupMessage' },
  'AWS::DMS::Certificate': { shape: 'ImportCertificateMessage' },
};

/** Every (resource, property path, value, members) of the template's enum-typed DMS properties. */
function enumValues(template: Json): { where: string; value: unknown; members: readonly string[] }[] {
  const found: { where: string; value: unknown; members: readonly string[] }[] = [];
  for (const [id, resource] of Object.entries<Json>(template.Resources)) {
    const shapes = RESOURCE_SHAPES[resource.Type];
    if (!shapes) continue;
    const check = (props: Json, shape: string, prefix: string): void => {
      const fields = enumFieldsOf(shape);
      for (const [field, members] of Object.entries(fields)) {
        if (props?.[field] !== undefined)
          found.push({ where: `${id}.${prefix}${field}`, value: props[field], members });
      }
    };
    check(resource.Properties, shapes.shape, '');
    for (const [property, shape] of Object.entries(shapes.nested ?? {})) {
      if (resource.Properties?.[property]) check(resource.Properties[property], shape, `${property}.`);
    }
  }
  return found;
}

describe('the template against the AWS API models', () => {
  const example = Template.fromStack(
    buildExampleApp(new App({ builtinCloudFormationValidation: false })).stack,
  ).toJSON();
  const worst = worstCaseStack();

  test('the SDK model is read: the shapes carry the enums this check relies on', () => {
    expect(enumFieldsOf('PostgreSQLSettings').PluginName).toEqual(['no-preference', 'pglogical', 'test-decoding']);
    expect(enumFieldsOf('CreateEndpointMessage')).toMatchObject({
      EndpointType: ['source', 'target'],
      SslMode: expect.arrayContaining(['none', 'require', 'verify-ca', 'verify-full']),
    });
    expect(enumFieldsOf('CreateReplicationTaskMessage').MigrationType).toEqual(
      expect.arrayContaining(['full-load', 'cdc', 'full-load-and-cdc']),
    );
  });

  test.each([
    ['the example app', example],
    ['the worst-case app (verify-full, read switch)', worst.template],
  ])('%s: every enum-typed DMS property is a member of the SDK enum', (_name, template) => {
    const values = enumValues(template);
    // the four endpoints' EndpointType and SslMode, the tasks' MigrationType, the PluginName of the way back
    expect(values.length).toBeGreaterThanOrEqual(11);
    expect(values.map((v) => v.where)).toEqual(
      expect.arrayContaining([expect.stringMatching(/PostgreSqlSettings\.PluginName$/)]),
    );
    const bad = values.filter((v) => typeof v.value !== 'string' || !v.members.includes(v.value));
    expect(bad.map((v) => `${v.where} = ${JSON.stringify(v.value)} (one of ${v.members.join(', ')})`)).toEqual([]);
  });

  test('every endpoint EngineName is one the SDK model documents (a plain string there, not an enum)', () => {
    const documented = documentedValuesOf('CreateEndpointMessage', 'EngineName');
    expect(documented).toEqual(expect.arrayContaining(['postgres', 'aurora-postgresql']));
    for (const template of [example, worst.template]) {
      const engines = Object.values<Json>(template.Resources)
        .filter((r) => r.Type === 'AWS::DMS::Endpoint')
        .map((r) => r.Properties.EngineName);
      expect(engines).toHaveLength(4);
      expect(engines.filter((e) => !documented.includes(e))).toEqual([]);
    }
  });

  test.each([
    ['the example app', example],
    ['the worst-case app', worst.template],
  ])('%s: task settings use documented keys, log components and values only', (_name, template) => {
    const tasks = Object.entries<Json>(template.Resources).filter(([, r]) => r.Type === 'AWS::DMS::ReplicationTask');
    expect(tasks).toHaveLength(2); // forward and the way back
    const problems: string[] = [];
    for (const [id, task] of tasks) {
      const settings = JSON.parse(task.Properties.ReplicationTaskSettings);
      for (const [section, value] of Object.entries<Json>(settings)) {
        const documented = DOCUMENTED_TASK_SETTINGS_KEYS[section];
        if (!documented) {
          problems.push(`${id}: section ${section} is not in the documented list`);
          continue;
        }
        for (const key of Object.keys(value)) {
          if (!documented.includes(key)) problems.push(`${id}: ${section}.${key} is not documented`);
        }
      }
      for (const { Id, Severity } of settings.Logging.LogComponents) {
        if (!DOCUMENTED_LOG_COMPONENTS.includes(Id)) problems.push(`${id}: log component ${Id} is not documented`);
        if (!DOCUMENTED_LOG_SEVERITIES.includes(Severity)) problems.push(`${id}: severity ${Severity}`);
      }
      if (!DOCUMENTED_TARGET_TABLE_PREP_MODES.includes(settings.FullLoadSettings.TargetTablePrepMode)) {
        problems.push(`${id}: TargetTablePrepMode ${settings.FullLoadSettings.TargetTablePrepMode}`);
      }
      if (!DOCUMENTED_VALIDATION_MODES.includes(settings.ValidationSettings.ValidationMode)) {
        problems.push(`${id}: ValidationMode ${settings.ValidationSettings.ValidationMode}`);
      }
      for (const [key, value] of Object.entries<Json>(settings.ErrorBehavior ?? {})) {
        if (/^ApplyError.*Policy$/.test(key) && !DOCUMENTED_APPLY_ERROR_POLICIES.includes(value)) {
          problems.push(`${id}: ErrorBehavior.${key} ${value}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  describe('Lambda environments, resolved to realistic ARNs, at the props worst case', () => {
    const resolver = templateResolver(worst.template, worst.stack.stackName);
    const functions = Object.entries<Json>(worst.template.Resources).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment,
    );
    const sizes = Object.fromEntries(
      functions.map(([id, fn]) => {
        const variables = resolver.resolve(fn.Properties.Environment.Variables) as Record<string, string>;
        for (const [k, v] of Object.entries(variables)) {
          if (typeof v !== 'string') throw new Error(`${id}: ${k} did not resolve to a string: ${JSON.stringify(v)}`);
        }
        return [id, { variables, size: environmentSize(variables) }];
      }),
    );

    test('every reference resolved; the cutover functions are all measured', () => {
      const ids = Object.keys(sizes);
      for (const role of ['Database', 'Replication', 'Traffic', 'Watchdog']) {
        expect(ids).toEqual(expect.arrayContaining([expect.stringContaining(`Cutover${role}Function`)]));
      }
      for (const { variables } of Object.values(sizes)) {
        expect(JSON.stringify(variables)).not.toMatch(/"(Ref|Fn::[A-Za-z]+)"/);
      }
    });

    test('the source CA is at the cap and the database function has every worst-case variable', () => {
      const [, database] = Object.entries(sizes).find(([id]) => id.includes('CutoverDatabaseFunction'))!;
      expect(database.variables.SOURCE_DB_SSL_MODE).toBe('verify-full');
      expect(database.variables.REVERSE_REPLICATION_TASK_ARN).toMatch(/^arn:aws:dms:ap-southeast-5:123456789012:task:/);
    });

    test('every function environment is at most 4 KB', () => {
      const report = Object.entries(sizes).map(([id, s]) => `${id}: ${s.size.json} bytes`);
      const over = Object.entries(sizes)
        .filter(([, s]) => s.size.json > LAMBDA_ENVIRONMENT_LIMIT_BYTES)
        .map(([id, s]) => `${id}: ${s.size.json} bytes (keys and values ${s.size.keysAndValues})`);
      expect({ over, report }).toEqual({ over: [], report });
    });
  });
});
