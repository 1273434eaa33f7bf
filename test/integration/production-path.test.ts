/**
 * The production path, end to end: the state machine the CutoverWorkflow construct synthesizes (with lag alarms
 * from MigrationMonitoring and an SSM-parameter traffic switch) is executed by aws-local-stepfunctions, and every
 * Task state invokes the REAL Lambda entry point (`handler` of lambda/handlers/cutover-step.ts) with
 * `process.env` set to the environment the template gives THAT function (ALLOWED_STEPS included). The handler
 * builds its dependencies from that environment, as in Lambda: DynamoDB state store, DMS adapter, CloudWatch
 * alarm control, SNS notifier, SSM traffic switch, Secrets Manager database secrets.
 *
 * AWS is mocked only at the SDK client boundary (aws-sdk-client-mock), by fakes with the services' semantics, and
 * every call is first authorized by IAM: evaluated against the policies the template gives the calling function
 * (test/support/iam-authorizer.ts); a call they do not allow fails with AccessDeniedException, as in AWS:
 * - Secrets Manager: the local source/target databases as `{host, port, username, password, dbname}`;
 * - DynamoDB: an in-memory table evaluating the store's condition/update expressions (test/support/fake-aws.ts);
 * - DMS: the task is native logical replication between the two real PostgreSQL servers — DescribeReplicationTasks
 *   reports the subscription's state, StopReplicationTask disables it;
 * - CloudWatch: CDCLatencySource/Target are the subscription's real lag (for the template's dimensions only);
 *   alarm action calls are recorded; SNS publishes are recorded; SSM is an in-memory parameter store.
 *
 * Lambda is emulated per function: a function switch is a cold start (`resetHandlerCache`, empty secret cache);
 * results are JSON round-tripped; an exception reaches Step Functions as Lambda reports it (error name =
 * errorType, cause = the JSON error object).
 */
import {
  CloudWatchClient,
  DisableAlarmActionsCommand,
  EnableAlarmActionsCommand,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  AccessDeniedFault,
  DatabaseMigrationServiceClient,
  DescribeReplicationTasksCommand,
  type DescribeReplicationTasksCommandInput,
  StartReplicationTaskCommand,
  InvalidResourceStateFault,
  ResourceNotFoundFault,
  StopReplicationTaskCommand,
  type ReplicationTask,
} from '@aws-sdk/client-database-migration-service';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { NotFoundException, PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { clearDatabaseSecretCache } from '../../lambda/engine/aws/database-secret';
import { ERRORS, type StepEvent, type StepName, STATES, stepOfState, type TableSelection } from '../../contract';
import { quoteIdent } from '../../lambda/engine/pg/identifiers';
import { PHASES, type MigrationRecord, type ReplicationStatus } from '../../lambda/engine/ports';
import { NativeLogicalReplication } from '../../lambda/engine/replication/native-logical-replication';
import { DynamoDbStateStore } from '../../lambda/engine/state/dynamodb-state-store';
import { handler, resetHandlerCache } from '../../lambda/handlers/cutover-step';
import {
  setupNativeReplication,
  teardownNativeReplication,
  waitForNativeSync,
} from '../../rehearsal/local/native-replication-setup';
import { runCutover, type CutoverRunResult } from '../../rehearsal/local/run-state-machine';
import { NativeReverseReplication } from '../../rehearsal/local/native-reverse-replication';
import { functionOfStates } from '../../rehearsal/local/template-functions';
import { CutoverWorkflow } from '../../lib/cutover/cutover-workflow';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  placeholderFunctionArn,
  resolveDefinitionString,
} from '../../rehearsal/local/local-definition';
import { TrafficSwitchTarget } from '../../lib/cutover/traffic-switch';
import { MigrationMonitoring } from '../../lib/monitoring/migration-monitoring';
import {
  createDatabasePair,
  dropPair,
  serverPort,
  serverUrl,
  sql,
  roleSettings,
  subscriptionEnabled,
  trackingSlots,
} from '../support/databases';
import { FakeDynamoDbTable, FakeParameterStore, lambdaFunctionError } from '../support/fake-aws';
import { behindIam, iamAuthorizer, type IamAuthorizer } from '../support/iam-authorizer';
import { intrinsicValuesOf, templateResolver } from '../support/resolve-template';
import { resolveIntrinsics } from '../../rehearsal/local/resolve-intrinsics';

jest.setTimeout(60_000);

const REGION = LOCAL_REGION;
const ACCOUNT = LOCAL_ACCOUNT;
const TASK_ID = 'ZDMPRODUCTIONPATH';
const TASK_ARN = `arn:aws:dms:${REGION}:${ACCOUNT}:task:${TASK_ID}`;
const INSTANCE_ID = 'zdm-production-path';
const SOURCE_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:zdm/source-AbCdEf`;
const TARGET_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:zdm/target-GhIjKl`;
const HOST_PARAMETER = '/orders/database-host';
/** The application's read-only endpoint (the read-first switch), and the Aurora reader endpoint it moves to. */
const READ_HOST_PARAMETER = '/orders/database-read-host';
const READER_ENDPOINT = 'orders.cluster-ro-local.example:5432';
/** The way back: the CDC-only task Aurora → source, the slot its source endpoint reads, its lag alarm. */
const REVERSE_TASK_ID = 'ZDMREVERSEPATH';
const REVERSE_TASK_ARN = `arn:aws:dms:${REGION}:${ACCOUNT}:task:${REVERSE_TASK_ID}`;
const REVERSE_SLOT = 'zdm_reverse_productionpath';
const REVERSE_ALARM = 'zdm-production-path-reverse-lag';
const DEPLOYED = { account: ACCOUNT, region: REGION };

// ---- the synthesized template ------------------------------------------------------------------------------

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** Evaluates the intrinsics of a template value as CloudFormation would, to realistic physical names and ARNs. */
function resolver(template: { Resources: Resources }, stackName: string): (value: unknown) => string {
  const values = intrinsicValuesOf(templateResolver(template, stackName, DEPLOYED), DEPLOYED);
  return (value) => {
    const out = resolveIntrinsics(value, values);
    if (Array.isArray(out)) throw new Error(`expected a string, got ${JSON.stringify(out)}`);
    return out;
  };
}

interface Synthesized {
  /** ASL text, Lambda ARNs as `placeholderFunctionArn(<logical id>)`. */
  readonly definition: string;
  /** The fallback machine's (the way back), on the same functions. */
  readonly fallbackDefinition: string;
  /** Environment.Variables of each cutover function (logical id → resolved variables). */
  readonly functionEnv: Readonly<Record<string, Record<string, string>>>;
  /** IAM for each cutover function (logical id → its policies in the template). */
  readonly iam: Readonly<Record<string, IamAuthorizer>>;
  /**
   * The function each Task state's step is invoked on, read from the definition's ARNs; the `watchdog` step's is the
   * target of the EventBridge rule.
   */
  readonly functionOfStep: ReadonlyMap<StepName, string>;
  /** The watchdog rule's target input template (`<detail>` is the event's detail). */
  readonly watchdogInputTemplate: string;
  /** Resources of dms:StopReplicationTask in the functions' IAM policies. */
  readonly stoppableTaskArns: readonly string[];
  /** Names (resolved Refs) of the CDCLatencySource/Target alarms. */
  readonly lagAlarmNames: readonly string[];
  /** Dimensions of those alarms' metrics (what the functions must read lag for). */
  readonly lagDimensions: Readonly<Record<string, string>>;
  readonly topicArn: string;
  readonly stateTable: { readonly name: string; readonly partitionKey: string };
  readonly tables: TableSelection;
}

function synthesize(): Synthesized {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'ProductionPath', { env: { account: ACCOUNT, region: REGION } });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-00000000000000000',
    availabilityZones: [`${REGION}a`, `${REGION}b`],
    privateSubnetIds: ['subnet-00000000000000001', 'subnet-00000000000000002'],
  });
  const monitoring = new MigrationMonitoring(stack, 'Monitoring', {
    replicationInstanceIdentifier: INSTANCE_ID,
    replicationTaskIdentifier: TASK_ID,
    replicationTaskArn: TASK_ARN,
  });
  new CutoverWorkflow(stack, 'Cutover', {
    vpc,
    sourceSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'SourceSecret', SOURCE_SECRET_ARN),
    targetSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'TargetSecret', TARGET_SECRET_ARN),
    tables: { include: [{ schema: 'public', table: 'orders' }] },
    replicationTaskArn: TASK_ARN,
    replicationInstanceIdentifier: INSTANCE_ID,
    replicationTaskIdentifier: TASK_ID,
    alarmTopic: monitoring.alarmTopic,
    lagAlarms: monitoring.lagAlarms,
    applicationRoles: ['orders_app'],
    trafficSwitch: TrafficSwitchTarget.ssmParameter(
      ssm.StringParameter.fromStringParameterName(stack, 'HostParameter', HOST_PARAMETER),
    ),
    readTrafficSwitch: TrafficSwitchTarget.ssmParameter(
      ssm.StringParameter.fromStringParameterName(stack, 'ReadHostParameter', READ_HOST_PARAMETER),
    ),
    readEndpoint: READER_ENDPOINT,
    reverseReplication: {
      taskArn: REVERSE_TASK_ARN,
      taskIdentifier: REVERSE_TASK_ID,
      instanceIdentifier: INSTANCE_ID,
      slotName: REVERSE_SLOT,
      slotPlugin: 'test_decoding',
      lagAlarms: [
        cloudwatch.Alarm.fromAlarmArn(
          stack,
          'ReverseLag',
          `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${REVERSE_ALARM}`,
        ),
      ],
    },
    validationMaxConcurrency: 2,
  });
  const template = Template.fromStack(stack).toJSON() as { Resources: Resources };
  const resources = template.Resources;
  const resolve = resolver(template, stack.stackName);
  const ofType = (type: string): Array<[string, Record<string, unknown>]> =>
    Object.entries(resources)
      .filter(([, r]) => r.Type === type)
      .map(([id, r]) => [id, r.Properties ?? {}]);

  const functionEnv: Record<string, Record<string, string>> = {};
  for (const [id, props] of ofType('AWS::Lambda::Function')) {
    const variables = (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    if (!variables.ALLOWED_STEPS) continue; // not a cutover function
    functionEnv[id] = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolve(v)]));
  }
  const iam = Object.fromEntries(
    Object.keys(functionEnv).map((id) => [id, iamAuthorizer(template, stack.stackName, id, DEPLOYED)]),
  );

  // the cutover machine (the fallback machine, with the way back, runs the same functions the other way)
  const [[, machine]] = ofType('AWS::StepFunctions::StateMachine').filter(([id]) => !id.includes('Fallback'));
  const definition = resolveDefinitionString(machine.DefinitionString);
  const functionOfStep = new Map<StepName, string>();
  // The fallback machine runs the same steps on the same functions: a step invoked on two functions is refused.
  const [[, fallbackMachine]] = ofType('AWS::StepFunctions::StateMachine').filter(([id]) => id.includes('Fallback'));
  const fallbackDefinition = resolveDefinitionString(fallbackMachine.DefinitionString);
  for (const machineDefinition of [definition, fallbackDefinition]) {
    for (const [name, arn] of functionOfStates(machineDefinition)) {
      const id = Object.keys(functionEnv).find((fn) => placeholderFunctionArn(fn) === arn);
      const step = stepOfState(name);
      if (!id || !step) throw new Error(`Task state ${name} invokes ${arn}, not a cutover function`);
      if (functionOfStep.has(step) && functionOfStep.get(step) !== id) {
        throw new Error(`step ${step} is invoked on two functions`);
      }
      functionOfStep.set(step, id);
    }
  }

  // The watchdog runs when the EventBridge rule matches an execution that ended badly: its target is the function.
  const stateMachineRules = ofType('AWS::Events::Rule').filter(
    ([id, r]) =>
      JSON.stringify((r.EventPattern as { source?: string[] } | undefined)?.source) === '["aws.states"]' &&
      !id.includes('Fallback'),
  );
  if (stateMachineRules.length !== 1) throw new Error(`expected one rule on Step Functions events`);
  const [target] = stateMachineRules[0][1].Targets as Array<{
    Arn: unknown;
    InputTransformer: { InputTemplate: string };
  }>;
  const watchdogFunction = Object.keys(functionEnv).find(
    (id) => resolve({ 'Fn::GetAtt': [id, 'Arn'] }) === resolve(target.Arn),
  );
  if (!watchdogFunction) {
    throw new Error(`the watchdog rule targets ${JSON.stringify(target.Arn)}, not a cutover function`);
  }
  functionOfStep.set('watchdog', watchdogFunction);

  // The progress digest and the way back's watch run on their schedules: each targets the function of its step.
  const schedules = ofType('AWS::Events::Rule').filter(([, r]) => r.ScheduleExpression);
  const scheduled = schedules.map(([, r]) => {
    const [scheduleTarget] = r.Targets as Array<{ Arn: unknown; Input: string }>;
    const step = JSON.parse(scheduleTarget.Input).step as StepName;
    const fn = Object.keys(functionEnv).find(
      (id) => resolve({ 'Fn::GetAtt': [id, 'Arn'] }) === resolve(scheduleTarget.Arn),
    );
    if (!fn) throw new Error(`the ${step} schedule targets ${JSON.stringify(scheduleTarget)}, not a cutover function`);
    functionOfStep.set(step, fn);
    return step;
  });
  if (scheduled.sort().join() !== 'digest,watchWayBack') {
    throw new Error(
      `expected two scheduled rules (the progress digest, the way back's watch), got ${scheduled.join()}`,
    );
  }

  const stoppableTaskArns = ofType('AWS::IAM::Policy').flatMap(([, props]) =>
    (props.PolicyDocument as { Statement: Array<{ Action: string | string[]; Resource: unknown }> }).Statement.filter(
      (s) => [s.Action].flat().includes('dms:StopReplicationTask'),
    ).flatMap((s) => [s.Resource].flat().map(resolve)),
  );

  const lagAlarms = ofType('AWS::CloudWatch::Alarm').filter(([, p]) =>
    ['CDCLatencySource', 'CDCLatencyTarget'].includes(p.MetricName as string),
  );
  const lagDimensions = Object.fromEntries(
    (lagAlarms[0][1].Dimensions as Array<{ Name: string; Value: unknown }>).map((d) => [d.Name, resolve(d.Value)]),
  );

  const topics = ofType('AWS::SNS::Topic');
  const [[tableId, table]] = ofType('AWS::DynamoDB::Table');
  const [partitionKey] = (table.KeySchema as Array<{ AttributeName: string; KeyType: string }>)
    .filter((k) => k.KeyType === 'HASH')
    .map((k) => k.AttributeName);
  const anyEnv = Object.values(functionEnv).find((env) => env.TABLES_JSON)!;
  return {
    definition,
    fallbackDefinition,
    functionEnv,
    iam,
    functionOfStep,
    watchdogInputTemplate: target.InputTransformer.InputTemplate,
    stoppableTaskArns,
    lagAlarmNames: lagAlarms.map(([id]) => resolve({ Ref: id })).sort(),
    lagDimensions,
    topicArn: resolve({ Ref: topics[0][0] }),
    stateTable: { name: resolve({ Ref: tableId }), partitionKey },
    tables: JSON.parse(anyEnv.TABLES_JSON) as TableSelection,
  };
}

// ---- Lambda, per function ------------------------------------------------------------------------------------

interface Invocation {
  readonly functionId: string;
  readonly step: StepName;
}

/**
 * The deployed cutover functions: each invocation runs the real `handler` with `process.env` = that function's
 * environment (plus what the Lambda runtime sets, and SOURCE_/TARGET_DB_SSL_MODE=disable: the local servers speak no
 * TLS). Switching
 * to another function is a cold start. Invocations of one function may overlap (Map iterations); two functions
 * never run at once in this definition, which is asserted.
 */
class DeployedFunctions {
  readonly invocations: Invocation[] = [];
  private warm: string | undefined;
  private inFlight = 0;
  private outerEnv: NodeJS.ProcessEnv | undefined;

  constructor(private readonly synthesized: Synthesized) {}

  private environment(functionId: string): NodeJS.ProcessEnv {
    return {
      ...this.synthesized.functionEnv[functionId],
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_LAMBDA_FUNCTION_NAME: functionId,
      PATH: process.env.PATH,
      TZ: 'UTC',
      SOURCE_DB_SSL_MODE: 'disable',
      TARGET_DB_SSL_MODE: 'disable',
    };
  }

  readonly invoke = async (event: StepEvent): Promise<unknown> => {
    const functionId = this.synthesized.functionOfStep.get(event.step);
    if (!functionId) throw new Error(`no Task state invokes step ${event.step}`);
    if (this.warm !== functionId) {
      if (this.inFlight > 0) throw new Error(`${functionId} invoked while ${this.warm} is still running`);
      await resetHandlerCache();
      clearDatabaseSecretCache();
      this.warm = functionId;
    }
    this.invocations.push({ functionId, step: event.step });
    if (this.inFlight++ === 0) {
      this.outerEnv = process.env;
      process.env = this.environment(functionId);
      calling = this.synthesized.iam[functionId];
    }
    try {
      const result = await handler(JSON.parse(JSON.stringify(event)) as StepEvent);
      return JSON.parse(JSON.stringify(result ?? null)) as unknown;
    } catch (error) {
      throw lambdaFunctionError(error);
    } finally {
      if (--this.inFlight === 0) {
        process.env = this.outerEnv!;
        calling = undefined;
      }
    }
  };
}

// ---- AWS at the SDK client boundary -----------------------------------------------------------------------

/** The function whose invocation is running: each AWS call is authorized for it (behindIam). */
let calling: IamAuthorizer | undefined;
const caller = (): IamAuthorizer | undefined => calling;

const secretsMock = mockClient(SecretsManagerClient);
const dynamoMock = mockClient(DynamoDBDocumentClient);
const dmsMock = mockClient(DatabaseMigrationServiceClient);
const cloudwatchMock = mockClient(CloudWatchClient);
const snsMock = mockClient(SNSClient);
const ssmMock = mockClient(SSMClient);

interface Fixture {
  readonly name: string;
  readonly source: string;
  readonly target: string;
  readonly role: string;
  /** The stand-in for the DMS task: native logical replication between the two servers. */
  readonly engine: NativeLogicalReplication;
}

interface Aws {
  readonly table: FakeDynamoDbTable;
  readonly parameters: FakeParameterStore;
  readonly published: PublishCommandInput[];
  /** Called for each SNS publish (after it is recorded). */
  onPublish?: (input: PublishCommandInput) => Promise<void>;
  /** The reverse task's status (a deploy creates it `ready`, never started). */
  reverseStatus: string;
  /** Set: StopReplicationTask on the forward task fails with it (after IAM allowed the call). */
  stopFails?: Error;
  /**
   * With `nativeReverse`: what the reverse task's start started — native replication target → source standing in for
   * it (its own pgoutput slot: a subscription cannot read the task's test_decoding one).
   */
  reverse?: NativeReverseReplication;
}

const DMS_STATUS: Record<string, string> = {
  running: 'running',
  starting: 'starting',
  stopping: 'stopping',
  stopped: 'stopped',
  failed: 'failed',
};

async function describeTask(f: Fixture): Promise<ReplicationTask> {
  const status = await f.engine.status();
  const tables = 2; // orders + the marker table
  return {
    ReplicationTaskArn: TASK_ARN,
    ReplicationTaskIdentifier: 'orders-full-load-and-cdc',
    MigrationType: 'full-load-and-cdc',
    Status: DMS_STATUS[status.state] ?? 'modifying',
    ReplicationTaskStats: status.fullLoadComplete
      ? {
          FullLoadProgressPercent: 100,
          FullLoadFinishDate: new Date(),
          TablesLoaded: tables,
          TablesLoading: 0,
          TablesQueued: 0,
          TablesErrored: 0,
        }
      : { FullLoadProgressPercent: 50, TablesLoaded: 0, TablesLoading: tables, TablesQueued: 0, TablesErrored: 0 },
  };
}

function installAws(f: Fixture, s: Synthesized, options: { nativeReverse?: boolean } = {}): Aws {
  const aws: Aws = {
    table: new FakeDynamoDbTable(s.stateTable.name, s.stateTable.partitionKey),
    parameters: new FakeParameterStore(),
    published: [],
    reverseStatus: 'ready',
  };
  aws.parameters.set(HOST_PARAMETER, `127.0.0.1:${serverPort('source')}`);
  aws.parameters.set(READ_HOST_PARAMETER, `127.0.0.1:${serverPort('source')}`);

  const secretOf = (url: string): string => {
    const u = new URL(url);
    return JSON.stringify({
      host: u.hostname,
      port: Number(u.port),
      username: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      dbname: decodeURIComponent(u.pathname.slice(1)),
    });
  };
  const secrets: Record<string, string> = {
    [SOURCE_SECRET_ARN]: secretOf(f.source),
    [TARGET_SECRET_ARN]: secretOf(f.target),
  };
  secretsMock.on(GetSecretValueCommand).callsFake(
    behindIam(caller, GetSecretValueCommand, (input) => {
      const value = secrets[input.SecretId ?? ''];
      if (!value) {
        throw new ResourceNotFoundException({ message: `Secrets Manager can't find ${input.SecretId}`, $metadata: {} });
      }
      return { ARN: input.SecretId, SecretString: value };
    }),
  );

  dynamoMock.on(GetCommand).callsFake(behindIam(caller, GetCommand, (input) => aws.table.get(input)));
  dynamoMock.on(PutCommand).callsFake(behindIam(caller, PutCommand, (input) => aws.table.put(input)));
  dynamoMock.on(UpdateCommand).callsFake(behindIam(caller, UpdateCommand, (input) => aws.table.update(input)));

  const notFound = (): ResourceNotFoundFault =>
    new ResourceNotFoundFault({ message: 'No Tasks found matching provided filters', $metadata: {} });
  dmsMock.on(DescribeReplicationTasksCommand).callsFake(
    behindIam(caller, DescribeReplicationTasksCommand, async (input: DescribeReplicationTasksCommandInput) => {
      const arns = input.Filters?.find((x) => x.Name === 'replication-task-arn')?.Values ?? [];
      if (arns.includes(REVERSE_TASK_ARN)) {
        const status = aws.reverse
          ? (DMS_STATUS[(await aws.reverse.status()).state] ?? 'modifying')
          : aws.reverseStatus;
        const reverse = { ReplicationTaskArn: REVERSE_TASK_ARN, MigrationType: 'cdc', Status: status };
        return { ReplicationTasks: [reverse] };
      }
      if (!arns.includes(TASK_ARN)) throw notFound();
      return { ReplicationTasks: [await describeTask(f)] };
    }),
  );
  dmsMock.on(StartReplicationTaskCommand).callsFake(
    behindIam(caller, StartReplicationTaskCommand, async (input) => {
      if (input.ReplicationTaskArn !== REVERSE_TASK_ARN) throw notFound();
      if (options.nativeReverse) {
        // Nothing is written on the target between the switch and here in the tests that ask for it.
        const reverse = new NativeReverseReplication({
          source: f.source,
          target: f.target,
          tables: s.tables,
          name: `${f.name}_rev`,
        });
        await reverse.prepare();
        await sql(f.target, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [`${f.name}_rev`]);
        await reverse.start();
        aws.reverse = reverse;
      }
      aws.reverseStatus = 'running';
      return { ReplicationTask: { ReplicationTaskArn: REVERSE_TASK_ARN, Status: 'starting' } };
    }),
  );
  dmsMock.on(StopReplicationTaskCommand).callsFake(
    behindIam(caller, StopReplicationTaskCommand, async (input) => {
      if (input.ReplicationTaskArn === REVERSE_TASK_ARN) {
        await aws.reverse?.stop();
        aws.reverseStatus = 'stopped';
        return { ReplicationTask: { ReplicationTaskArn: REVERSE_TASK_ARN, Status: 'stopping' } };
      }
      if (input.ReplicationTaskArn !== TASK_ARN) throw notFound();
      if (aws.stopFails) throw aws.stopFails;
      const task = await describeTask(f);
      if (task.Status !== 'running' && task.Status !== 'starting') {
        throw new InvalidResourceStateFault({ message: `task is ${task.Status}`, $metadata: {} });
      }
      await sql(f.target, `ALTER SUBSCRIPTION ${quoteIdent(f.name)} DISABLE`);
      return { ReplicationTask: { ...task, Status: 'stopping' } };
    }),
  );

  cloudwatchMock.on(GetMetricDataCommand).callsFake(
    behindIam(caller, GetMetricDataCommand, async (input: { MetricDataQueries?: MetricDataQuery[] }) => {
      const lagOf = async (engine: { status(): Promise<ReplicationStatus> } | undefined): Promise<number | null> => {
        const status = await engine?.status();
        return status && (status.state === 'running' || status.state === 'stopping') ? status.lagSeconds : null;
      };
      const lag = await lagOf(f.engine);
      const reverseLag = await lagOf(aws.reverse);
      const reverseDimensions = { ...s.lagDimensions, ReplicationTaskIdentifier: REVERSE_TASK_ID };
      const same = (a: Record<string, unknown>, b: Record<string, unknown>): boolean =>
        JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
      return {
        MetricDataResults: (input.MetricDataQueries ?? []).map((q) => {
          const metric = q.MetricStat?.Metric;
          const dimensions = Object.fromEntries((metric?.Dimensions ?? []).map((d) => [d.Name, d.Value]));
          const latency =
            metric?.Namespace === 'AWS/DMS' &&
            ['CDCLatencySource', 'CDCLatencyTarget'].includes(metric.MetricName ?? '') &&
            q.MetricStat?.Stat === 'Maximum';
          const value = !latency
            ? null
            : same(dimensions, s.lagDimensions)
              ? lag
              : aws.reverse && same(dimensions, reverseDimensions)
                ? reverseLag
                : null;
          const datapoint = value !== null;
          return {
            Id: q.Id,
            StatusCode: 'Complete' as const,
            Timestamps: datapoint ? [new Date()] : [],
            Values: datapoint ? [value] : [],
          };
        }),
      };
    }),
  );
  cloudwatchMock.on(DisableAlarmActionsCommand).callsFake(behindIam(caller, DisableAlarmActionsCommand, () => ({})));
  cloudwatchMock.on(EnableAlarmActionsCommand).callsFake(behindIam(caller, EnableAlarmActionsCommand, () => ({})));

  snsMock.on(PublishCommand).callsFake(
    behindIam(caller, PublishCommand, async (input: PublishCommandInput) => {
      if (input.TopicArn !== s.topicArn)
        throw new NotFoundException({ message: 'Topic does not exist', $metadata: {} });
      aws.published.push(input);
      await aws.onPublish?.(input);
      return { MessageId: String(aws.published.length) };
    }),
  );

  ssmMock
    .on(GetParameterCommand)
    .callsFake(behindIam(caller, GetParameterCommand, (input) => aws.parameters.get(input)));
  ssmMock
    .on(PutParameterCommand)
    .callsFake(behindIam(caller, PutParameterCommand, (input) => aws.parameters.put(input)));
  return aws;
}

// ---- databases -----------------------------------------------------------------------------------------------

let synthesized: Synthesized;
const fixtures: Fixture[] = [];
let counter = 0;

beforeAll(() => {
  synthesized = synthesize();
});

beforeEach(async () => {
  for (const mock of [secretsMock, dynamoMock, dmsMock, cloudwatchMock, snsMock, ssmMock]) mock.reset();
  await resetHandlerCache();
  clearDatabaseSecretCache();
});

// The reverse slot's name is the construct's, one per target server: each test's switch creates it anew.
afterEach(async () => {
  await sql(
    serverUrl('target'),
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
    [REVERSE_SLOT],
  );
});

afterAll(async () => {
  await resetHandlerCache();
  for (const f of fixtures) {
    await f.engine.close().catch(() => undefined);
    await teardownNativeReplication({ source: f.source, target: f.target, name: f.name }).catch(() => undefined);
    // tracking slots a failure after the switch leaves for the resumed run (a database with slots cannot be dropped)
    for (const url of [f.source, f.target]) await dropTrackingSlots(url).catch(() => undefined);
    await dropPair(f.name).catch(() => undefined);
    await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${quoteIdent(f.role)}`).catch(() => undefined);
  }
  for (const mock of [secretsMock, dynamoMock, dmsMock, cloudwatchMock, snsMock, ssmMock]) mock.restore();
});

/** Source and target databases with `public.orders`, an application role and replication running. */
async function fixture(rows: number): Promise<Fixture> {
  const pair = await createDatabasePair('zdm_prod');
  const role = `zdm_orders_app_${process.pid}_${++counter}`;
  await sql(pair.source, `DROP ROLE IF EXISTS ${quoteIdent(role)}`);
  // a non-default connection limit: rollback must restore exactly this
  await sql(pair.source, `CREATE ROLE ${quoteIdent(role)} LOGIN CONNECTION LIMIT 7 PASSWORD 'app'`);
  const ddl = `CREATE TABLE public.orders (id bigserial PRIMARY KEY, note text NOT NULL, amount numeric(12,2))`;
  await sql(pair.source, ddl);
  await sql(pair.target, ddl);
  await sql(pair.source, `GRANT ALL ON public.orders, public.orders_id_seq TO ${quoteIdent(role)}`);
  await sql(
    pair.source,
    `INSERT INTO public.orders (note, amount) SELECT 'order ' || g, g * 1.5 FROM generate_series(1, $1::int) g`,
    [rows],
  );
  await setupNativeReplication({
    source: pair.source,
    target: pair.target,
    tables: synthesized.tables,
    name: pair.name,
  });
  await waitForNativeSync(pair.target, pair.name);
  const engine = new NativeLogicalReplication({ source: pair.source, target: pair.target, subscription: pair.name });
  const f = { name: pair.name, source: pair.source, target: pair.target, role, engine };
  fixtures.push(f);
  return f;
}

async function dropTrackingSlots(url: string): Promise<void> {
  await sql(
    url,
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
      WHERE slot_name LIKE 'zdm\\_trk\\_%' AND database = current_database()`,
  );
}

function appUrl(f: Fixture): string {
  const url = new URL(f.source);
  url.username = f.role;
  url.password = 'app';
  return url.toString();
}

/**
 * The application: writes as its role until the freeze ends its session and refuses its login. Returns the ids
 * of the writes the source acknowledged.
 */
function startApplication(f: Fixture): { stop: () => Promise<number[]> } {
  const acknowledged: number[] = [];
  let running = true;
  const loop = (async () => {
    const client = new Client(appUrl(f));
    client.on('error', () => undefined);
    try {
      await client.connect();
      while (running) {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO public.orders (note, amount) VALUES ('live', 1) RETURNING id`,
        );
        acknowledged.push(Number(rows[0].id));
        await new Promise((r) => setTimeout(r, 10));
      }
    } catch {
      // ended by the freeze (or refused: the role cannot log in)
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return acknowledged;
    },
  };
}

async function roleState(f: Fixture): Promise<{ canLogin: boolean; connectionLimit: number }> {
  return roleSettings(f.source, f.role);
}

async function subscriptionOn(f: Fixture): Promise<boolean> {
  return subscriptionEnabled(f.target, f.name);
}

async function orders(url: string): Promise<string[]> {
  const rows = await sql<{ row: string }>(url, `SELECT t::text AS row FROM public.orders t ORDER BY id`);
  return rows.map((r) => r.row);
}

function run(
  input: Record<string, unknown>,
  functions: DeployedFunctions,
  options: { signal?: AbortSignal; definition?: string; watchdogDirection?: 'fallback' } = {},
): Promise<CutoverRunResult> {
  const { definition, ...rest } = options;
  return runCutover({
    definition: definition ?? synthesized.definition,
    stepHandler: functions.invoke,
    input,
    waitTimeOverrideMs: 50,
    ...rest,
  });
}

/** How an execution ended, as the console shows it. */
const outcome = (r: CutoverRunResult) => ({ status: r.status, error: r.error, cause: r.cause });

/** Whether `aws` published the notice of `phase` with `outcome`. */
const isNotice = (input: PublishCommandInput, phase: string, outcome: string): boolean =>
  input.MessageAttributes?.phase?.StringValue === phase && input.MessageAttributes?.outcome?.StringValue === outcome;

const notices = (aws: Aws): string[] =>
  aws.published.map((p) => `${p.MessageAttributes?.phase?.StringValue} ${p.MessageAttributes?.outcome?.StringValue}`);

const alarmCalls = (command: typeof DisableAlarmActionsCommand | typeof EnableAlarmActionsCommand): string[][] =>
  cloudwatchMock.commandCalls(command).map((c) => [...(c.args[0].input.AlarmNames ?? [])].sort());

// ---- tests ------------------------------------------------------------------------------------------------------

test('the synthesized template wires five functions, the watchdog rule, a lag alarm pair and the task the cutover may stop', () => {
  const functionIds = Object.keys(synthesized.functionEnv);
  expect(functionIds).toHaveLength(5); // database, replication, traffic, watchdog, digest
  expect(synthesized.functionEnv[synthesized.functionOfStep.get('digest')!].ALLOWED_STEPS).toBe('digest');
  expect(new Set(synthesized.functionOfStep.values())).toEqual(new Set(functionIds));
  // the rule's target serves exactly the watchdog step, with the event shape the local runner sends
  const watchdog = synthesized.functionOfStep.get('watchdog')!;
  expect(synthesized.functionEnv[watchdog].ALLOWED_STEPS).toBe('watchdog');
  const detail = { status: 'ABORTED', input: '{"migrationId":"m"}' };
  expect(JSON.parse(synthesized.watchdogInputTemplate.replace('<detail>', JSON.stringify(detail)))).toEqual({
    step: 'watchdog',
    detail,
  });
  // the forward task (the cutover's StopReplication) and the reverse one (the fallback's, end-fallback-window)
  expect([...new Set(synthesized.stoppableTaskArns)].sort()).toEqual([REVERSE_TASK_ARN, TASK_ARN].sort());
  expect(synthesized.lagAlarmNames).toHaveLength(2);
  expect(synthesized.lagDimensions).toEqual({
    ReplicationInstanceIdentifier: INSTANCE_ID,
    ReplicationTaskIdentifier: TASK_ID,
  });
});

test('the DynamoDB fake enforces the conditions the real state store relies on', async () => {
  const table = new FakeDynamoDbTable(synthesized.stateTable.name, synthesized.stateTable.partitionKey);
  dynamoMock.on(GetCommand).callsFake((input) => table.get(input));
  dynamoMock.on(PutCommand).callsFake((input) => table.put(input));
  dynamoMock.on(UpdateCommand).callsFake((input) => table.update(input));
  const store = new DynamoDbStateStore({
    tableName: synthesized.stateTable.name,
    client: new DynamoDBClient({ region: REGION }),
  });
  const phase = { status: 'running' as const, startedAt: '2026-01-01T00:00:00.000Z' };
  await expect(store.putPhase('m1', 'preflight', phase)).rejects.toThrow(/no state record for migration "m1"/);
  const first = await store.ensure('m1', 'execute', '2026-01-01T00:00:00.000Z');
  expect(await store.ensure('m1', 'dry-run', '2026-01-02T00:00:00.000Z')).toEqual(first);
  const original = { roles: [{ role: 'app', canLogin: true, connectionLimit: 7 }], frozenAt: 'then' };
  expect(await store.saveFreezeIfAbsent('m1', original)).toEqual(original);
  expect(await store.saveFreezeIfAbsent('m1', { roles: [], frozenAt: 'later' })).toEqual(original);
  await store.markFreezeRestored('m1', 'restored-1');
  await store.markFreezeRestored('m1', 'restored-2');
  expect(await store.setMarkerTokenIfAbsent('m1', 'token-1')).toBe('token-1');
  expect(await store.setMarkerTokenIfAbsent('m1', 'token-2')).toBe('token-1');
  await store.putPhase('m1', 'preflight', phase);
  await store.setStatus('m1', 'failed', 'now', 'boom');
  await store.setStatus('m1', 'running', 'now2');
  // the point of no return is recorded once: a second switch attempt finds the first
  const point = { at: 'switched-at', what: 'traffic-switched' as const };
  expect(await store.setPointOfNoReturnIfAbsent('m1', point)).toEqual(point);
  expect(await store.setPointOfNoReturnIfAbsent('m1', { at: 'later', what: 'handed-over' })).toEqual(point);
  await expect(store.setPointOfNoReturnIfAbsent('m2', point)).rejects.toThrow(/no state record for migration "m2"/);
  // tracking state is replaced as a whole
  const side = (slot: string) => ({ slot, publication: slot, startLsn: '0/1' });
  const tracking = {
    source: side('zdm_trk_xs_1'),
    target: side('zdm_trk_xt_1'),
    pending: { tables: {} },
    confirmed: [],
    keysVerified: 0,
    changesRead: 0,
  };
  await store.putTracking('m1', tracking);
  await store.putTracking('m1', { ...tracking, keysVerified: 3, changesRead: 5, droppedAt: 'dropped-at' });
  await expect(store.putTracking('m2', tracking)).rejects.toThrow(/no state record for migration "m2"/);
  expect(table.item('m2')).toBeUndefined();
  expect(table.item('m1')).toEqual({
    ...first,
    status: 'running',
    updatedAt: 'now2',
    freeze: { ...original, restoredAt: 'restored-1' },
    markerToken: 'token-1',
    phases: { preflight: phase },
    pointOfNoReturn: point,
    tracking: { ...tracking, keysVerified: 3, changesRead: 5, droppedAt: 'dropped-at' },
  });
  // restart replaces a rolled-back run's record only (the OR condition): not a running or succeeded one
  expect(await store.restart('m1', 'execute', 'again')).toMatchObject({ status: 'running', updatedAt: 'now2' });
  await store.ensure('m3', 'execute', 'first');
  await store.setStatus('m3', 'rolled-back', 'rolled');
  expect(await store.restart('m3', 'execute', 'again')).toMatchObject({ status: 'running', createdAt: 'again' });
  // a request DynamoDB would reject is rejected (unused attribute name)
  expect(() =>
    table.update({
      TableName: synthesized.stateTable.name,
      Key: { migrationId: 'm1' },
      UpdateExpression: 'SET #a = :a',
      ExpressionAttributeNames: { '#a': 'a', '#b': 'b' },
      ExpressionAttributeValues: { ':a': 1 },
    }),
  ).toThrow(/unused in expressions/);
});

test('execute through the production handler: every row on the target, source frozen, traffic switched, then DMS stopped', async () => {
  const f = await fixture(400);
  const aws = installAws(f, synthesized);
  const functions = new DeployedFunctions(synthesized);
  const application = startApplication(f);
  const targetEndpoint = `127.0.0.1:${serverPort('target')}`;

  const result = await run(
    {
      migrationId: 'orders-production-path',
      mode: 'execute',
      applicationRoles: [f.role],
      consecutiveChecks: 2,
      syncTimeoutSeconds: 60,
      finalSyncTimeoutSeconds: 15,
      switchTrafficTo: targetEndpoint,
      fullValidationAfterSwitch: true,
    },
    functions,
  );
  const acknowledged = await application.stop();

  expect(outcome(result)).toEqual({ status: 'SUCCEEDED' });
  expect(result.lastState).toBe(STATES.succeeded);

  // each step ran on the function the definition names, and that function's ALLOWED_STEPS let it
  for (const { functionId, step } of functions.invocations) {
    expect(synthesized.functionEnv[functionId].ALLOWED_STEPS.split(',')).toContain(step);
  }
  // database, replication and traffic; the watchdog runs only after an execution that did not succeed
  expect(new Set(functions.invocations.map((i) => i.functionId)).size).toBe(3);
  expect(functions.invocations.map((i) => i.step)).not.toContain('watchdog');
  expect(result.watchdog).toBeUndefined();
  // the switch (the end of the freeze) comes before the slow stop
  const ran = functions.invocations.map((i) => i.step);
  expect(ran.indexOf('proveChanges')).toBeGreaterThan(ran.indexOf('finalSync'));
  expect(ran.indexOf('switchTraffic')).toBeGreaterThan(ran.indexOf('syncSequences'));
  expect(ran.indexOf('stopReplication')).toBeGreaterThan(ran.indexOf('switchTraffic'));

  // databases: the target has every row (and every acknowledged application write), with the same values
  expect(acknowledged.length).toBeGreaterThan(0);
  const sourceRows = await orders(f.source);
  expect(await orders(f.target)).toEqual(sourceRows);
  expect(sourceRows.length).toBe(400 + acknowledged.length);
  const [ids] = await sql<{ ids: string[] }>(f.target, `SELECT array_agg(id::text) AS ids FROM public.orders`);
  expect(new Set(ids.ids.map(Number))).toEqual(new Set([...Array(400).keys()].map((i) => i + 1).concat(acknowledged)));
  const [seq] = await sql<{ last_value: string }>(f.target, `SELECT last_value FROM public.orders_id_seq`);
  const [src] = await sql<{ last_value: string; max: string }>(
    f.source,
    `SELECT (SELECT last_value FROM public.orders_id_seq) AS last_value, (SELECT max(id) FROM public.orders) AS max`,
  );
  expect(Number(seq.last_value)).toBeGreaterThanOrEqual(Math.max(Number(src.last_value), Number(src.max)));
  expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });
  expect(await subscriptionOn(f)).toBe(false);

  // AWS calls: exactly the template's task and lag alarms; the parameter points at the target
  expect(dmsMock.commandCalls(StopReplicationTaskCommand).map((c) => c.args[0].input)).toEqual([
    { ReplicationTaskArn: TASK_ARN },
  ]);
  expect(alarmCalls(DisableAlarmActionsCommand)).toEqual([synthesized.lagAlarmNames]);
  // reads first (to the reader endpoint the construct defaulted), then the writes
  expect(ssmMock.commandCalls(PutParameterCommand).map((c) => c.args[0].input)).toEqual([
    { Name: READ_HOST_PARAMETER, Value: READER_ENDPOINT, Overwrite: true },
    { Name: HOST_PARAMETER, Value: targetEndpoint, Overwrite: true },
  ]);
  expect(aws.parameters.value(HOST_PARAMETER)).toBe(targetEndpoint);
  expect(aws.parameters.value(READ_HOST_PARAMETER)).toBe(READER_ENDPOINT);

  // notices: start, each phase, success
  expect(notices(aws)).toEqual([
    'cutover started',
    'preflight done',
    'startTracking done',
    'preValidation done',
    'waitForSync done',
    'switchReads done',
    'prepareReverse done',
    'freezeWrites done',
    'finalSync done',
    'changeProof done',
    'sequences done',
    'armReverse done',
    'switchTraffic done',
    'stopReplication done',
    'lateWrites done',
    'startReverse done',
    'postValidation done',
    'dropTracking done',
    'done succeeded',
  ]);

  // no read revert and no fallback (the way back is armed and started, not used)
  const NOT_RUN: string[] = ['revertReads', 'reopenSource', 'endFallbackWindow'];
  // the state item: every phase succeeded (approval was not required), the switch recorded as the point of no return
  const item = aws.table.item('orders-production-path') as unknown as MigrationRecord;
  expect(item.status).toBe('succeeded');
  expect(Object.fromEntries(PHASES.map((p) => [p, item.phases[p]?.status]))).toEqual(
    Object.fromEntries(
      PHASES.map((p) => [p, p === 'approval' ? 'skipped' : NOT_RUN.includes(p) ? undefined : 'succeeded']),
    ),
  );
  expect(item.freeze?.roles).toEqual([{ role: f.role, canLogin: true, connectionLimit: 7 }]);
  expect(item.pointOfNoReturn).toMatchObject({ what: 'traffic-switched' });
  expect(Date.parse(item.pointOfNoReturn!.at)).toBeLessThanOrEqual(Date.parse(item.phases.stopReplication!.startedAt));
  expect(item.phases.lateWrites?.summary).toMatchObject({ lateWrites: 0 });
  expect(item.tracking?.droppedAt).toEqual(expect.any(String));
  expect(await trackingSlots(f)).toEqual([]);

  // the way back: its slot created on the target before the freeze, its position recorded inside the freeze
  // (before the switch), the slot advanced there and the reverse task started from it only after the forward task
  // stopped, its lag alarm's actions switched on
  const lsnPattern = /^[0-9A-F]+\/[0-9A-F]+$/;
  expect(item.reverse).toMatchObject({
    slot: REVERSE_SLOT,
    createdLsn: expect.stringMatching(lsnPattern),
    lsn: expect.stringMatching(lsnPattern),
  });
  expect(Date.parse(item.reverse!.preparedAt!)).toBeLessThanOrEqual(Date.parse(item.phases.freezeWrites!.startedAt));
  expect(Date.parse(item.phases.armReverse!.startedAt)).toBeGreaterThanOrEqual(
    Date.parse(item.phases.freezeWrites!.startedAt),
  );
  expect(Date.parse(item.phases.armReverse!.endedAt!)).toBeLessThanOrEqual(Date.parse(item.pointOfNoReturn!.at));
  const [slot] = await sql<{ plugin: string; database: string; advanced: boolean; past_created: boolean }>(
    f.target,
    `SELECT plugin, database, confirmed_flush_lsn = $2::pg_lsn AS advanced, $2::pg_lsn > $3::pg_lsn AS past_created
       FROM pg_replication_slots WHERE slot_name = $1`,
    [REVERSE_SLOT, item.reverse!.lsn, item.reverse!.createdLsn],
  );
  // the forward replication's last writes (between the slot's creation and the freeze) are behind its position
  expect(slot).toEqual({
    plugin: 'test_decoding',
    database: new URL(f.target).pathname.slice(1),
    advanced: true,
    past_created: true,
  });
  expect(dmsMock.commandCalls(StartReplicationTaskCommand).map((c) => c.args[0].input)).toEqual([
    {
      ReplicationTaskArn: REVERSE_TASK_ARN,
      StartReplicationTaskType: 'start-replication',
      CdcStartPosition: item.reverse!.lsn,
    },
  ]);
  expect(ran.indexOf('startReverse')).toBeGreaterThan(ran.lastIndexOf('stopReplication'));
  expect(alarmCalls(EnableAlarmActionsCommand)).toEqual([[REVERSE_ALARM]]);
  expect(aws.reverseStatus).toBe('running');
  // each of those calls was first allowed by IAM for the function that made it (its policies in the template)
  const authorized = Object.values(synthesized.iam).flatMap((fn) => fn.decisions.map((d) => `${d.action} ${d.result}`));
  expect([...new Set(authorized)]).toEqual(
    expect.arrayContaining(
      [
        'secretsmanager:GetSecretValue',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'sns:Publish',
        'ssm:PutParameter',
        'dms:DescribeReplicationTasks',
        'cloudwatch:GetMetricData',
        'cloudwatch:DisableAlarmActions',
        'dms:StopReplicationTask',
        'dms:StartReplicationTask',
        'cloudwatch:EnableAlarmActions',
      ].map((action) => `${action} Allowed`),
    ),
  );
});

test('final sync fails after the freeze: Rollback restores the role exactly, execution fails in RolledBack', async () => {
  const f = await fixture(50);
  const aws = installAws(f, synthesized);
  // Replication breaks right after the freeze (the freeze's notice is the last AWS call before final sync):
  // the marker row never reaches the target.
  aws.onPublish = async (input) => {
    const a = input.MessageAttributes;
    if (a?.phase?.StringValue === 'freezeWrites' && a.outcome?.StringValue === 'done') {
      await sql(f.target, `ALTER SUBSCRIPTION ${quoteIdent(f.name)} DISABLE`);
    }
  };
  const functions = new DeployedFunctions(synthesized);

  const result = await run(
    {
      migrationId: 'orders-final-sync-fails',
      mode: 'execute',
      applicationRoles: [f.role],
      consecutiveChecks: 1,
      syncTimeoutSeconds: 60,
      finalSyncTimeoutSeconds: 1,
    },
    functions,
  );

  expect(result).toMatchObject({
    status: 'FAILED',
    error: ERRORS.finalSyncTimeout,
    lastState: STATES.rolledBack,
  });
  const ran = functions.invocations.map((i) => i.step);
  expect(ran).toContain('freezeWrites');
  expect(ran).not.toContain('switchTraffic');
  expect(ran).not.toContain('stopReplication');
  // Rollback, then the reads back (RollbackReads); then the rule ran the watchdog, on its own function, which found
  // nothing to do (roles restored, reads already back)
  expect(ran.slice(-3)).toEqual(['rollback', 'revertReads', 'watchdog']);
  expect(result.watchdog).toMatchObject({ outcome: 'already-restored', restoredRoles: [], leftBehind: [] });
  // the way back's slot, created before the freeze, was dropped by the rollback itself
  expect(ran.indexOf('prepareReverse')).toBeLessThan(ran.indexOf('freezeWrites'));
  expect(
    await sql(f.target, `SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1`, [REVERSE_SLOT]),
  ).toEqual([]);
  expect((aws.table.item('orders-final-sync-fails') as unknown as MigrationRecord).reverse).toMatchObject({
    endedBy: 'rollback',
  });
  expect(result.watchdog).not.toHaveProperty('readsReverted');
  expect(await trackingSlots(f)).toEqual([]);

  // the application role has its original settings and can log in and write again
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: 7 });
  const app = new Client(appUrl(f));
  await app.connect();
  try {
    await app.query(`INSERT INTO public.orders (note) VALUES ('after rollback')`);
  } finally {
    await app.end();
  }

  // AWS calls: nothing was stopped or switched, and the alarms' actions were left exactly as they were
  expect(dmsMock.commandCalls(StopReplicationTaskCommand)).toHaveLength(0);
  expect(alarmCalls(DisableAlarmActionsCommand)).toEqual([]);
  expect(alarmCalls(EnableAlarmActionsCommand)).toEqual([]);
  // the writes were never switched; the reads moved after the sync gate and went back with the rollback
  const source = `127.0.0.1:${serverPort('source')}`;
  expect(ssmMock.commandCalls(PutParameterCommand).map((c) => c.args[0].input)).toEqual([
    { Name: READ_HOST_PARAMETER, Value: READER_ENDPOINT, Overwrite: true },
    { Name: READ_HOST_PARAMETER, Value: source, Overwrite: true },
  ]);
  expect(aws.parameters.value(HOST_PARAMETER)).toBe(source);

  // the rollback notice names the cause as a readable message (the Lambda error JSON unwrapped); the watchdog adds none
  expect(notices(aws).slice(-2)).toEqual(['rollback rolled-back', 'revertReads done']);
  const notice = aws.published[aws.published.length - 2].Message ?? '';
  expect(notice).toContain(`Cause: ${ERRORS.finalSyncTimeout}: the marker row written on the source`);
  expect(notice).toContain(`roles ${f.role} have their original login settings again`);
  expect(notice).not.toContain('errorType');

  const item = aws.table.item('orders-final-sync-fails') as unknown as MigrationRecord;
  expect(item.status).toBe('rolled-back');
  expect(item.phases.finalSync?.status).toBe('failed');
  expect(item.phases.stopReplication).toBeUndefined();
  expect(item.pointOfNoReturn).toBeUndefined();
  expect(item.freeze?.restoredAt).toEqual(expect.any(String));
});

test('aborted during the freeze: the watchdog function restores the role exactly and drops the tracking slots', async () => {
  const f = await fixture(30);
  const aws = installAws(f, synthesized);
  const abort = new AbortController();
  // the execution is stopped from the console while the source is frozen (no Catch runs)
  aws.onPublish = async (input) => {
    if (isNotice(input, 'freezeWrites', 'done')) abort.abort();
  };
  const functions = new DeployedFunctions(synthesized);

  const result = await run(
    { migrationId: 'orders-aborted', mode: 'execute', applicationRoles: [f.role], consecutiveChecks: 1 },
    functions,
    { signal: abort.signal },
  );

  expect(result.status).toBe('ABORTED');
  const ran = functions.invocations.map((i) => i.step);
  expect(ran).not.toContain('rollback');
  expect(ran.slice(-2)).toEqual(['freezeWrites', 'watchdog']);
  expect(functions.invocations.at(-1)?.functionId).toBe(synthesized.functionOfStep.get('watchdog'));
  expect(result.watchdog).toMatchObject({
    outcome: 'restored',
    restoredRoles: [f.role],
    leftBehind: [],
    readsReverted: true,
  });
  // the way back's slot, created before the freeze, went with it: the watchdog function knows the slot's name
  expect(ran).toContain('prepareReverse');
  expect(result.watchdog).toMatchObject({ droppedSlots: expect.arrayContaining([`reverse slot ${REVERSE_SLOT}`]) });
  expect(
    await sql(f.target, `SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1`, [REVERSE_SLOT]),
  ).toEqual([]);
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: 7 });
  expect(await trackingSlots(f)).toEqual([]);
  expect(await subscriptionOn(f)).toBe(true);
  expect(dmsMock.commandCalls(StopReplicationTaskCommand)).toHaveLength(0);
  // the writes never moved; the reads this execution moved were pointed back by the watchdog (its own grant)
  const source = `127.0.0.1:${serverPort('source')}`;
  expect(ssmMock.commandCalls(PutParameterCommand).map((c) => c.args[0].input.Value)).toEqual([
    READER_ENDPOINT,
    source,
  ]);
  expect(aws.parameters.value(READ_HOST_PARAMETER)).toBe(source);
  expect(aws.parameters.value(HOST_PARAMETER)).toBe(source);

  expect(notices(aws).slice(-1)).toEqual(['watchdog restored']);
  const item = aws.table.item('orders-aborted') as unknown as MigrationRecord;
  expect(item).toMatchObject({ status: 'rolled-back', error: 'execution ended: execution ABORTED' });
  expect(item.freeze?.restoredAt).toEqual(expect.any(String));
  expect(item.tracking?.droppedAt).toEqual(expect.any(String));
});

test('the stop fails after the switch: FailedAfterSwitch, nothing undone, the watchdog leaves the source frozen', async () => {
  const f = await fixture(30);
  const aws = installAws(f, synthesized);
  aws.stopFails = new AccessDeniedFault({ message: 'not authorized to stop this task', $metadata: {} });
  const functions = new DeployedFunctions(synthesized);
  const targetEndpoint = `127.0.0.1:${serverPort('target')}`;
  const input = {
    migrationId: 'orders-stop-fails',
    mode: 'execute',
    applicationRoles: [f.role],
    consecutiveChecks: 1,
    switchTrafficTo: targetEndpoint,
  };

  const result = await run(input, functions);

  expect(result).toMatchObject({ status: 'FAILED', error: 'AccessDeniedFault', lastState: STATES.failedAfterSwitch });
  const ran = functions.invocations.map((i) => i.step);
  expect(ran.slice(-3)).toEqual(['stopReplication', 'reportFailureAfterSwitch', 'watchdog']);
  expect(ran).not.toContain('rollback');
  expect(functions.invocations.find((i) => i.step === 'reportFailureAfterSwitch')?.functionId).toBe(
    synthesized.functionOfStep.get('stopReplication'),
  );

  // nothing undone: traffic stays on the target, the source stays frozen, replication still runs (the lag alarms'
  // actions were turned off just before the stop was asked for, and stay off)
  expect(aws.parameters.value(HOST_PARAMETER)).toBe(targetEndpoint);
  expect(alarmCalls(DisableAlarmActionsCommand)).toEqual([synthesized.lagAlarmNames]);
  expect(alarmCalls(EnableAlarmActionsCommand)).toEqual([]);
  expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });
  expect(await subscriptionOn(f)).toBe(true);
  // the tracking slots are kept for the resumed run's late-write check, and named
  expect(await trackingSlots(f)).toHaveLength(2);
  expect(result.watchdog).toMatchObject({
    outcome: 'past-point-of-no-return',
    restoredRoles: [],
    leftBehind: [expect.stringMatching(/^source slot zdm_trk_/), expect.stringMatching(/^target slot zdm_trk_/)],
  });

  const failure = aws.published.find((p) => isNotice(p, 'stopReplication', 'failed'));
  expect(failure?.Subject).toBe('zdm orders-stop-fails: cutover FAILED after the switch');
  expect(failure?.Message).toMatch(
    /traffic was switched to the target at .*forward replication .* is running.*still FROZEN/s,
  );
  expect(failure?.Message).toContain('not authorized to stop this task');
  const item = aws.table.item('orders-stop-fails') as unknown as MigrationRecord;
  expect(item.status).toBe('failed');
  expect(item.pointOfNoReturn).toMatchObject({ what: 'traffic-switched' });
  expect(item.phases.stopReplication?.status).toBe('failed');
  expect(item.freeze?.restoredAt).toBeUndefined();

  // Resumed once the stop is allowed: the same input again finishes what is left, nothing before it runs again.
  aws.stopFails = undefined;
  const resumed = await run(input, functions);
  expect(outcome(resumed)).toEqual({ status: 'SUCCEEDED' });
  const after = aws.table.item('orders-stop-fails') as unknown as MigrationRecord;
  expect(after.status).toBe('succeeded');
  for (const phase of ['freezeWrites', 'finalSync', 'changeProof', 'sequences', 'switchTraffic'] as const) {
    expect(after.phases[phase]?.startedAt).toBe(item.phases[phase]?.startedAt);
  }
  expect(after.phases.stopReplication?.status).toBe('succeeded');
  expect(await subscriptionOn(f)).toBe(false);
  expect(await trackingSlots(f)).toEqual([]);
  expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });
  expect(aws.parameters.value(HOST_PARAMETER)).toBe(targetEndpoint);
});

test('every other mode through the production handler: dry-run, switch-reads, revert-reads change no write path; end-fallback-window closes the way back', async () => {
  const f = await fixture(60);
  const aws = installAws(f, synthesized);
  const functions = new DeployedFunctions(synthesized);
  const sourceEndpoint = aws.parameters.value(HOST_PARAMETER);
  const base = {
    migrationId: 'orders-modes',
    applicationRoles: [f.role],
    consecutiveChecks: 1,
    syncTimeoutSeconds: 60,
    finalSyncTimeoutSeconds: 15,
  };

  // dry-run: every check, nothing frozen, nothing switched, DMS left running
  expect(outcome(await run({ ...base, mode: 'dry-run' }, functions))).toEqual({ status: 'SUCCEEDED' });
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: 7 });
  expect(dmsMock.commandCalls(StopReplicationTaskCommand)).toEqual([]);
  expect(aws.parameters.value(HOST_PARAMETER)).toBe(sourceEndpoint);

  // switch-reads, then revert-reads: only the read path moves, and back
  expect(outcome(await run({ ...base, mode: 'switch-reads' }, functions))).toEqual({ status: 'SUCCEEDED' });
  expect(aws.parameters.value(READ_HOST_PARAMETER)).toBe(READER_ENDPOINT);
  expect(aws.parameters.value(HOST_PARAMETER)).toBe(sourceEndpoint);
  expect(outcome(await run({ ...base, mode: 'revert-reads' }, functions))).toEqual({ status: 'SUCCEEDED' });
  expect(aws.parameters.value(READ_HOST_PARAMETER)).toBe(sourceEndpoint);
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: 7 });

  // execute opens the way back (the reverse task started); end-fallback-window stops it and drops its slot
  const targetEndpoint = `127.0.0.1:${serverPort('target')}`;
  const cutover = await run({ ...base, mode: 'execute', switchTrafficTo: targetEndpoint }, functions);
  expect(outcome(cutover)).toEqual({ status: 'SUCCEEDED' });
  expect(aws.reverseStatus).toBe('running');

  // The way back's watch, as its schedule invokes it: on its function, IAM enforced. A write on the old source outside
  // the way back: one notice at the next watch, naming table, key and writer; none at the one after.
  const watch = (): Promise<unknown> => functions.invoke({ step: 'watchWayBack' } as StepEvent);
  const wayBackNotices = () =>
    aws.published.filter((p) => p.MessageAttributes?.event?.StringValue === 'way-back-broken');
  expect(await watch()).toMatchObject({ open: true, guarded: true, newWrites: 0, notified: false });
  await sql(
    f.source,
    `SET application_name = 'forgotten-cron'; UPDATE public.orders SET note = 'by hand' WHERE id = 5`,
  );
  expect(await watch()).toMatchObject({ open: true, newWrites: 1, writes: 1, notified: true });
  expect(await watch()).toMatchObject({ open: true, newWrites: 0, writes: 1, notified: false });
  expect(wayBackNotices()).toHaveLength(1);
  expect(wayBackNotices()[0]).toMatchObject({ TopicArn: synthesized.topicArn });
  expect(wayBackNotices()[0].Message).toContain('- public.orders UPDATE key {"id": 5} by ');
  expect(wayBackNotices()[0].Message).toContain('application "forgotten-cron"');
  expect(functions.invocations.at(-1)).toEqual({
    functionId: synthesized.functionOfStep.get('watchWayBack'),
    step: 'watchWayBack',
  });

  expect(outcome(await run({ ...base, mode: 'end-fallback-window' }, functions))).toEqual({ status: 'SUCCEEDED' });
  expect(aws.reverseStatus).toBe('stopped');
  // The way back closed: the watch reads the reverse task's status only.
  expect(await watch()).toMatchObject({ open: false, reverseState: 'stopped', notified: false });
  expect(wayBackNotices()).toHaveLength(1);
  expect(dmsMock.commandCalls(StopReplicationTaskCommand).map((c) => c.args[0].input.ReplicationTaskArn)).toEqual([
    TASK_ARN,
    REVERSE_TASK_ARN,
  ]);
  expect(await sql(f.target, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [REVERSE_SLOT])).toEqual([]);

  // each step ran on the function the definition names, allowed by its ALLOWED_STEPS, its AWS calls by its policy
  for (const { functionId, step } of functions.invocations) {
    expect(synthesized.functionEnv[functionId].ALLOWED_STEPS.split(',')).toContain(step);
  }
});

test('the fallback through the production handler: on the same functions, IAM enforced, every write made on Aurora returns', async () => {
  const f = await fixture(60);
  // The application's role on Aurora too (the fallback freezes it there), as a deploy would have it.
  const targetServer = serverUrl('target');
  await sql(targetServer, `DROP ROLE IF EXISTS ${quoteIdent(f.role)}`);
  await sql(targetServer, `CREATE ROLE ${quoteIdent(f.role)} LOGIN CONNECTION LIMIT 7 PASSWORD 'app'`);
  await sql(f.target, `GRANT ALL ON public.orders, public.orders_id_seq TO ${quoteIdent(f.role)}`);
  const aws = installAws(f, synthesized, { nativeReverse: true });
  const functions = new DeployedFunctions(synthesized);
  const sourceEndpoint = aws.parameters.value(HOST_PARAMETER);
  const targetEndpoint = `127.0.0.1:${serverPort('target')}`;
  const base = {
    migrationId: 'orders-fallback',
    applicationRoles: [f.role],
    consecutiveChecks: 1,
    syncTimeoutSeconds: 60,
    finalSyncTimeoutSeconds: 15,
  };
  try {
    const cutover = await run({ ...base, mode: 'execute', switchTrafficTo: targetEndpoint }, functions);
    expect(outcome(cutover)).toEqual({ status: 'SUCCEEDED' });
    expect(aws.parameters.value(HOST_PARAMETER)).toBe(targetEndpoint);

    // The application writes on Aurora; the way back carries it to the old source.
    await sql(
      f.target,
      `INSERT INTO public.orders (note, amount) SELECT 'on aurora ' || g, g FROM generate_series(1, 25) g`,
    );
    const deadline = Date.now() + 60_000;
    while ((await orders(f.source)).join() !== (await orders(f.target)).join()) {
      if (Date.now() > deadline) throw new Error('the way back did not carry the writes made on Aurora in 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const fallback = { definition: synthesized.fallbackDefinition };
    const auroraLogin = async (): Promise<boolean> =>
      (
        await sql<{ ok: boolean }>(targetServer, `SELECT rolcanlogin AS ok FROM pg_roles WHERE rolname = $1`, [f.role])
      )[0].ok;

    // A dry-run fallback checks everything and moves nothing.
    expect(outcome(await run({ ...base, mode: 'dry-run' }, functions, fallback))).toEqual({ status: 'SUCCEEDED' });
    expect(aws.parameters.value(HOST_PARAMETER)).toBe(targetEndpoint);
    expect(await auroraLogin()).toBe(true);

    // A fallback whose final sync fails (the way back breaks right after it froze Aurora) rolls back: Aurora's role
    // gets back exactly what it had, the application stays there.
    aws.onPublish = async (input) => {
      const a = input.MessageAttributes;
      if (a?.phase?.StringValue === 'freezeWrites' && a.outcome?.StringValue === 'done') {
        await sql(f.source, `ALTER SUBSCRIPTION ${quoteIdent(`${f.name}_rev`)} DISABLE`);
      }
    };
    const failed = await run({ ...base, mode: 'execute', finalSyncTimeoutSeconds: 1 }, functions, fallback);
    expect(failed).toMatchObject({ status: 'FAILED', error: ERRORS.finalSyncTimeout, lastState: STATES.rolledBack });
    expect(aws.parameters.value(HOST_PARAMETER)).toBe(targetEndpoint);
    const [restored] = await sql<{ rolcanlogin: boolean; rolconnlimit: number }>(
      targetServer,
      `SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1`,
      [f.role],
    );
    expect(restored).toEqual({ rolcanlogin: true, rolconnlimit: 7 });
    aws.onPublish = undefined;
    await sql(f.source, `ALTER SUBSCRIPTION ${quoteIdent(`${f.name}_rev`)} ENABLE`);
    // As an operator would: the next fallback's preflight needs the way back running again, not still starting (its
    // apply worker takes a moment to start, longer on a loaded machine).
    for (const until = Date.now() + 60_000; (await aws.reverse!.status()).state !== 'running';) {
      if (Date.now() > until) throw new Error('the reverse subscription did not run again within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // A fallback stopped from the console inside its freeze (no Catch runs): the watchdog function, on the fallback
    // machine's rule, gives Aurora's role back; the application stays on Aurora.
    const abort = new AbortController();
    aws.onPublish = async (input) => {
      if (isNotice(input, 'freezeWrites', 'done')) abort.abort();
    };
    const aborted = await run({ ...base, mode: 'execute' }, functions, {
      ...fallback,
      signal: abort.signal,
      watchdogDirection: 'fallback',
    });
    expect(aborted.status).toBe('ABORTED');
    expect(functions.invocations.at(-1)).toEqual({
      functionId: synthesized.functionOfStep.get('watchdog'),
      step: 'watchdog',
    });
    expect(aborted.watchdog).toMatchObject({ outcome: 'restored', restoredRoles: [f.role] });
    expect(await auroraLogin()).toBe(true);
    expect(aws.parameters.value(HOST_PARAMETER)).toBe(targetEndpoint);
    aws.onPublish = undefined;

    // Then the fallback, again.
    const back = await run({ ...base, mode: 'execute' }, functions, fallback);
    expect(outcome(back)).toEqual({ status: 'SUCCEEDED' });
    expect(back.lastState).toBe(STATES.fellBack);
    // The application points at the old source again, which has every row and its role exactly as before.
    expect(aws.parameters.value(HOST_PARAMETER)).toBe(sourceEndpoint);
    expect(await orders(f.source)).toEqual(await orders(f.target));
    expect((await orders(f.source)).filter((r) => r.includes('on aurora'))).toHaveLength(25);
    expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: 7 });
    const [aurora] = await sql<{ rolcanlogin: boolean }>(
      targetServer,
      `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`,
      [f.role],
    );
    expect(aurora.rolcanlogin).toBe(false);
    // The reverse task stopped by the fallback, on the function and with the grant the template gives it.
    expect(dmsMock.commandCalls(StopReplicationTaskCommand).map((c) => c.args[0].input.ReplicationTaskArn)).toContain(
      REVERSE_TASK_ARN,
    );
    expect(aws.reverseStatus).toBe('stopped');
    for (const { functionId, step } of functions.invocations) {
      expect(synthesized.functionEnv[functionId].ALLOWED_STEPS.split(',')).toContain(step);
    }
  } finally {
    await aws.reverse?.teardown().catch(() => undefined);
    await sql(
      f.target,
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
      [`${f.name}_rev`],
    ).catch(() => undefined);
    await sql(f.target, `DROP OWNED BY ${quoteIdent(f.role)}`).catch(() => undefined);
    await sql(targetServer, `DROP ROLE IF EXISTS ${quoteIdent(f.role)}`).catch(() => undefined);
  }
});
