/**
 * The construct/handler environment contract: what CutoverWorkflow writes into each function's environment is
 * what lambda/handlers/environment.ts reads for the steps that function serves, and each function's role lets
 * those steps make their AWS calls: each function, built from its own environment, makes the calls of its steps
 * through the real adapters, and each call is evaluated by an IAM policy simulator against THAT function's policies
 * in the template (test/support/iam-authorizer.ts); a call they do not allow fails with AccessDeniedException.
 *
 * What each step uses comes from its declaration in contract/steps.ts (STEP_SPECS); that the steps' code keeps to
 * it is shown by test/integration/production-path.test.ts, which runs them with each function's own environment.
 */
import { StopReplicationTaskCommand } from '@aws-sdk/client-database-migration-service';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { resolveIntrinsics } from '../../../rehearsal/local/resolve-intrinsics';
import {
  accessOf,
  dependenciesOf,
  ENVIRONMENT_VARIABLES,
  STEP_SPECS,
  type CutoverDirection,
  type StepAccess,
  type StepEvent,
  type StepName,
} from '../../../contract';
import { depsFor } from '../../../lambda/engine/cutover/directions';
import type { CutoverWorkflowProps } from '../../../lib/cutover/cutover-workflow';
import type { CutoverDeps } from '../../../lambda/engine/cutover/deps';
import { DmsTaskReplication } from '../../../lambda/engine/replication/dms-task-replication';
import { Route53RecordTrafficSwitch } from '../../../lambda/engine/traffic/route53-record-traffic-switch';
import { SecretTrafficSwitch } from '../../../lambda/engine/traffic/secret-traffic-switch';
import { SsmParameterTrafficSwitch } from '../../../lambda/engine/traffic/ssm-parameter-traffic-switch';
import { allowedSteps, createDepsFromEnvironment } from '../../../lambda/handlers/environment';
import { createStepHandler, parseExecutionInput, stateKey } from '../../../lambda/engine/cutover/steps';
import { restoreAfterAbort } from '../../../lambda/engine/cutover/watchdog';
import type { CutoverFunctionRole } from '../../../contract';
import { TrafficSwitchTarget } from '../../../lib/cutover/traffic-switch';
import type { TrackingRecord, TrafficSwitch } from '../../../lambda/engine/ports';
import { mockAwsBehindIam } from '../../support/aws-behind-iam';
import { iamAuthorizer, TEST_ENVIRONMENT, withoutStatements, type IamAuthorizer } from '../../support/iam-authorizer';
import type { IamRequest } from '../../support/iam-requests';
import { intrinsicValuesOf, templateResolver, type TemplateResolver } from '../../support/resolve-template';
import { REVERSE_TASK_ARN, reverseReplicationBinding, TASK_ARN, workflowStack } from './support';

const { account: ACCOUNT, region: REGION } = TEST_ENVIRONMENT;
const STACK_NAME = 'Test';
const SOURCE_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:source-AbCdEf`;
const TARGET_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:target-AbCdEf`;
const LAG_ALARM_ARN = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:zdm-lag-source`;

// ---- what each step uses (read from lambda/engine/cutover/) ------------------------------------------------------

type Dependency = Exclude<keyof CutoverDeps, 'now'>;

/** Dependencies each step touches: the contract's declaration (the production-path test runs the steps with them). */
const STEP_USES = (step: StepName): readonly Dependency[] => STEP_SPECS[step].deps;

/** The application's endpoint before and after a switch. */
const SWITCHED_TO = 'target.example.com';

async function useSwitch(traffic: TrafficSwitch | undefined): Promise<void> {
  if (!traffic) return;
  await traffic.current();
  await traffic.switchTo(SWITCHED_TO);
}

/**
 * The AWS calls each declared access stands for, made through the real adapters: `deps` are the direction's (the
 * fallback reads the reverse task where the cutover reads the forward one), `forward` the function's own.
 */
const ACCESS_CALLS: Record<StepAccess, (deps: CutoverDeps, forward: CutoverDeps) => Promise<unknown>> = {
  databaseSecrets: async (deps) => [await deps.source(), await deps.target()],
  replicationStatus: (deps) => deps.replication.status(),
  stopReplication: (deps) => deps.replication.stop(),
  disableAlarmActions: async (deps) => deps.alarms?.disable(),
  trafficSwitch: (deps) => useSwitch(deps.traffic),
  readTrafficSwitch: (deps) => useSwitch(deps.readTraffic),
  // describe and read its lag, stop it, start it again (StartReverse, CloseWayBack); its alarms' actions on and off
  reverseReplication: async (_deps, { reverse, reverseAlarms }) => {
    if (!reverse) return; // granted only with a reverse replication
    await reverse.status();
    await reverse.stop();
    await reverse.start('0/16B3748');
    await reverseAlarms?.enable();
    await reverseAlarms?.disable();
  },
  // the fallback's status steps read the reverse task as their `replication`; the way back's watch (forward) reads it
  // as `reverse` (the same task either way); granted only with a reverse replication
  reverseStatus: async (_deps, { reverse }) => reverse?.status(),
  stopReverse: (deps) => deps.replication.stop(),
  disableReverseAlarmActions: async (deps) => deps.alarms?.disable(),
  tableStatistics: async (deps) => deps.replication.progress?.(),
  readCutoverMetrics: async (deps) => deps.cutoverMetrics?.verificationBacklog(),
};

/** Phase bookkeeping, as every step that keeps state does it: the record created or read, updated, notified. */
async function keepPhase(deps: CutoverDeps, step: StepName): Promise<void> {
  const now = new Date(0).toISOString();
  await deps.state.ensure('contract', 'execute', now);
  await deps.state.setStatus('contract', 'running', now);
  await deps.state.get('contract');
  await deps.notifier.notify(`zdm contract: ${step}`, 'a phase notice');
}

// ---- the four traffic switch configurations -------------------------------------------------------------------

interface Case {
  readonly name: string;
  /** Adds the switch to the stack; returns it with what the handler must end up with. */
  readonly make: (stack: Stack) => {
    readonly trafficSwitch?: TrafficSwitchTarget;
    readonly adapter?: new (...args: never[]) => unknown;
    /** The adapter's description, given the template's physical names. */
    readonly description?: (ref: (logicalId: string) => string) => string;
    /** What IAM authorizes when the switch is read and written (each action once). */
    readonly switchCalls: (ref: (logicalId: string) => string) => IamRequest[];
  };
}

const CASES: readonly Case[] = [
  { name: 'no traffic switch', make: () => ({ switchCalls: () => [] }) },
  {
    name: 'an SSM parameter',
    make: (stack) => ({
      trafficSwitch: TrafficSwitchTarget.ssmParameter(
        ssm.StringParameter.fromStringParameterName(stack, 'HostParameter', '/app/db-host'),
      ),
      adapter: SsmParameterTrafficSwitch,
      description: () => 'SSM parameter /app/db-host',
      switchCalls: () =>
        ['ssm:GetParameter', 'ssm:PutParameter'].map((action) => ({
          action,
          resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/app/db-host`,
        })),
    }),
  },
  {
    name: 'a secret',
    make: (stack) => {
      const secret = new secretsmanager.Secret(stack, 'AppSecret');
      const logicalId = stack.getLogicalId(secret.node.defaultChild as secretsmanager.CfnSecret);
      return {
        trafficSwitch: TrafficSwitchTarget.secret(secret),
        adapter: SecretTrafficSwitch,
        // a Secret's Ref is its ARN
        description: (ref) => `secret ${ref(logicalId)} (field "host")`,
        switchCalls: (ref) =>
          ['GetSecretValue', 'PutSecretValue'].map((action) => ({
            action: `secretsmanager:${action}`,
            resource: ref(logicalId),
          })),
      };
    },
  },
  {
    name: 'a Route 53 record',
    make: (stack) => {
      const zone = new route53.PublicHostedZone(stack, 'Zone', { zoneName: 'example.com' });
      const logicalId = stack.getLogicalId(zone.node.defaultChild as route53.CfnHostedZone);
      return {
        trafficSwitch: TrafficSwitchTarget.route53Record(zone, 'DB.Example.com.'),
        adapter: Route53RecordTrafficSwitch,
        description: (ref) => `CNAME db.example.com in hosted zone ${ref(logicalId)}`,
        switchCalls: (ref) =>
          ['ListResourceRecordSets', 'ChangeResourceRecordSets'].map((action) => ({
            action: `route53:${action}`,
            resource: `arn:aws:route53:::hostedzone/${ref(logicalId)}`,
          })),
      };
    },
  },
];

// ---- helpers ----------------------------------------------------------------------------------------------

/** A database secret of the test stack: the side is in its name. */
const databaseSecret = (secretId: string): string =>
  JSON.stringify({
    host: `${secretId.includes('source') ? 'source' : 'target'}.example.com`,
    port: 5432,
    username: 'zdm',
    password: 'not-a-password',
    dbname: 'app',
  });

const aws = mockAwsBehindIam({
  // the traffic switch's secret holds the application's connection, the database secrets theirs
  secrets: (secretId) =>
    secretId.includes('AppSecret') ? JSON.stringify({ host: 'source.example.com' }) : databaseSecret(secretId),
  tasks: [TASK_ARN, REVERSE_TASK_ARN],
  parameters: { '/app/db-host': 'source.example.com' },
  cname: 'source.example.com',
});

beforeEach(() => aws.reset());

interface Synthesized {
  readonly cutoverFunctionIds: readonly string[];
  readonly workflowFunctionIds: readonly string[];
  readonly env: Partial<Record<CutoverFunctionRole, Record<string, string>>>;
  readonly policies: Partial<Record<CutoverFunctionRole, Array<{ Action: string | string[]; Resource: unknown }>>>;
  readonly expected: ReturnType<Case['make']>;
  /** The template's physical names, as the environment and the policies are resolved with. */
  readonly resolver: TemplateResolver;
  /** The template JSON and each function's logical id, to build its IAM authorizer. */
  readonly template: Record<string, unknown>;
  readonly functionIds: Partial<Record<CutoverFunctionRole, string>>;
}

function synthesize(c: Case, extra: (stack: Stack) => Partial<CutoverWorkflowProps> = () => ({})): Synthesized {
  let expected: ReturnType<Case['make']> | undefined;
  const { stack, workflow } = workflowStack((s) => {
    expected = c.make(s);
    return { ...(expected.trafficSwitch ? { trafficSwitch: expected.trafficSwitch } : {}), ...extra(s) };
  });
  expect(stack.stackName).toBe(STACK_NAME);
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const resolver = templateResolver(json, STACK_NAME, TEST_ENVIRONMENT);
  const values = intrinsicValuesOf(resolver, TEST_ENVIRONMENT);
  const resolveString = (value: unknown): string => {
    const out = resolveIntrinsics(value, values);
    if (Array.isArray(out)) throw new Error(`expected a string, got the list ${JSON.stringify(out)}`);
    return out;
  };
  const functions = template.findResources('AWS::Lambda::Function');
  const policies = template.findResources('AWS::IAM::Policy');
  const env: Synthesized['env'] = {};
  const statements: Synthesized['policies'] = {};
  const functionIds: Synthesized['functionIds'] = {};
  for (const [role, fn] of Object.entries(workflow.functions) as Array<[CutoverFunctionRole, lambda.IFunction]>) {
    const fnId = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
    functionIds[role] = fnId;
    const variables = (functions[fnId].Properties as { Environment: { Variables: Record<string, unknown> } })
      .Environment.Variables;
    env[role] = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolveString(v)]));
    const policyId = stack.getLogicalId(fn.role!.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy);
    statements[role] = (
      policies[policyId].Properties as {
        PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
      }
    ).PolicyDocument.Statement;
  }
  // the template's cutover functions (those with ALLOWED_STEPS)
  const cutoverFunctionIds = Object.entries(functions)
    .filter(
      ([, f]) =>
        (f.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables
          ?.ALLOWED_STEPS,
    )
    .map(([id]) => id)
    .sort();
  const workflowFunctionIds = Object.values(workflow.functions)
    .map((fn) => stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction))
    .sort();
  return {
    env,
    policies: statements,
    expected: expected!,
    cutoverFunctionIds,
    workflowFunctionIds,
    resolver,
    template: json,
    functionIds,
  };
}

/** IAM for the function `role` of `synthesized` (of `template`: the synthesized one, or a changed copy). */
function authorizerOf(
  synthesized: Synthesized,
  role: CutoverFunctionRole,
  template = synthesized.template,
): IamAuthorizer {
  return iamAuthorizer(template, STACK_NAME, synthesized.functionIds[role]!, TEST_ENVIRONMENT);
}

/**
 * Runs, as the function `role`, the AWS calls of each step it serves in each of `directions` (bookkeeping and
 * declared access); returns the failures, and the IAM decisions made.
 */
async function makeCallsOfSteps(
  synthesized: Synthesized,
  role: CutoverFunctionRole,
  directions: readonly CutoverDirection[],
  authorizer = authorizerOf(synthesized, role),
): Promise<{ failures: string[]; authorizer: IamAuthorizer }> {
  const env = synthesized.env[role]!;
  const forward = depsOf(env);
  const failures: string[] = [];
  for (const direction of directions) {
    const deps = depsFor(forward, direction);
    for (const step of allowedSteps(env)) {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ...((dependenciesOf(step, direction) as readonly string[]).includes('state')
          ? [['bookkeeping', () => keepPhase(deps, step)] as [string, () => Promise<unknown>]]
          : []),
        ...accessOf(step, direction).map(
          (access) => [access, () => ACCESS_CALLS[access](deps, forward)] as [string, () => Promise<unknown>],
        ),
      ];
      for (const [what, call] of calls) {
        // each access starts from running tasks (a stop is a real StopReplicationTask)
        for (const task of [TASK_ARN, REVERSE_TASK_ARN]) aws.tasks.set(task, 'running');
        try {
          await aws.asFunction(authorizer, call);
        } catch (error) {
          failures.push(`${role} ${direction} ${step} ${what}: ${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    }
  }
  return { failures, authorizer };
}

/** Touches `dependency` the way the steps do; source/target resolve through the (mocked) Secrets Manager. */
async function touch(deps: CutoverDeps, dependency: Dependency): Promise<unknown> {
  if (dependency === 'source' || dependency === 'target') return deps[dependency]();
  return deps[dependency];
}

function depsOf(env: Record<string, string>): CutoverDeps {
  return createDepsFromEnvironment(env);
}

function servesSwitchTraffic(env: Record<string, string>): boolean {
  return allowedSteps(env).includes('switchTraffic');
}

function actionsOf(statements: Array<{ Action: string | string[] }>): Set<string> {
  return new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
}

// ---- tests ------------------------------------------------------------------------------------------------

/**
 * The functions that connect to the databases: the database function, and the watchdog (it restores the frozen
 * roles and drops the tracking slots after an execution ends badly).
 */
const DATABASE_ROLES: readonly CutoverFunctionRole[] = ['database', 'watchdog'];

describe.each(CASES)('environment contract with $name', (c) => {
  const synthesized = synthesize(c);
  const roles = Object.keys(synthesized.env) as CutoverFunctionRole[];

  test('the cutover functions of the template are the workflow functions', () => {
    expect(synthesized.cutoverFunctionIds).toEqual(synthesized.workflowFunctionIds);
    expect(roles.sort()).toEqual(
      c.name === 'no traffic switch'
        ? ['database', 'digest', 'replication', 'watchdog']
        : ['database', 'digest', 'replication', 'traffic', 'watchdog'],
    );
  });

  test('every variable the construct writes is one the handler reads', () => {
    for (const role of roles) {
      const unknown = Object.keys(synthesized.env[role]!).filter(
        (name) =>
          !['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'].includes(name) &&
          !(ENVIRONMENT_VARIABLES as readonly string[]).includes(name),
      );
      expect({ role, unknown }).toEqual({ role, unknown: [] });
    }
  });

  test('each function builds every dependency its allowed steps use', async () => {
    for (const role of roles) {
      const env = synthesized.env[role]!;
      const deps = depsOf(env);
      const authorizer = authorizerOf(synthesized, role);
      const failures: string[] = [];
      for (const step of allowedSteps(env)) {
        for (const dependency of STEP_USES(step)) {
          try {
            await aws.asFunction(authorizer, () => touch(deps, dependency));
          } catch (error) {
            failures.push(`${role} ${step} ${dependency}: ${(error as Error).message}`);
          }
        }
      }
      expect(failures).toEqual([]);
      // the handler serves exactly the steps the construct assigned
      expect(allowedSteps(env).length).toBeGreaterThan(0);
    }
  });

  test('the values are the configured ones', async () => {
    for (const role of roles) {
      const env = synthesized.env[role]!;
      const deps = depsOf(env);
      const uses = new Set(allowedSteps(env).flatMap((step) => STEP_USES(step)));
      if (uses.has('replication')) {
        expect(deps.replication).toBeInstanceOf(DmsTaskReplication);
        expect(deps.replication.description).toBe(`AWS DMS task ${TASK_ARN}`);
      }
      if (uses.has('tables')) expect(deps.tables).toEqual({ include: [{ schema: 'public' }] });
      if (uses.has('source')) {
        const authorizer = authorizerOf(synthesized, role);
        await aws.asFunction(authorizer, async () => {
          await expect(deps.source()).resolves.toMatchObject({ host: 'source.example.com' });
          await expect(deps.target()).resolves.toMatchObject({ host: 'target.example.com' });
        });
        expect(authorizer.decisions).toEqual([
          { action: 'secretsmanager:GetSecretValue', resource: SOURCE_SECRET_ARN, result: 'Allowed' },
          { action: 'secretsmanager:GetSecretValue', resource: TARGET_SECRET_ARN, result: 'Allowed' },
        ]);
      }
      if (uses.has('defaults')) expect(deps.defaults).toMatchObject({ applicationRoles: ['app_rw'] });
      if (uses.has('alarms')) expect(env.LAG_ALARM_NAMES).toBe('["zdm-lag-source"]');
    }
  });

  test('the function serving switchTraffic gets the configured switch', () => {
    const serving = roles.filter((role) => servesSwitchTraffic(synthesized.env[role]!));
    expect(serving).toEqual([synthesized.expected.trafficSwitch ? 'traffic' : 'database']);
    const deps = createDepsFromEnvironment(synthesized.env[serving[0]]!);
    if (!synthesized.expected.adapter) {
      expect(synthesized.env[serving[0]]!.TRAFFIC_SWITCH_KIND).toBe('none');
      expect(deps.traffic).toBeUndefined();
    } else {
      expect(deps.traffic).toBeInstanceOf(synthesized.expected.adapter);
      expect(deps.traffic!.description).toBe(synthesized.expected.description!(synthesized.resolver.ref));
      expect(synthesized.env[serving[0]]!.TRAFFIC_SWITCH_KIND).toBe(synthesized.expected.trafficSwitch!.kind);
    }
    // no other function knows the switch
    for (const role of roles.filter((r) => r !== serving[0])) {
      expect(Object.keys(synthesized.env[role]!).filter((k) => k.startsWith('TRAFFIC_SWITCH_'))).toEqual([]);
    }
  });

  test('each function makes the AWS calls of its steps, and its own policies allow every one (IAM simulated)', async () => {
    for (const role of roles) {
      const { failures, authorizer } = await makeCallsOfSteps(synthesized, role, ['forward']);
      expect({ role, failures }).toEqual({ role, failures: [] });
      expect(authorizer.decisions.length).toBeGreaterThan(0);
    }
  });

  test('the traffic switch is read and written by the function serving switchTraffic, on its one resource', async () => {
    const serving = roles.find((role) => servesSwitchTraffic(synthesized.env[role]!))!;
    const { authorizer } = await makeCallsOfSteps(synthesized, serving, ['forward']);
    const switchCalls = authorizer.decisions
      .filter((d) => /^(ssm|route53|secretsmanager):/.test(d.action))
      .filter((d) => ![SOURCE_SECRET_ARN, TARGET_SECRET_ARN].includes(d.resource))
      .map(({ action, resource }) => JSON.stringify({ action, resource }));
    expect([...new Set(switchCalls)].map((call) => JSON.parse(call) as IamRequest)).toEqual(
      synthesized.expected.switchCalls(synthesized.resolver.ref),
    );
  });

  test("TLS per side on the functions that connect to the databases only; the handler turns it into each side's pg ssl", async () => {
    for (const role of roles) {
      const env = synthesized.env[role]!;
      const tls = Object.keys(env).filter((name) => name.includes('_DB_SSL_'));
      if (!DATABASE_ROLES.includes(role)) {
        expect({ role, tls }).toEqual({ role, tls: [] });
        continue;
      }
      expect(tls.sort()).toEqual(['SOURCE_DB_SSL_MODE', 'TARGET_DB_SSL_MODE']);
      const deps = depsOf(env);
      await aws.asFunction(authorizerOf(synthesized, role), async () => {
        expect(await deps.source()).toHaveProperty('ssl', { rejectUnauthorized: false });
        // the default trust store (with NODE_EXTRA_CA_CERTS, the RDS CA): no `ca` of its own
        expect(await deps.target()).toHaveProperty('ssl', { rejectUnauthorized: true });
      });
    }
  });

  test('only the database and watchdog functions see or read the database secrets', () => {
    for (const role of roles) {
      const secretReads = synthesized.policies[role]!.filter(
        (s) =>
          actionsOf([s]).has('secretsmanager:GetSecretValue') &&
          [SOURCE_SECRET_ARN, TARGET_SECRET_ARN].includes(s.Resource as string),
      );
      const variables = Object.keys(synthesized.env[role]!).filter((k) => /^(SOURCE|TARGET)_SECRET_ARN$/.test(k));
      if (DATABASE_ROLES.includes(role)) {
        expect({ role, secretReads: secretReads.length }).toEqual({ role, secretReads: 2 });
        expect(variables.sort()).toEqual(['SOURCE_SECRET_ARN', 'TARGET_SECRET_ARN']);
      } else {
        expect({ role, secretReads, variables }).toEqual({ role, secretReads: [], variables: [] });
      }
    }
  });

  test('alarm actions: exactly the lag alarm, disabled for stopReplication, never enabled', () => {
    for (const role of roles) {
      const steps = allowedSteps(synthesized.env[role]!);
      const toggles = synthesized.policies[role]!.filter((s) =>
        [...actionsOf([s])].some((a) => a.endsWith('AlarmActions')),
      );
      const expectedActions = steps.includes('stopReplication') ? ['cloudwatch:DisableAlarmActions'] : [];
      expect(toggles.flatMap((s) => [...actionsOf([s])]).sort()).toEqual(expectedActions);
      for (const s of toggles) expect(s.Resource).toBe(LAG_ALARM_ARN);
    }
  });
});

describe('with a customer managed key on the state table', () => {
  const synthesized = synthesize(CASES[0], (stack) => ({ encryptionKey: new kms.Key(stack, 'Key') }));
  const keyArn = synthesized.resolver.getAtt(
    Object.keys((synthesized.template as { Resources: Record<string, { Type: string }> }).Resources).find(
      (id) =>
        (synthesized.template as { Resources: Record<string, { Type: string }> }).Resources[id].Type ===
        'AWS::KMS::Key',
    )!,
    'Arn',
  );

  test('each function that keeps state may also use the key for its state record (kms:Decrypt, IAM simulated)', async () => {
    const roles = Object.keys(synthesized.env) as CutoverFunctionRole[];
    // The digest keeps no state (its own test shows it gets no grant on the table).
    const keeping = roles.filter((role) =>
      allowedSteps(synthesized.env[role]!).some((step) => STEP_USES(step).includes('state')),
    );
    expect(keeping.length).toBeGreaterThan(0);
    for (const role of roles) {
      const { failures, authorizer } = await makeCallsOfSteps(synthesized, role, ['forward']);
      expect({ role, failures }).toEqual({ role, failures: [] });
      const decrypt = { action: 'kms:Decrypt', resource: keyArn, result: 'Allowed' };
      if (keeping.includes(role)) expect(authorizer.decisions).toContainEqual(decrypt);
      else expect(authorizer.decisions.filter((d) => d.action.startsWith('kms:'))).toEqual([]);
    }
  });

  test('a function whose policies lose the key cannot read its state record', async () => {
    const { template, removed } = withoutStatements(synthesized.template, synthesized.functionIds.watchdog!, (s) =>
      actionsOf([s]).has('kms:Decrypt'),
    );
    expect(removed).toHaveLength(1);
    const deps = depsOf(synthesized.env.watchdog!);
    await expect(
      aws.asFunction(authorizerOf(synthesized, 'watchdog', template), () => deps.state.get('orders')),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`is not authorized to perform: kms:Decrypt on resource: ${keyArn}`),
    });
  });
});

describe('the contract check itself', () => {
  const synthesized = synthesize(CASES[0]);
  const { env } = synthesized;

  test('fails when a function lacks a variable its steps need', async () => {
    const { REPLICATION_TASK_ARN: _arn, ...replicationEnv } = env.replication!;
    await expect(touch(depsOf(replicationEnv), 'replication')).rejects.toThrow(
      /environment variable REPLICATION_TASK_ARN is not set/,
    );
    const { SOURCE_SECRET_ARN: _source, ...databaseEnv } = env.database!;
    await expect(touch(depsOf(databaseEnv), 'source')).rejects.toThrow(
      /environment variable SOURCE_SECRET_ARN is not set/,
    );
  });

  test('fails when the replication function is asked for the database secrets', async () => {
    await expect(touch(depsOf(env.replication!), 'source')).rejects.toThrow(/SOURCE_SECRET_ARN is not set/);
  });

  test('fails on an AWS call whose IAM action it does not know (a new call cannot go unchecked)', async () => {
    await expect(authorizerOf(synthesized, 'database').authorize(new ListSecretsCommand({}))).rejects.toThrow(
      /no IAM action is mapped for ListSecretsCommand/,
    );
  });

  test('fails when the watchdog function is asked for the replication task (it never stops it)', async () => {
    expect(allowedSteps(env.watchdog!)).toEqual(['watchdog']);
    await expect(touch(depsOf(env.watchdog!), 'replication')).rejects.toThrow(/REPLICATION_TASK_ARN is not set/);
  });
});

describe('with the way back: each function serves its steps in the cutover and in the fallback machine', () => {
  const synthesized = synthesize(CASES[1], (stack) => ({
    reverseReplication: reverseReplicationBinding(stack),
    fallbackEndpoint: 'db.internal',
  }));
  const roles = Object.keys(synthesized.env) as CutoverFunctionRole[];
  const DIRECTIONS: readonly CutoverDirection[] = ['forward', 'fallback'];

  test('each function builds, from its own environment, every dependency its steps read in either direction', async () => {
    const failures: string[] = [];
    for (const role of roles) {
      const env = synthesized.env[role]!;
      for (const direction of DIRECTIONS) {
        const deps = depsFor(depsOf(env), direction);
        const authorizer = authorizerOf(synthesized, role);
        for (const step of allowedSteps(env)) {
          for (const dependency of dependenciesOf(step, direction)) {
            try {
              await aws.asFunction(authorizer, () => touch(deps, dependency as Dependency));
            } catch (error) {
              failures.push(`${role} ${direction} ${step} ${dependency}: ${(error as Error).message}`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    // The fallback's StopReplication stops the reverse task: the function that serves it knows that task.
    const stopping = roles.filter((role) => allowedSteps(synthesized.env[role]!).includes('stopReplication'));
    expect(stopping).toEqual(['replication']);
    const fallbackReplication = depsFor(depsOf(synthesized.env.replication!), 'fallback').replication;
    expect(fallbackReplication.description).toContain(REVERSE_TASK_ARN);
  });

  test('each function makes the AWS calls of its steps in either direction, and its own policies allow every one', async () => {
    for (const role of roles) {
      const { failures, authorizer } = await makeCallsOfSteps(synthesized, role, DIRECTIONS);
      expect({ role, failures }).toEqual({ role, failures: [] });
      // the fallback's stop is a StopReplicationTask on the reverse task, allowed for the replication function
      if (role === 'replication') {
        expect(authorizer.decisions).toContainEqual({
          action: 'dms:StopReplicationTask',
          resource: REVERSE_TASK_ARN,
          result: 'Allowed',
        });
      }
    }
  });

  test('only the functions that serve the way back may stop the reverse task', async () => {
    for (const role of roles) {
      const stops = allowedSteps(synthesized.env[role]!).some((step) =>
        accessOf(step, 'fallback').some((a) => a === 'reverseReplication' || a === 'stopReverse'),
      );
      const stop = authorizerOf(synthesized, role).authorize(
        new StopReplicationTaskCommand({ ReplicationTaskArn: REVERSE_TASK_ARN }),
      );
      if (stops) await expect(stop).resolves.toBeUndefined();
      else await expect(stop).rejects.toMatchObject({ name: 'AccessDeniedException' });
    }
    expect(roles.filter((role) => role === 'database' || role === 'replication')).toHaveLength(2);
  });

  describe("the fallback's StopReplication, run by the replication function", () => {
    const env = synthesized.env.replication!;
    const run = async (template: Record<string, unknown>): Promise<unknown> => {
      const deps = depsOf(env);
      const input = parseExecutionInput(
        { migrationId: 'orders', mode: 'execute', applicationRoles: ['app_rw'] },
        deps,
        'fallback',
      );
      return aws.asFunction(authorizerOf(synthesized, 'replication', template), async () => {
        await deps.state.ensure(stateKey(input), 'execute', input.startedAt);
        return createStepHandler(deps)({ step: 'stopReplication', input });
      });
    };

    test('stops the reverse task with the template as synthesized', async () => {
      await expect(run(synthesized.template)).resolves.toMatchObject({ stopped: true, state: 'stopped' });
      expect(
        aws.tasks.describe({ Filters: [{ Name: 'replication-task-arn', Values: [REVERSE_TASK_ARN] }] }),
      ).toMatchObject({ ReplicationTasks: [{ Status: 'stopped' }] });
    });

    test('fails with AccessDeniedException when the template loses its dms:StopReplicationTask on the reverse task', async () => {
      const { template, removed } = withoutStatements(
        synthesized.template,
        synthesized.functionIds.replication!,
        (s) =>
          actionsOf([s]).has('dms:StopReplicationTask') &&
          JSON.stringify(s.Resource) === JSON.stringify(REVERSE_TASK_ARN),
      );
      expect(removed).toEqual([{ Effect: 'Allow', Action: 'dms:StopReplicationTask', Resource: REVERSE_TASK_ARN }]);
      await expect(run(template)).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining(
          `is not authorized to perform: dms:StopReplicationTask on resource: ${REVERSE_TASK_ARN}`,
        ),
      });
      // the task is still running: the stop never reached DMS
      expect(
        aws.tasks.describe({ Filters: [{ Name: 'replication-task-arn', Values: [REVERSE_TASK_ARN] }] }),
      ).toMatchObject({ ReplicationTasks: [{ Status: 'running' }] });
    });
  });

  test("the way back's watch runs on the database function: its schedule's step, the reverse task's status allowed, no secret read while the task is stopped", async () => {
    const env = synthesized.env.database!;
    expect(allowedSteps(env)).toContain('watchWayBack');
    const authorizer = authorizerOf(synthesized, 'database');
    aws.tasks.set(REVERSE_TASK_ARN, 'stopped');
    const result = await aws.asFunction(authorizer, () =>
      createStepHandler(depsOf(env))({ step: 'watchWayBack' } as StepEvent),
    );
    expect(result).toMatchObject({ open: false, reverseState: 'stopped', notified: false });
    const decisions = [...new Set(authorizer.decisions.map((d) => `${d.action} ${d.result}`))];
    expect(decisions).toContain('dms:DescribeReplicationTasks Allowed');
    expect(decisions.filter((d) => !d.endsWith('Allowed'))).toEqual([]);
    // neither database is reached, nor even its secret read: the old source may be gone
    expect(decisions.filter((d) => d.startsWith('secretsmanager:'))).toEqual([]);
  });

  test('the watchdog, after a fallback ended past the point of no return, reads the record and notifies', async () => {
    const deps = depsOf(synthesized.env.watchdog!);
    const authorizer = authorizerOf(synthesized, 'watchdog');
    const key = stateKey({ migrationId: 'orders', mode: 'execute', startedAt: '', direction: 'fallback' });
    const at = new Date(0).toISOString();
    const report = await aws.asFunction(authorizer, async () => {
      await deps.state.ensure(key, 'execute', at);
      await deps.state.setPointOfNoReturnIfAbsent(key, { what: 'traffic-switched', at });
      // only the slot names are read past the point of no return (no database connection)
      await deps.state.putTracking(key, {
        source: { slot: 'zdm_trk_source', publication: 'zdm_pub', startLsn: '0/1' },
        target: { slot: 'zdm_trk_target', publication: 'zdm_pub', startLsn: '0/1' },
      } as unknown as TrackingRecord);
      return restoreAfterAbort(deps, 'orders', 'TIMED_OUT', 'execute', { direction: 'fallback' });
    });
    expect(report.outcome).toBe('past-point-of-no-return');
    expect([...new Set(authorizer.decisions.map((d) => `${d.action} ${d.result}`))].sort()).toEqual([
      'dynamodb:GetItem Allowed',
      'dynamodb:PutItem Allowed',
      'dynamodb:UpdateItem Allowed',
      'sns:Publish Allowed',
    ]);
  });
});
