/**
 * The real-AWS integration test (test/integ/integ.zero-downtime-migration.ts), checked offline: its app is built
 * in-process, the stack under test and the IntegTest's assertion stack are synthesized, and their templates are
 * compared with the committed snapshot (asset hashes masked). A change to the construct that changes what the
 * integ run would deploy shows here first; the key facts the run relies on are asserted by name as well.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import type { CloudFormationStackArtifact } from 'aws-cdk-lib/cx-api';
import { maskAssetHashes } from '../support/masked-template';
import { MIGRATION_ID, buildIntegApp } from './integ.zero-downtime-migration';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

let outdir: string;
let stack: CloudFormationStackArtifact;
let assertions: CloudFormationStackArtifact;
let names: { cutover: string; fallback: string; task: string; runner: string };

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'zdm-integ-'));
  const built = buildIntegApp(new App({ outdir }));
  const assembly = built.app.synth();
  stack = assembly.getStackByName(built.stack.stackName);
  const others = assembly.stacks.filter((s) => s !== stack);
  expect(others).toHaveLength(1);
  assertions = others[0];
  const id = (c: { node: { defaultChild?: unknown } }) =>
    built.stack.getLogicalId(c.node.defaultChild as Parameters<typeof built.stack.getLogicalId>[0]);
  const fallback = built.stack.migration.cutover.fallbackStateMachine;
  if (!fallback) throw new Error('no fallback state machine');
  names = {
    cutover: id(built.stack.migration.stateMachine),
    fallback: id(fallback),
    task: built.stack.getLogicalId(built.stack.migration.replicationTask),
    runner: id(built.stack.sqlRunner),
  };
});

afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

function resources(artifact: CloudFormationStackArtifact, type: string): Resources {
  const all = artifact.template.Resources as Resources;
  return Object.fromEntries(Object.entries(all).filter(([, r]) => r.Type === type));
}

/** The assertion stack's SDK calls, in template order: `service.api` with their parameters. */
function apiCalls(): { call: string; parameters: Record<string, unknown> }[] {
  return Object.values(assertions.template.Resources as Resources)
    .filter((r) => r.Type.startsWith('Custom::DeployAssert@SdkCall'))
    .map((r) => ({
      call: `${r.Properties?.service}.${r.Properties?.api}`,
      parameters: (r.Properties?.parameters ?? {}) as Record<string, unknown>,
    }));
}

/** The stack's export (`Fn::ImportValue` in the assertion stack) of a logical id's resource. */
function importsOf(value: unknown, logicalId: string): boolean {
  return JSON.stringify(value).includes(logicalId);
}

describe('integration test app (offline)', () => {
  test('templates match the snapshot (asset hashes and assertion salts masked)', () => {
    // Every assertion carries `salt: Date.now()` so that each deployment runs it again: masked too.
    const assertionTemplate = JSON.parse(JSON.stringify(assertions.template), (key, value) =>
      key === 'salt' ? '<salt>' : value,
    );
    expect({
      [stack.stackName]: maskAssetHashes(stack.template),
      'assertions (DeployAssert)': maskAssetHashes(assertionTemplate),
    }).toMatchSnapshot();
  });

  test('the source is PostgreSQL 16 with logical replication on, its secret names the database', () => {
    const templates = Object.values(resources(stack, 'AWS::SecretsManager::Secret')).map(
      (r) => (r.Properties?.GenerateSecretString as { SecretStringTemplate?: string }).SecretStringTemplate,
    );
    expect(templates).toContain(JSON.stringify({ username: 'zdm_admin', dbname: 'orders' }));
    const [instance] = Object.values(resources(stack, 'AWS::RDS::DBInstance'));
    expect(instance.Properties).toMatchObject({ Engine: 'postgres', EngineVersion: '16' });
    const [group] = Object.values(resources(stack, 'AWS::RDS::DBParameterGroup'));
    expect(group.Properties?.Parameters).toEqual({ 'rds.logical_replication': '1' });
    expect(JSON.stringify(instance.Properties?.DBParameterGroupName)).toContain(
      Object.keys(resources(stack, 'AWS::RDS::DBParameterGroup'))[0],
    );
  });

  test('the target is the cheap one: a writer, no reader, no deletion protection', () => {
    expect(Object.keys(resources(stack, 'AWS::RDS::DBInstance'))).toHaveLength(2); // the source + Aurora's writer
    const [cluster] = Object.values(resources(stack, 'AWS::RDS::DBCluster'));
    expect(cluster.Properties).toMatchObject({ Engine: 'aurora-postgresql', DeletionProtection: false });
  });

  test('nothing outlives the test stack (no Retain or Snapshot policy)', () => {
    const kept = Object.entries(stack.template.Resources as Record<string, { DeletionPolicy?: string }>)
      .filter(([, r]) => r.DeletionPolicy !== undefined && r.DeletionPolicy !== 'Delete')
      .map(([logicalId, r]) => `${logicalId}: ${r.DeletionPolicy}`);
    expect(kept).toEqual([]);
  });

  test('the assertions run in order: seed, start DMS, waits, load, cutover, fallback, compare', () => {
    const calls = apiCalls();
    expect(calls.map((c) => c.call)).toEqual([
      'Lambda.invoke',
      'DMS.startReplicationTask',
      'DMS.describeReplicationTasks',
      'Lambda.invoke',
      'Lambda.invoke',
      'StepFunctions.startExecution',
      'StepFunctions.describeExecution',
      'StepFunctions.startExecution',
      'StepFunctions.describeExecution',
      'Lambda.invoke',
    ]);
    // Each resource depends on the one before it (IApiCall.next).
    const all = assertions.template.Resources as Record<string, { Type: string; DependsOn?: string[] }>;
    const ids = Object.entries(all)
      .filter(([, r]) => r.Type.startsWith('Custom::DeployAssert@SdkCall'))
      .map(([logicalId]) => logicalId);
    for (let i = 1; i < ids.length; i++) expect(all[ids[i]].DependsOn).toContain(ids[i - 1]);
  });

  test('the assertion stack starts the cutover and the fallback machine, both in execute mode', () => {
    const starts = apiCalls().filter((c) => c.call === 'StepFunctions.startExecution');
    expect(starts).toHaveLength(2);
    expect(importsOf(starts[0].parameters.stateMachineArn, names.cutover)).toBe(true);
    expect(importsOf(starts[1].parameters.stateMachineArn, names.fallback)).toBe(true);
    for (const start of starts) {
      expect(JSON.parse(JSON.parse(start.parameters.input as string))).toEqual({
        migrationId: MIGRATION_ID,
        mode: 'execute',
      });
    }
    // The providers' roles may make these calls, under the services' real IAM prefixes (a wrong SDK service name
    // gives an action like `databasemigrationservice:...`, which IAM never grants).
    const actions = new Set(JSON.stringify(resources(assertions, 'AWS::IAM::Role')).match(/"[a-z0-9-]+:[A-Za-z]+"/g));
    expect([...actions].filter((a) => !a.startsWith('"sts:')).sort()).toEqual([
      '"dms:DescribeReplicationTasks"',
      '"dms:StartReplicationTask"',
      '"lambda:Invoke"',
      '"lambda:InvokeFunction"',
      '"states:DescribeExecution"',
      '"states:StartExecution"',
    ]);
  });

  test('DMS is started on the forward task; every wait is bounded', () => {
    const [start] = apiCalls().filter((c) => c.call === 'DMS.startReplicationTask');
    expect(importsOf(start.parameters.ReplicationTaskArn, names.task)).toBe(true);
    const waiters = Object.values(resources(assertions, 'AWS::StepFunctions::StateMachine'));
    expect(waiters).toHaveLength(4); // task running, full load, cutover, fallback
    for (const waiter of waiters) {
      const definition = JSON.stringify(waiter.Properties?.DefinitionString);
      expect(definition).toMatch(/MaxAttempts\\+":\d+/);
    }
  });

  test('the SQL runner is bundled locally and reads the three secrets and the database name', () => {
    const runner = (stack.template.Resources as Resources)[names.runner];
    const env = (runner.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(env).sort()).toEqual([
      'APPLICATION_SECRET_ARN',
      'DATABASE_NAME',
      'NODE_EXTRA_CA_CERTS',
      'SOURCE_SECRET_ARN',
      'TARGET_SECRET_ARN',
    ]);
    const code = runner.Properties?.Code as { S3Key: string };
    const bundle = path.join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`, 'index.js');
    expect(fs.readFileSync(bundle, 'utf8')).toContain('zdm-integ-sql-runner');
  });
});
