/**
 * The construct/handler environment contract: what CutoverWorkflow writes into each function's environment is
 * what lambda/handlers/environment.ts reads for the steps that function serves, and each function's role lets
 * those steps make their AWS calls.
 *
 * What each step uses comes from its declaration in contract/steps.ts (STEP_SPECS); that the steps' code keeps to
 * it is shown by test/integration/production-path.test.ts, which runs them with each function's own environment.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveIntrinsics } from '../../../rehearsal/local/resolve-intrinsics';
import { clearDatabaseSecretCache } from '../../../lambda/engine/aws/database-secret';
import {
  accessOf,
  dependenciesOf,
  ENVIRONMENT_VARIABLES,
  STEP_SPECS,
  type CutoverDirection,
  type StepAccess,
  type StepName,
} from '../../../contract';
import { depsFor } from '../../../lambda/engine/cutover/directions';
import type { CutoverWorkflowProps } from '../../../lib/cutover/cutover-workflow';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { CutoverDeps } from '../../../lambda/engine/cutover/deps';
import { DmsTaskReplication } from '../../../lambda/engine/replication/dms-task-replication';
import { Route53RecordTrafficSwitch } from '../../../lambda/engine/traffic/route53-record-traffic-switch';
import { SecretTrafficSwitch } from '../../../lambda/engine/traffic/secret-traffic-switch';
import { SsmParameterTrafficSwitch } from '../../../lambda/engine/traffic/ssm-parameter-traffic-switch';
import { allowedSteps, createDepsFromEnvironment } from '../../../lambda/handlers/environment';
import type { CutoverFunctionRole } from '../../../contract';
import { TrafficSwitchTarget } from '../../../lib/cutover/traffic-switch';
import { TASK_ARN, workflowStack } from './support';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const SOURCE_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:source-AbCdEf`;
const TARGET_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:target-AbCdEf`;
const LAG_ALARM_ARN = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:zdm-lag-source`;

// ---- CloudFormation intrinsics, as the local runner resolves them ---------------------------------------------

const INTRINSICS = {
  region: REGION,
  account: ACCOUNT,
  getAtt: (id: string, attribute: string) => `arn:aws:getatt:${REGION}:${ACCOUNT}:${id}/${attribute}`,
};
const resolveString = (value: unknown): string => {
  const out = resolveIntrinsics(value, INTRINSICS);
  if (Array.isArray(out)) throw new Error(`expected a string, got the list ${JSON.stringify(out)}`);
  return out;
};

// ---- what each step uses (read from lambda/engine/cutover/) ------------------------------------------------------

type Dependency = Exclude<keyof CutoverDeps, 'now'>;

/** Dependencies each step touches: the contract's declaration (the production-path test runs the steps with them). */
const STEP_USES = (step: StepName): readonly Dependency[] => STEP_SPECS[step].deps;

const PHASE_CALLS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'sns:Publish'];
const SECRETS = ['secretsmanager:GetSecretValue'];
const STATUS = ['dms:DescribeReplicationTasks', 'cloudwatch:GetMetricData'];

/** The AWS calls each declared access stands for (DmsTaskReplication.status() describes the task, reads its lag). */
const ACCESS_CALLS: Record<StepAccess, readonly string[]> = {
  databaseSecrets: SECRETS,
  replicationStatus: STATUS,
  stopReplication: ['dms:StopReplicationTask'],
  disableAlarmActions: ['cloudwatch:DisableAlarmActions'],
  trafficSwitch: [],
  readTrafficSwitch: [],
  // granted only with a reverse replication (its own template test)
  reverseReplication: [],
  reverseStatus: STATUS,
  stopReverse: ['dms:StopReplicationTask'],
  disableReverseAlarmActions: ['cloudwatch:DisableAlarmActions'],
  tableStatistics: ['dms:DescribeTableStatistics'],
  readCutoverMetrics: ['cloudwatch:GetMetricData'],
};

/** AWS calls a step's code makes: phase bookkeeping when it keeps state, plus its declared access. */
const STEP_CALLS = (step: StepName): readonly string[] => [
  ...((STEP_SPECS[step].deps as readonly string[]).includes('state') ? PHASE_CALLS : []),
  ...STEP_SPECS[step].access.flatMap((a: StepAccess) => ACCESS_CALLS[a]),
];

// ---- the four traffic switch configurations -------------------------------------------------------------------

interface Case {
  readonly name: string;
  /** Adds the switch to the stack; returns it with what the handler must end up with. */
  readonly make: (stack: Stack) => {
    readonly trafficSwitch?: TrafficSwitchTarget;
    readonly adapter?: new (...args: never[]) => unknown;
    readonly description?: string;
    readonly calls: readonly string[];
  };
}

const CASES: readonly Case[] = [
  { name: 'no traffic switch', make: () => ({ calls: PHASE_CALLS }) },
  {
    name: 'an SSM parameter',
    make: (stack) => ({
      trafficSwitch: TrafficSwitchTarget.ssmParameter(
        ssm.StringParameter.fromStringParameterName(stack, 'HostParameter', '/app/db-host'),
      ),
      adapter: SsmParameterTrafficSwitch,
      description: 'SSM parameter /app/db-host',
      calls: [...PHASE_CALLS, 'ssm:GetParameter', 'ssm:PutParameter'],
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
        description: `secret ref-${logicalId} (field "host")`,
        calls: [...PHASE_CALLS, 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
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
        description: `CNAME db.example.com in hosted zone ref-${logicalId}`,
        calls: [...PHASE_CALLS, 'route53:ListResourceRecordSets', 'route53:ChangeResourceRecordSets'],
      };
    },
  },
];

// ---- helpers ----------------------------------------------------------------------------------------------

const secrets = mockClient(SecretsManagerClient);

beforeEach(() => {
  secrets.reset();
  clearDatabaseSecretCache();
  secrets.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => ({
    SecretString: JSON.stringify({
      host: `${input.SecretId.includes('source') ? 'source' : 'target'}.example.com`,
      port: 5432,
      username: 'zdm',
      password: 'not-a-password',
      dbname: 'app',
    }),
  }));
});

interface Synthesized {
  readonly cutoverFunctionIds: readonly string[];
  readonly workflowFunctionIds: readonly string[];
  readonly env: Partial<Record<CutoverFunctionRole, Record<string, string>>>;
  readonly policies: Partial<Record<CutoverFunctionRole, Array<{ Action: string | string[]; Resource: unknown }>>>;
  readonly expected: ReturnType<Case['make']>;
}

function synthesize(c: Case, extra: (stack: Stack) => Partial<CutoverWorkflowProps> = () => ({})): Synthesized {
  let expected: ReturnType<Case['make']> | undefined;
  const { stack, workflow } = workflowStack((s) => {
    expected = c.make(s);
    return { ...(expected.trafficSwitch ? { trafficSwitch: expected.trafficSwitch } : {}), ...extra(s) };
  });
  const template = Template.fromStack(stack);
  const functions = template.findResources('AWS::Lambda::Function');
  const policies = template.findResources('AWS::IAM::Policy');
  const env: Synthesized['env'] = {};
  const statements: Synthesized['policies'] = {};
  for (const [role, fn] of Object.entries(workflow.functions) as Array<[CutoverFunctionRole, lambda.IFunction]>) {
    const fnId = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
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
  return { env, policies: statements, expected: expected!, cutoverFunctionIds, workflowFunctionIds };
}

/** Touches `dependency` the way the steps do; source/target resolve through the (mocked) Secrets Manager. */
async function touch(deps: CutoverDeps, dependency: Dependency): Promise<unknown> {
  if (dependency === 'source' || dependency === 'target') return deps[dependency]();
  return deps[dependency];
}

function depsOf(env: Record<string, string>): CutoverDeps {
  return createDepsFromEnvironment(env, { secretsManager: new SecretsManagerClient({ region: REGION }) });
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
      const failures: string[] = [];
      for (const step of allowedSteps(env)) {
        for (const dependency of STEP_USES(step)) {
          try {
            await touch(deps, dependency);
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
        await expect(deps.source()).resolves.toMatchObject({ host: 'source.example.com' });
        await expect(deps.target()).resolves.toMatchObject({ host: 'target.example.com' });
        const asked = secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId);
        expect(asked).toEqual(expect.arrayContaining([SOURCE_SECRET_ARN, TARGET_SECRET_ARN]));
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
      expect(deps.traffic!.description).toBe(synthesized.expected.description);
      expect(synthesized.env[serving[0]]!.TRAFFIC_SWITCH_KIND).toBe(synthesized.expected.trafficSwitch!.kind);
    }
    // no other function knows the switch
    for (const role of roles.filter((r) => r !== serving[0])) {
      expect(Object.keys(synthesized.env[role]!).filter((k) => k.startsWith('TRAFFIC_SWITCH_'))).toEqual([]);
    }
  });

  test('each function may make the AWS calls of its steps', () => {
    for (const role of roles) {
      const env = synthesized.env[role]!;
      const granted = actionsOf(synthesized.policies[role]!);
      const needed = new Set(
        allowedSteps(env).flatMap((step) => (step === 'switchTraffic' ? synthesized.expected.calls : STEP_CALLS(step))),
      );
      const missing = [...needed].filter((action) => !granted.has(action));
      expect({ role, missing }).toEqual({ role, missing: [] });
    }
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
      expect(await deps.source()).toHaveProperty('ssl', { rejectUnauthorized: false });
      // the default trust store (with NODE_EXTRA_CA_CERTS, the RDS CA): no `ca` of its own
      expect(await deps.target()).toHaveProperty('ssl', { rejectUnauthorized: true });
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

describe('the contract check itself', () => {
  const { env } = synthesize(CASES[0]);

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

  test('fails when the watchdog function is asked for the replication task (it never stops it)', async () => {
    expect(allowedSteps(env.watchdog!)).toEqual(['watchdog']);
    await expect(touch(depsOf(env.watchdog!), 'replication')).rejects.toThrow(/REPLICATION_TASK_ARN is not set/);
  });
});

describe('with the way back: each function serves its steps in the cutover and in the fallback machine', () => {
  const REVERSE_TASK = `arn:aws:dms:${REGION}:${ACCOUNT}:task:REVERSEREVERSE01`;
  const REVERSE_ALARM = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:zdm-reverse-lag`;
  const synthesized = synthesize(CASES[1], (stack) => ({
    reverseReplication: {
      taskArn: REVERSE_TASK,
      taskIdentifier: 'REVERSEREVERSE01',
      instanceIdentifier: 'zdm-instance',
      slotName: 'zdm_reverse_0123456789abcdef',
      slotPlugin: 'test_decoding',
      lagAlarms: [cloudwatch.Alarm.fromAlarmArn(stack, 'ReverseLag', REVERSE_ALARM)],
    },
    fallbackEndpoint: 'db.internal',
  }));
  const roles = Object.keys(synthesized.env) as CutoverFunctionRole[];
  const DIRECTIONS: readonly CutoverDirection[] = ['forward', 'fallback'];
  /** The reverse task's calls: describe, start, stop, its lag; its alarms' actions on and off. */
  const REVERSE_CALLS = [...STATUS, 'dms:StartReplicationTask', 'dms:StopReplicationTask'];
  const callsIn = (step: StepName, direction: CutoverDirection): string[] => [
    ...((STEP_SPECS[step].deps as readonly string[]).includes('state') ? PHASE_CALLS : []),
    ...accessOf(step, direction).flatMap((a) => (a === 'reverseReplication' ? REVERSE_CALLS : ACCESS_CALLS[a])),
  ];

  test('each function builds, from its own environment, every dependency its steps read in either direction', async () => {
    const failures: string[] = [];
    for (const role of roles) {
      const env = synthesized.env[role]!;
      for (const direction of DIRECTIONS) {
        const deps = depsFor(depsOf(env), direction);
        for (const step of allowedSteps(env)) {
          for (const dependency of dependenciesOf(step, direction)) {
            try {
              await touch(deps, dependency as Dependency);
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
    expect(fallbackReplication.description).toContain(REVERSE_TASK);
  });

  test('each function may make the AWS calls of its steps in either direction, on the right task', () => {
    for (const role of roles) {
      const env = synthesized.env[role]!;
      const statements = synthesized.policies[role]!;
      const granted = actionsOf(statements);
      const needed = new Set(
        allowedSteps(env).flatMap((step) =>
          DIRECTIONS.flatMap((direction) =>
            step === 'switchTraffic' ? synthesized.expected.calls : callsIn(step, direction),
          ),
        ),
      );
      const missing = [...needed].filter((action) => !granted.has(action));
      expect({ role, missing }).toEqual({ role, missing: [] });
      const stops = allowedSteps(env).some((step) =>
        accessOf(step, 'fallback').some((a) => a === 'reverseReplication' || a === 'stopReverse'),
      );
      const onReverse = statements.some(
        (s) => actionsOf([s]).has('dms:StopReplicationTask') && JSON.stringify(s.Resource).includes(REVERSE_TASK),
      );
      expect({ role, stopsTheReverseTask: onReverse }).toEqual({ role, stopsTheReverseTask: stops });
    }
  });
});
