/**
 * The cutover as deployed: `CutoverWorkflow` — the step functions (one per set of permissions, each with only its
 * steps' environment and grants, from contract/steps.ts), the state table, the cutover and fallback state machines,
 * the watchdog rules, the progress digest and the way back's watch schedules, and the validation of their props.
 */
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  acknowledgedWritersProblem,
  applicationRolesProblem,
  assertValidSelection,
  CUTOVER_ENVIRONMENT,
  CUTOVER_INPUT_DEFAULTS,
  CUTOVER_INPUT_LIMITS,
  CUTOVER_WORKFLOW_DEFAULTS,
  describeApplicationRolesProblem,
  type CutoverDefaults,
  type CutoverDependency,
  dependenciesOf,
  needsAccess,
  stepsOf,
  TRAFFIC_SWITCH_KIND,
  type CutoverEnvironmentVariable,
  type CutoverDirection,
  type CutoverFunctionRole,
  type DatabaseSslMode,
  type StepName,
} from '../../contract';
import { defaultPrivateSubnets } from '../private/subnets';
import { sourceCaDelivery } from '../private/ca-file';
import { newestNodeRuntime } from '../private/runtime';
import { SslMode } from '../replication/dms-replication';
import { assertNonEmpty, assertNumberInRange, assertPositive } from '../private/validation';
import { buildCutoverDefinition } from './private/definition';
import { environmentOf } from './private/functions';
import { CUTOVER_STEP_HANDLER, cutoverStepCode } from './private/handler-code';
import type { TableSelection } from '../tables';
import type { TrafficSwitchTarget } from './traffic-switch';
import type { ReverseReplicationBinding } from './reverse-replication-binding';

/** Props that shape the state machine definition itself (the rest become defaults in the functions). */
export interface CutoverWorkflowDefinitionOptions {
  /**
   * Time between two lag checks while waiting for sync.
   * @default Duration.seconds(30)
   */
  readonly pollInterval?: Duration;
  /**
   * How many validation ranges are checked at once (Map MaxConcurrency). Each range holds one connection
   * to the source and one to the target.
   * @default 4
   */
  readonly validationMaxConcurrency?: number;
  /**
   * How long the RequestApproval state waits for an answer before failing (and rolling back, which
   * changes nothing at that point).
   * @default Duration.hours(24)
   */
  readonly approvalTimeout?: Duration;
  /**
   * Overall execution timeout. Must be longer than `syncTimeout`.
   * @default Duration.days(2)
   */
  readonly timeout?: Duration;
}

/** What an operator tunes about the cutover (the `cutover` prop of `ZeroDowntimeMigration`). */
export interface CutoverWorkflowOptions extends CutoverWorkflowDefinitionOptions {
  /**
   * Subnets for the step functions.
   * @default - private subnets with egress, else isolated subnets (then the VPC needs endpoints for
   * DynamoDB, SNS, Secrets Manager, DMS, CloudWatch and, when used, SSM)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of the step functions. Allow them into the source and target (or use `connections`).
   * @default - one new security group with all outbound traffic allowed
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Source roles the freeze blocks (NOLOGIN, CONNECTION LIMIT 0) and whose sessions it ends. Default for
   * the execution input field `applicationRoles`; never the replication or operator role.
   * @default - none: the execution input must name them for an `execute` run
   */
  readonly applicationRoles?: string[];
  /**
   * Other login roles that can write the selected tables on the source but will not during the cutover (a batch
   * job you stop, an admin role). Preflight refuses a cutover while such a role has sessions open unless it is
   * listed here; a write one makes after the freeze still fails the execution (LateWritesFound). Default for the
   * execution input field `acknowledgedWriters`.
   * @default - none
   */
  readonly acknowledgedWriters?: string[];
  /**
   * Default replication lag that counts as in sync.
   * @default Duration.seconds(5)
   */
  readonly lagThreshold?: Duration;
  /**
   * Default number of consecutive in-sync lag checks before the freeze.
   * @default 3
   */
  readonly consecutiveLagChecks?: number;
  /**
   * Default time to wait for sync before giving up (safe: nothing has been changed yet).
   * @default Duration.hours(2)
   */
  readonly syncTimeout?: Duration;
  /**
   * Default time final sync waits for its marker on the target before failing and rolling back. At most
   * 14 minutes (it runs inside one Lambda invocation).
   * @default Duration.minutes(5)
   */
  readonly finalSyncTimeout?: Duration;
  /**
   * Default for the execution input field `requireApproval`: wait for an operator between sync and freeze.
   * @default false
   */
  readonly requireApproval?: boolean;
  /**
   * Where the application reads its endpoint from; SwitchTraffic points it at the target.
   * @default - no traffic switch: the SwitchTraffic state records the phase as skipped
   */
  readonly trafficSwitch?: TrafficSwitchTarget;
  /**
   * Where the application reads its read-only (query) endpoint from: the read-first switch. Once the target is in
   * sync and verified (the wait-for-sync gate passed), SwitchReads points it at `readEndpoint` — before the
   * approval gate and the write freeze — while every write still goes to the source; a rollback points it back.
   * Start an execution with `"mode": "switch-reads"` to switch only the reads and stop (watch them for hours or
   * days), `"mode": "revert-reads"` to point them back. Reads on the target's readers are behind the writes by the
   * replication lag: an application that must read its own writes keeps those reads on the writer path.
   * @default - no read switch: reads move with the writes (SwitchReads records the phase as skipped)
   */
  readonly readTrafficSwitch?: TrafficSwitchTarget;
  /**
   * The endpoint SwitchReads points `readTrafficSwitch` at (the execution input field `switchReadsTo` overrides it).
   * @default - the Aurora cluster's reader endpoint when the workflow is part of a `ZeroDowntimeMigration`;
   * otherwise none, and each execution must give `switchReadsTo`
   */
  readonly readEndpoint?: string;
  /**
   * The endpoint a fallback points the application back to (the execution input field `switchTrafficTo` overrides it).
   * @default - where the cutover found the application (the value its SwitchTraffic replaced)
   */
  readonly fallbackEndpoint?: string;
  /**
   * Retention of the state machine's and functions' logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * A periodic progress digest to the alarm topic (and the digest function's log) while the replication runs: the
   * full load per table, the CDC lag, the cutover's verification backlog and an ETA to "in sync". An EventBridge
   * schedule runs a function that reads DMS and CloudWatch only (no database access).
   * @default true
   */
  readonly digest?: boolean;
  /**
   * How often the progress digest is sent: whole minutes, from 1 minute to 1 day.
   * @default Duration.hours(1)
   */
  readonly digestInterval?: Duration;
  /**
   * With the way back (`reverseReplication`): how often its watch runs, whole minutes from 1 minute to 1 day. An
   * EventBridge schedule runs the database function, which (only while the reverse task runs) reads the guard on the
   * old source and sends one notice to the alarm topic for the writes made there outside the reverse replication
   * since the last one, naming table, key and writer.
   * @default Duration.minutes(1)
   */
  readonly wayBackWatchInterval?: Duration;
  /**
   * Customer managed key for the state table, the execution history, the logs and the functions'
   * environment. Its key policy must let CloudWatch Logs use it when the key is imported.
   * @default - AWS owned / managed keys
   */
  readonly encryptionKey?: kms.IKey;
}

/** Options plus what the cutover needs from the migration (`ZeroDowntimeMigration` fills these in). */
export interface CutoverWorkflowProps extends CutoverWorkflowOptions {
  /** VPC the step functions run in; they need to reach both databases and the AWS APIs. */
  readonly vpc: ec2.IVpc;
  /** Secret of the source database (JSON: host, port, dbname, username, password). */
  readonly sourceSecret: secretsmanager.ISecret;
  /** Secret of the target (Aurora) database. */
  readonly targetSecret: secretsmanager.ISecret;
  /**
   * The source database the functions connect to (`SOURCE_DB_NAME`), the one DMS replicates.
   * @default - the source secret's `dbname`, else `postgres`
   */
  readonly sourceDatabaseName?: string;
  /**
   * The target database the functions connect to (`TARGET_DB_NAME`): a secret Aurora generates has no `dbname`.
   * @default - the target secret's `dbname`, else `postgres`
   */
  readonly targetDatabaseName?: string;
  /** The one table selection (the same one the DMS task mappings come from). */
  readonly tables: TableSelection;
  /** ARN of the DMS replication task (only this task may be described and stopped). */
  readonly replicationTaskArn: string;
  /** CloudWatch `ReplicationInstanceIdentifier` dimension for the lag metrics. */
  readonly replicationInstanceIdentifier: string;
  /** CloudWatch `ReplicationTaskIdentifier` dimension (the task's resource id) for the lag metrics. */
  readonly replicationTaskIdentifier: string;
  /** Topic for phase notices, approval requests and the execution-failed alarm. */
  readonly alarmTopic: sns.ITopic;
  /**
   * Lag and task alarms whose actions are disabled while replication is stopped on purpose.
   * @default - no alarm actions are touched
   */
  readonly lagAlarms?: cloudwatch.IAlarm[];
  /**
   * The reverse replication (Aurora → source): the way back. With it, the cutover creates the reverse slot just before
   * the freeze, records Aurora's position inside it, and starts the reverse task from there once forward replication
   * has stopped; a second state machine (`fallbackStateMachine`) runs the cutover the other way.
   * @default - no way back after the switch, no fallback machine
   */
  readonly reverseReplication?: ReverseReplicationBinding;
  /**
   * TLS of the step functions' connections to the source (`SOURCE_DB_SSL_MODE`), like the DMS source endpoint's:
   * `REQUIRE` encrypts and accepts any certificate (a self-signed one included), `VERIFY_CA` checks the chain,
   * `VERIFY_FULL` the chain and the host name, `NONE` does not encrypt. The target is always `verify-full`
   * against the RDS CA bundle of the Lambda runtime.
   * @default SslMode.REQUIRE
   */
  readonly sourceSslMode?: SslMode;
  /**
   * PEM of the CA that signed the source's certificate, trusted (with `VERIFY_CA` / `VERIFY_FULL`) in addition to
   * the default trust store. It goes into the database function's environment (4 KB for all variables): at most
   * 2,600 characters, i.e. one CA certificate (an RSA-4096 root is about 2,100) rather than a bundle.
   * @default - the default trust store only
   */
  readonly sourceCaCertificatePem?: string;
}

/** The Amazon CA bundle (RDS and Aurora included) shipped in the Lambda Node.js runtimes. */
const RUNTIME_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/**
 * The cutover: a Standard Step Functions state machine whose Lambda steps track changes on both databases,
 * validate, re-verify every changed key while waiting for sync, freeze writes on the source, prove every changed
 * row equal (O(changes)), fix sequences and switch traffic — the point of no return — and only then stop
 * replication. State lives in DynamoDB so an execution can be re-run (resumed) under the same `migrationId`; a
 * watchdog function restores the source however an execution ends before the switch.
 *
 * Start it with `{ "migrationId": "...", "mode": "dry-run" | "execute" }`.
 */
export class CutoverWorkflow extends Construct implements ec2.IConnectable {
  public readonly stateMachine: sfn.StateMachine;
  /** DynamoDB table of migration records (partition key `migrationId`). RETAINed on delete. */
  public readonly stateTable: dynamodb.Table;
  /**
   * The step functions by role: `database`, `replication`, `watchdog`, `digest` (unless `digest: false`) and, with a
   * (read) traffic switch, `traffic`.
   */
  public readonly functions: { readonly [role: string]: lambda.IFunction };
  /** The EventBridge rule that runs the watchdog (dead man's switch) when an execution ends badly. */
  public readonly watchdogRule: events.Rule;
  /** The EventBridge schedule of the progress digest (`digestInterval`), unless `digest` is false. */
  public readonly digestRule?: events.Rule;
  /**
   * The EventBridge schedule of the way back's watch (`wayBackWatchInterval`): a notice at the first write on the old
   * source outside the reverse replication. Only with `reverseReplication`.
   */
  public readonly wayBackWatchRule?: events.Rule;
  /**
   * The fallback: the cutover's steps the other way (Aurora → source, over the reverse replication), with
   * `{ "migrationId": <the cutover's>, "mode": "dry-run" | "execute" }`. Only with `reverseReplication`.
   */
  public readonly fallbackStateMachine?: sfn.StateMachine;
  /** ExecutionsFailed ≥ 1 in a minute, to the alarm topic. */
  public readonly executionFailedAlarm: cloudwatch.Alarm;
  /** Log group of the state machine (level ALL, with execution data). */
  public readonly logGroup: logs.ILogGroup;
  /** Network access of the step functions: allow it into the source and the target. */
  public readonly connections: ec2.Connections;

  constructor(scope: Construct, id: string, props: CutoverWorkflowProps) {
    super(scope, id);
    const settings = validateProps(props);
    const reverse = props.reverseReplication;

    this.stateTable = this.createStateTable(props);
    const securityGroups = props.securityGroups ?? [
      new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: 'Cutover step functions (to the source, the target and AWS APIs)',
        allowAllOutbound: true,
      }),
    ];
    this.connections = new ec2.Connections({ securityGroups });

    // The source CA reaches the functions as a file in a layer: as text it would not fit Lambda's 4 KB environment.
    const sourceCa = settings.sourceCaCertificatePem
      ? sourceCaDelivery(this, 'SourceCaCertificate', settings.sourceCaCertificatePem, {
          file: CUTOVER_ENVIRONMENT.sourceDbSslCaFile,
          pem: CUTOVER_ENVIRONMENT.sourceDbSslCaPem,
        })
      : undefined;
    // With the way back, every function also serves its steps in the fallback machine (the sides swapped): its
    // environment and grants cover both directions (contract/steps.ts: dependenciesOf, accessOf).
    const directions: readonly CutoverDirection[] = reverse ? ['forward', 'fallback'] : ['forward'];
    const { functions, stepsByRole } = this.createFunctions({
      props,
      securityGroups,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      environmentValues: environmentValuesOf(this, props, settings, this.stateTable, sourceCa?.environment),
      directions,
      digest: settings.digest,
      sourceCaLayer: sourceCa?.layer,
    });
    this.functions = functions;
    for (const [role, fn] of Object.entries(functions) as Array<[CutoverFunctionRole, lambda.Function]>) {
      this.grantStepAccess(fn, stepsByRole[role]!, directionsOf(role, directions), props);
    }

    const machines = this.createStateMachines(props, settings, functions, stepsByRole);
    this.stateMachine = machines.cutover;
    this.fallbackStateMachine = machines.fallback;
    this.logGroup = machines.logGroup;
    this.watchdogRule = this.createWatchdogRules(functions.watchdog!);
    if (functions.digest) this.digestRule = this.createDigestSchedule(functions.digest, settings.digestInterval);
    if (reverse) this.wayBackWatchRule = this.createWayBackWatchSchedule(functions.database!, settings);
    this.executionFailedAlarm = this.createExecutionAlarms(props.alarmTopic);
    this.addNagAcknowledgements(Object.values(functions));
  }

  /** Where each execution keeps its phases, its freeze record and its tracking (one item per migration). */
  private createStateTable(props: CutoverWorkflowProps): dynamodb.Table {
    return new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: 'migrationId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: props.encryptionKey
        ? dynamodb.TableEncryption.CUSTOMER_MANAGED
        : dynamodb.TableEncryption.AWS_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** One function per set of permissions (contract/steps.ts), each with the environment of the steps it serves. */
  private createFunctions(args: {
    readonly props: CutoverWorkflowProps;
    readonly securityGroups: ec2.ISecurityGroup[];
    readonly logRetention: logs.RetentionDays;
    readonly environmentValues: Partial<Record<CutoverEnvironmentVariable, string>>;
    readonly directions: readonly CutoverDirection[];
    readonly digest: boolean;
    readonly sourceCaLayer?: lambda.ILayerVersion;
  }): {
    functions: Partial<Record<CutoverFunctionRole, lambda.Function>>;
    stepsByRole: Partial<Record<CutoverFunctionRole, readonly StepName[]>>;
  } {
    const { props, securityGroups, logRetention, environmentValues, sourceCaLayer } = args;
    const hasTrafficFunction = Boolean(props.trafficSwitch || props.readTrafficSwitch);
    const roles: CutoverFunctionRole[] = [
      'database',
      'replication',
      ...(hasTrafficFunction ? (['traffic'] as const) : []),
      'watchdog',
      ...(args.digest ? (['digest'] as const) : []),
    ];
    const functions: Partial<Record<CutoverFunctionRole, lambda.Function>> = {};
    // One asset for every function (pre-built in a package, bundled at synth from source: ./private/handler-code.ts).
    const code = cutoverStepCode();
    const stepsByRole: Partial<Record<CutoverFunctionRole, readonly StepName[]>> = {};
    for (const role of roles) {
      const allowed = stepsOf(role, hasTrafficFunction);
      const directions = directionsOf(role, args.directions);
      stepsByRole[role] = allowed;
      const fnLogGroup = new logs.LogGroup(this, `${pascal(role)}FunctionLogs`, {
        retention: logRetention,
        encryptionKey: props.encryptionKey,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const stepEnvironment = environmentOf(allowed, environmentValues, directions);
      const fn = new lambda.Function(this, `${pascal(role)}Function`, {
        description: `zero-downtime-migration cutover, ${role} steps: ${allowed.join(', ')}`.slice(0, 256),
        code,
        handler: CUTOVER_STEP_HANDLER,
        runtime: newestNodeRuntime(),
        architecture: lambda.Architecture.ARM_64,
        memorySize: role === 'database' ? 1024 : 256,
        timeout: ['traffic', 'watchdog', 'digest'].includes(role) ? Duration.minutes(2) : Duration.minutes(15),
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets ?? defaultPrivateSubnets(props.vpc, false),
        // The digest calls AWS APIs only: its own group, which the databases do not let in.
        securityGroups: role === 'digest' ? [this.digestSecurityGroup(props.vpc)] : securityGroups,
        tracing: lambda.Tracing.ACTIVE,
        logGroup: fnLogGroup,
        environmentEncryption: props.encryptionKey,
        layers: sourceCaLayer && CUTOVER_ENVIRONMENT.sourceDbSslCaFile in stepEnvironment ? [sourceCaLayer] : undefined,
        environment: {
          ...stepEnvironment,
          NODE_OPTIONS: '--enable-source-maps',
          // TLS to the target verifies its certificate (TARGET_DB_SSL_MODE verify-full). Node.js 20+ Lambda
          // runtimes no longer trust the Amazon CAs (RDS / Aurora included) unless told to load the bundle the
          // runtime ships; a source CA PEM is added to this default trust, never in its place.
          ...(needsAccess(allowed, 'databaseSecrets', directions) ? { NODE_EXTRA_CA_CERTS: RUNTIME_CA_BUNDLE } : {}),
        },
      });
      functions[role] = fn;
    }
    return { functions, stepsByRole };
  }

  /** Grants `fn` what its steps do in AWS, in each direction it runs them (each STEP_SPECS entry's `access`). */
  private grantStepAccess(
    fn: lambda.Function,
    steps: readonly StepName[],
    directions: readonly CutoverDirection[],
    props: CutoverWorkflowProps,
  ): void {
    const reverse = props.reverseReplication;
    const taskArn = props.replicationTaskArn;
    const alarmArns = (props.lagAlarms ?? []).map((a) => a.alarmArn);
    // the steps that keep their phase in the state table (all but the digest), and those that notify (all)
    const uses = (dependency: CutoverDependency): boolean =>
      steps.some((step) => directions.some((direction) => dependenciesOf(step, direction).includes(dependency)));
    if (uses('state')) this.stateTable.grantReadWriteData(fn);
    if (uses('notifier')) props.alarmTopic.grantPublish(fn);
    if (needsAccess(steps, 'databaseSecrets', directions)) {
      props.sourceSecret.grantRead(fn);
      props.targetSecret.grantRead(fn);
    }
    if (needsAccess(steps, 'replicationStatus', directions)) {
      fn.addToRolePolicy(taskStatusStatement());
    }
    if (needsAccess(steps, 'stopReplication', directions)) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dms:StopReplicationTask'], resources: [taskArn] }));
    }
    if (needsAccess(steps, 'tableStatistics', directions)) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dms:DescribeTableStatistics'], resources: [taskArn] }));
    }
    // GetMetricData has no resource types; the reader asks for the cutover's own namespace only.
    if (needsAccess(steps, 'readCutoverMetrics', directions) && !needsAccess(steps, 'replicationStatus', directions)) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    }
    if (needsAccess(steps, 'disableAlarmActions', directions) && alarmArns.length > 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['cloudwatch:DisableAlarmActions'], resources: alarmArns }),
      );
    }
    if (reverse) this.grantReverseAccess(fn, steps, directions, reverse);
    if (needsAccess(steps, 'trafficSwitch', directions) && props.trafficSwitch) {
      const binding = props.trafficSwitch._bind(fn, 'writes');
      for (const [key, value] of Object.entries(binding.environment)) fn.addEnvironment(key, value);
    }
    if (needsAccess(steps, 'readTrafficSwitch', directions) && props.readTrafficSwitch) {
      const binding = props.readTrafficSwitch._bind(fn, 'reads');
      for (const [key, value] of Object.entries(binding.environment)) fn.addEnvironment(key, value);
    }
  }

  /** The reverse task's grants: start and stop it (StartReverse, CloseWayBack), and the fallback's status and stop. */
  private grantReverseAccess(
    fn: lambda.Function,
    steps: readonly StepName[],
    directions: readonly CutoverDirection[],
    reverse: ReverseReplicationBinding,
  ): void {
    if (needsAccess(steps, 'reverseReplication', directions)) {
      // Describe is account-level and GetMetricData has no resource types (granted above for the status); start
      // and stop name the reverse task, the alarm actions its alarms.
      fn.addToRolePolicy(taskStatusStatement());
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dms:StartReplicationTask', 'dms:StopReplicationTask'],
          resources: [reverse.taskArn],
        }),
      );
      const reverseAlarmArns = (reverse.lagAlarms ?? []).map((a) => a.alarmArn);
      if (reverseAlarmArns.length > 0) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['cloudwatch:EnableAlarmActions', 'cloudwatch:DisableAlarmActions'],
            resources: reverseAlarmArns,
          }),
        );
      }
    }
    // The fallback's status, stop and alarm steps act on the reverse task where the cutover's act on the forward one.
    if (needsAccess(steps, 'reverseStatus', directions)) {
      fn.addToRolePolicy(taskStatusStatement());
    }
    if (needsAccess(steps, 'stopReverse', directions)) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['dms:StopReplicationTask'], resources: [reverse.taskArn] }),
      );
    }
    const reverseAlarms = (reverse?.lagAlarms ?? []).map((a) => a.alarmArn);
    if (needsAccess(steps, 'disableReverseAlarmActions', directions) && reverseAlarms.length > 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['cloudwatch:DisableAlarmActions'], resources: reverseAlarms }),
      );
    }
  }

  /** The cutover machine and, with a way back, the fallback machine: the same functions, the sides swapped. */
  private createStateMachines(
    props: CutoverWorkflowProps,
    settings: Settings,
    functions: Partial<Record<CutoverFunctionRole, lambda.Function>>,
    stepsByRole: Partial<Record<CutoverFunctionRole, readonly StepName[]>>,
  ): { cutover: sfn.StateMachine; fallback?: sfn.StateMachine; logGroup: logs.LogGroup } {
    const reverse = props.reverseReplication;
    const roles = Object.keys(stepsByRole) as CutoverFunctionRole[];
    const definitionScope = new Construct(this, 'Definition');
    const fnForStep = (step: StepName): lambda.IFunction => {
      for (const role of roles) {
        if (stepsByRole[role]!.includes(step)) return functions[role]!;
      }
      throw new Error(`no cutover function runs step ${step}`);
    };
    const definitionProps = {
      functionFor: fnForStep,
      pollInterval: settings.pollInterval,
      validationMaxConcurrency: settings.validationMaxConcurrency,
      approvalTimeout: settings.approvalTimeout,
      wayBack: Boolean(reverse),
    };
    const definition = buildCutoverDefinition(definitionScope, definitionProps);

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const cutover = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition.startState),
      comment: 'zero-downtime-migration cutover: start with {"migrationId": "...", "mode": "dry-run" | "execute"}',
      timeout: settings.timeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      encryptionConfiguration: props.encryptionKey
        ? new sfn.CustomerManagedEncryptionConfiguration(props.encryptionKey)
        : undefined,
    });

    let fallback: sfn.StateMachine | undefined;
    if (reverse) {
      // One engine, two directions: the same functions run the fallback with the databases' roles swapped.
      const fallbackDefinition = buildCutoverDefinition(new Construct(this, 'FallbackDefinition'), {
        ...definitionProps,
        direction: 'fallback',
      });
      fallback = new sfn.StateMachine(this, 'FallbackStateMachine', {
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromChainable(fallbackDefinition.startState),
        comment:
          'zero-downtime-migration fallback (Aurora → source): start with {"migrationId": "<the cutover\'s>", "mode": "dry-run" | "execute"}',
        timeout: settings.timeout,
        tracingEnabled: true,
        logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
        encryptionConfiguration: props.encryptionKey
          ? new sfn.CustomerManagedEncryptionConfiguration(props.encryptionKey)
          : undefined,
      });
    }
    return { cutover, fallback, logGroup };
  }

  /**
   * The dead man's switch: however an execution ends (a Catch that failed, a timeout, an abort from the console),
   * the watchdog restores the source's saved role settings unless the switch happened, and drops the tracking slots.
   */
  private createWatchdogRules(watchdog: lambda.IFunction): events.Rule {
    const rule = new events.Rule(this, 'WatchdogRule', {
      description: 'Restores the source when a cutover execution ends TIMED_OUT, ABORTED or FAILED before the switch.',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [this.stateMachine.stateMachineArn], status: ['TIMED_OUT', 'ABORTED', 'FAILED'] },
      },
    });
    rule.addTarget(
      new eventsTargets.LambdaFunction(watchdog, {
        event: events.RuleTargetInput.fromObject({ step: 'watchdog', detail: events.EventField.fromPath('$.detail') }),
        retryAttempts: 8,
      }),
    );
    if (this.fallbackStateMachine) {
      // The fallback freezes Aurora's roles: its watchdog restores those (`direction`).
      new events.Rule(this, 'FallbackWatchdogRule', {
        description: 'Restores Aurora when a fallback execution ends TIMED_OUT, ABORTED or FAILED before its switch.',
        eventPattern: {
          source: ['aws.states'],
          detailType: ['Step Functions Execution Status Change'],
          detail: {
            stateMachineArn: [this.fallbackStateMachine.stateMachineArn],
            status: ['TIMED_OUT', 'ABORTED', 'FAILED'],
          },
        },
      }).addTarget(
        new eventsTargets.LambdaFunction(watchdog, {
          event: events.RuleTargetInput.fromObject({
            step: 'watchdog',
            direction: 'fallback',
            detail: events.EventField.fromPath('$.detail'),
          }),
          retryAttempts: 8,
        }),
      );
    }
    return rule;
  }

  /** The digest function's security group: outbound to the AWS APIs, no way into the databases. */
  private digestSecurityGroup(vpc: ec2.IVpc): ec2.ISecurityGroup {
    return new ec2.SecurityGroup(this, 'DigestSecurityGroup', {
      vpc,
      description: 'Cutover progress digest (AWS APIs only: DMS, CloudWatch, SNS)',
      allowAllOutbound: true,
    });
  }

  /** The progress digest, every `interval`: `{ "step": "digest" }` to the digest function. */
  private createDigestSchedule(digest: lambda.IFunction, interval: Duration): events.Rule {
    return new events.Rule(this, 'DigestSchedule', {
      description: `zero-downtime-migration progress digest to the alarm topic, every ${interval.toHumanString()} while replication runs`,
      schedule: events.Schedule.rate(interval),
      targets: [
        new eventsTargets.LambdaFunction(digest, {
          event: events.RuleTargetInput.fromObject({ step: 'digest' }),
          retryAttempts: 2,
        }),
      ],
    });
  }

  /**
   * The way back's watch, every `wayBackWatchInterval`: `{ "step": "watchWayBack" }` to the database function (it
   * needs the source's secret and network). It touches no database unless the reverse task runs.
   */
  private createWayBackWatchSchedule(database: lambda.IFunction, settings: Settings): events.Rule {
    const interval = settings.wayBackWatchInterval;
    return new events.Rule(this, 'WayBackWatchSchedule', {
      description: `zero-downtime-migration way back watch: a notice to the alarm topic at a write on the old source outside the reverse replication, checked every ${interval.toHumanString()} while it runs`,
      schedule: events.Schedule.rate(interval),
      targets: [
        new eventsTargets.LambdaFunction(database, {
          event: events.RuleTargetInput.fromObject({ step: 'watchWayBack' }),
          retryAttempts: 2,
        }),
      ],
    });
  }

  /** Alarms on executions that time out, are aborted or fail (of both machines), to the topic. */
  private createExecutionAlarms(alarmTopic: sns.ITopic): cloudwatch.Alarm {
    for (const [id, metric, what] of [
      ['ExecutionTimedOutAlarm', this.stateMachine.metricTimedOut(), 'timed out'],
      ['ExecutionAbortedAlarm', this.stateMachine.metricAborted(), 'was aborted'],
    ] as const) {
      const alarm = new cloudwatch.Alarm(this, id, {
        alarmDescription: `A zero-downtime-migration cutover execution ${what}; the watchdog restores the source unless the switch happened.`,
        metric: metric.with({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cwActions.SnsAction(alarmTopic));
    }

    const failed = new cloudwatch.Alarm(this, 'ExecutionFailedAlarm', {
      alarmDescription: 'The zero-downtime-migration cutover execution failed (see RolledBack / FailedAfterSwitch).',
      metric: this.metricExecutionsFailed(),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    failed.addAlarmAction(new cwActions.SnsAction(alarmTopic));
    if (this.fallbackStateMachine) {
      new cloudwatch.Alarm(this, 'FallbackExecutionFailedAlarm', {
        alarmDescription: 'A zero-downtime-migration fallback execution failed (see RolledBack / FailedAfterSwitch).',
        metric: this.fallbackStateMachine.metricFailed({
          statistic: cloudwatch.Stats.SUM,
          period: Duration.minutes(1),
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(new cwActions.SnsAction(alarmTopic));
    }
    return failed;
  }

  /**
   * Lets `grantee` start (and follow, stop, approve or reject) cutover executions: states:StartExecution on
   * the machine, Describe/GetExecutionHistory/StopExecution on its executions, and SendTaskSuccess /
   * SendTaskFailure for the approval gate.
   */
  public grantStartCutover(grantee: iam.IGrantable): iam.Grant {
    return grantStart(this.stateMachine, grantee);
  }

  /**
   * Lets `grantee` start (and follow, stop) fallback executions, like {@link grantStartCutover} for the cutover.
   * Fails without `reverseReplication` (there is no fallback machine).
   */
  public grantStartFallback(grantee: iam.IGrantable): iam.Grant {
    if (!this.fallbackStateMachine) {
      throw new Error('grantStartFallback: this CutoverWorkflow has no reverseReplication, so no fallback');
    }
    return grantStart(this.fallbackStateMachine, grantee);
  }

  /** Failed cutover executions (statistic Sum, 1 minute). */
  public metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1), ...props });
  }

  private addNagAcknowledgements(functions: lambda.IFunction[]): void {
    const stack = Stack.of(this);
    for (const fn of functions) {
      const role = fn.role!;
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason:
          'Publishing to an SSE-KMS topic needs kms:GenerateDataKey* on the topic key (granted by topic.grantPublish).',
      });
      for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
          reason:
            'The AWS managed basic-execution and VPC-access policies are the documented minimum for a Lambda function in a VPC.',
        });
      }
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'xray:PutTraceSegments/PutTelemetryRecords, dms:DescribeReplicationTasks and cloudwatch:GetMetricData (for the ' +
          'functions that read the task status) do not support resource-level permissions; every other statement names its resources.',
      });
      const cfnFn = fn.node.defaultChild as lambda.CfnFunction;
      for (const machine of this.machines()) {
        Validations.of(machine.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(cfnFn)}.Arn>:*]`,
          reason:
            'lambda:InvokeFunction on <function ARN>:* covers the versions and aliases of this cutover function only.',
        });
      }
    }
    for (const machine of this.machines()) {
      Validations.of(machine.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Step Functions log delivery (logs:*LogDelivery*, DescribeLogGroups...) and X-Ray actions do not support resource-level permissions.',
      });
    }
  }

  /** The cutover machine and, with a way back, the fallback machine. */
  private machines(): sfn.StateMachine[] {
    return this.fallbackStateMachine ? [this.stateMachine, this.fallbackStateMachine] : [this.stateMachine];
  }
}

/**
 * Reading a DMS task's status: dms:DescribeReplicationTasks is account-level (no resource types in the Service
 * Authorization Reference) and cloudwatch:GetMetricData supports no resource-level permissions: both take "*"; the
 * adapter filters by the task's ARN and asks for its metric dimensions only.
 */
const taskStatusStatement = (): iam.PolicyStatement =>
  new iam.PolicyStatement({ actions: ['dms:DescribeReplicationTasks', 'cloudwatch:GetMetricData'], resources: ['*'] });

/**
 * Values of the handler's variables (contract/environment.ts, read in lambda/handlers/environment.ts); each function
 * gets only those of the dependencies its steps use (environmentOf).
 */
function environmentValuesOf(
  scope: Construct,
  props: CutoverWorkflowProps,
  settings: Settings,
  stateTable: dynamodb.ITable,
  sourceCaEnvironment: Record<string, string> | undefined,
): Partial<Record<CutoverEnvironmentVariable, string>> {
  const stack = Stack.of(scope);
  const reverse = props.reverseReplication;
  return {
    [CUTOVER_ENVIRONMENT.sourceSecretArn]: props.sourceSecret.secretArn,
    [CUTOVER_ENVIRONMENT.targetSecretArn]: props.targetSecret.secretArn,
    ...(props.sourceDatabaseName ? { [CUTOVER_ENVIRONMENT.sourceDbName]: props.sourceDatabaseName } : {}),
    ...(props.targetDatabaseName ? { [CUTOVER_ENVIRONMENT.targetDbName]: props.targetDatabaseName } : {}),
    [CUTOVER_ENVIRONMENT.stateTableName]: stateTable.tableName,
    [CUTOVER_ENVIRONMENT.topicArn]: props.alarmTopic.topicArn,
    [CUTOVER_ENVIRONMENT.tables]: JSON.stringify(props.tables),
    [CUTOVER_ENVIRONMENT.replicationTaskArn]: props.replicationTaskArn,
    [CUTOVER_ENVIRONMENT.replicationInstanceId]: props.replicationInstanceIdentifier,
    [CUTOVER_ENVIRONMENT.replicationTaskId]: props.replicationTaskIdentifier,
    [CUTOVER_ENVIRONMENT.lagAlarmNames]: stack.toJsonString((props.lagAlarms ?? []).map((a) => a.alarmName)),
    ...(reverse
      ? {
          [CUTOVER_ENVIRONMENT.reverseTaskArn]: reverse.taskArn,
          [CUTOVER_ENVIRONMENT.reverseInstanceId]: reverse.instanceIdentifier,
          [CUTOVER_ENVIRONMENT.reverseTaskId]: reverse.taskIdentifier,
          [CUTOVER_ENVIRONMENT.reverseSlotName]: reverse.slotName,
          [CUTOVER_ENVIRONMENT.reverseSlotPlugin]: reverse.slotPlugin,
          [CUTOVER_ENVIRONMENT.reverseLagAlarmNames]: stack.toJsonString(
            (reverse.lagAlarms ?? []).map((a) => a.alarmName),
          ),
        }
      : {}),
    [CUTOVER_ENVIRONMENT.defaults]: stack.toJsonString({
      applicationRoles: props.applicationRoles ?? [],
      acknowledgedWriters: props.acknowledgedWriters ?? [],
      lagThresholdSeconds: settings.lagThresholdSeconds,
      consecutiveChecks: settings.consecutiveChecks,
      syncTimeoutSeconds: settings.syncTimeoutSeconds,
      finalSyncTimeoutSeconds: settings.finalSyncTimeoutSeconds,
      requireApproval: props.requireApproval ?? CUTOVER_INPUT_DEFAULTS.requireApproval,
      readTrafficSwitch: Boolean(props.readTrafficSwitch),
      ...(props.fallbackEndpoint ? { fallbackTrafficTo: props.fallbackEndpoint } : {}),
      ...(props.readTrafficSwitch && props.readEndpoint ? { switchReadsTo: props.readEndpoint } : {}),
      executionTimeoutSeconds: settings.timeout.toSeconds(),
      pollIntervalSeconds: settings.pollInterval.toSeconds(),
    } satisfies CutoverDefaults),
    // TLS per side (lambda/engine/aws/database-secret.ts): the source as DMS connects to it, the target verified
    // against the RDS CA (NODE_EXTRA_CA_CERTS below).
    [CUTOVER_ENVIRONMENT.sourceDbSslMode]: settings.sourceSslMode,
    ...sourceCaEnvironment,
    [CUTOVER_ENVIRONMENT.targetDbSslMode]: 'verify-full',
    // A path without a switch: its step runs (and records the phase as skipped) without one.
    ...(props.trafficSwitch ? {} : { [CUTOVER_ENVIRONMENT.trafficSwitchKind]: TRAFFIC_SWITCH_KIND.none }),
    ...(props.readTrafficSwitch ? {} : { [CUTOVER_ENVIRONMENT.readTrafficSwitchKind]: TRAFFIC_SWITCH_KIND.none }),
  };
}

interface Settings {
  readonly sourceSslMode: DatabaseSslMode;
  readonly sourceCaCertificatePem?: string;
  readonly lagThresholdSeconds: number;
  readonly consecutiveChecks: number;
  readonly syncTimeoutSeconds: number;
  readonly finalSyncTimeoutSeconds: number;
  readonly pollInterval: Duration;
  readonly validationMaxConcurrency: number;
  readonly approvalTimeout: Duration;
  readonly timeout: Duration;
  readonly digest: boolean;
  readonly digestInterval: Duration;
  readonly wayBackWatchInterval: Duration;
}

function seconds(what: string, value: Duration, integral = true): number {
  const s = value.toSeconds({ integral: false });
  if (Token.isUnresolved(s)) return s;
  assertPositive(`${what} (seconds)`, s);
  if (integral && !Number.isInteger(s)) {
    throw new Error(`${what} must be a whole number of seconds, got ${value.toHumanString()}`);
  }
  return s;
}

/** Handler `*_DB_SSL_MODE` value of each DMS SslMode. */
const HANDLER_SSL_MODE: Record<string, DatabaseSslMode> = {
  [SslMode.NONE.value]: 'disable',
  [SslMode.REQUIRE.value]: 'require',
  [SslMode.VERIFY_CA.value]: 'verify-ca',
  [SslMode.VERIFY_FULL.value]: 'verify-full',
};

/**
 * Largest `sourceCaCertificatePem`: Lambda allows 4 KB for all environment variables, and the rest of the
 * database function's (ARNs, ALLOWED_STEPS, DEFAULTS_JSON, TABLES_JSON...) is about 1.3 KB with a short table
 * selection.
 */
const MAX_CA_PEM_CHARS = 2600;

function validateSourceTls(props: CutoverWorkflowProps): Pick<Settings, 'sourceSslMode' | 'sourceCaCertificatePem'> {
  const mode = props.sourceSslMode ?? SslMode.REQUIRE;
  const sourceSslMode = HANDLER_SSL_MODE[mode.value];
  if (!sourceSslMode) throw new Error(`sourceSslMode ${JSON.stringify(mode.value)} is not supported`);
  const pem = props.sourceCaCertificatePem;
  if (pem === undefined || !mode.verifiesCertificate) return { sourceSslMode };
  if (!Token.isUnresolved(pem)) {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error(
        `sourceCaCertificatePem must be a PEM certificate (-----BEGIN CERTIFICATE-----), got ${JSON.stringify(pem.slice(0, 40))}`,
      );
    }
    if (pem.length > MAX_CA_PEM_CHARS) {
      throw new Error(
        `sourceCaCertificatePem is ${pem.length} characters; at most ${MAX_CA_PEM_CHARS} fit in the cutover function's ` +
          'environment (4 KB for all variables): pass only the CA certificate that signs the source server certificate',
      );
    }
  }
  return { sourceSslMode, sourceCaCertificatePem: pem };
}

function validateProps(props: CutoverWorkflowProps): Settings {
  assertValidSelection(props.tables);
  const sourceTls = validateSourceTls(props);
  assertNonEmpty('replicationTaskArn', props.replicationTaskArn);
  if (
    !Token.isUnresolved(props.replicationTaskArn) &&
    !/^arn:aws[a-z-]*:dms:[a-z0-9-]+:\d{12}:task:[A-Za-z0-9-]+$/.test(props.replicationTaskArn)
  ) {
    throw new Error(
      `replicationTaskArn must be a DMS replication task ARN (arn:aws:dms:<region>:<account>:task:<id>), got ${JSON.stringify(props.replicationTaskArn)}`,
    );
  }
  assertNonEmpty('replicationInstanceIdentifier', props.replicationInstanceIdentifier);
  assertNonEmpty('replicationTaskIdentifier', props.replicationTaskIdentifier);

  // The rule the execution input and the freeze apply too (contract/roles.ts).
  const rolesProblem = applicationRolesProblem(props.applicationRoles ?? [], { isUnresolved: Token.isUnresolved });
  if (rolesProblem) {
    const { field, value, expected } = describeApplicationRolesProblem(rolesProblem);
    throw new Error(`${field} ${expected}, got ${String(JSON.stringify(value)).slice(0, 200)}`);
  }
  const writersProblem = acknowledgedWritersProblem(props.acknowledgedWriters ?? [], props.applicationRoles ?? [], {
    isUnresolved: Token.isUnresolved,
  });
  if (writersProblem) {
    const { field, value, expected } = writersProblem;
    throw new Error(`${field} ${expected}, got ${String(JSON.stringify(value)).slice(0, 200)}`);
  }

  if (props.readEndpoint !== undefined && !Token.isUnresolved(props.readEndpoint)) {
    if (!props.readTrafficSwitch) {
      throw new Error('readEndpoint is set but readTrafficSwitch is not: the read endpoint needs a switch to move');
    }
    if (props.readEndpoint.length === 0 || props.readEndpoint.length > 1024 || /\s/.test(props.readEndpoint)) {
      throw new Error(
        `readEndpoint must be a host name without spaces, got ${JSON.stringify(props.readEndpoint.slice(0, 200))}`,
      );
    }
  }

  if (props.fallbackEndpoint !== undefined && !Token.isUnresolved(props.fallbackEndpoint)) {
    if (
      props.fallbackEndpoint.length === 0 ||
      props.fallbackEndpoint.length > 1024 ||
      /\s/.test(props.fallbackEndpoint)
    ) {
      throw new Error(
        `fallbackEndpoint must be a host name without spaces, got ${JSON.stringify(props.fallbackEndpoint.slice(0, 200))}`,
      );
    }
  }

  const defaults = CUTOVER_INPUT_DEFAULTS;
  const lagThresholdSeconds = seconds(
    'lagThreshold',
    props.lagThreshold ?? Duration.seconds(defaults.lagThresholdSeconds),
    false,
  );
  const consecutiveChecks = props.consecutiveLagChecks ?? defaults.consecutiveChecks;
  assertNumberInRange('consecutiveLagChecks', consecutiveChecks, 1, 100);
  const syncTimeoutSeconds = seconds('syncTimeout', props.syncTimeout ?? Duration.seconds(defaults.syncTimeoutSeconds));
  const finalSyncTimeoutSeconds = seconds(
    'finalSyncTimeout',
    props.finalSyncTimeout ?? Duration.seconds(defaults.finalSyncTimeoutSeconds),
  );
  const finalSyncMax = CUTOVER_INPUT_LIMITS.finalSyncTimeoutSeconds.max;
  if (!Token.isUnresolved(finalSyncTimeoutSeconds) && finalSyncTimeoutSeconds > finalSyncMax) {
    throw new Error(
      `finalSyncTimeout must be at most ${finalSyncMax / 60} minutes (it runs inside one 15-minute Lambda invocation), got ${(props.finalSyncTimeout as Duration).toHumanString()}`,
    );
  }
  const pollInterval = props.pollInterval ?? Duration.seconds(CUTOVER_WORKFLOW_DEFAULTS.pollIntervalSeconds);
  seconds('pollInterval', pollInterval);
  const validationMaxConcurrency = props.validationMaxConcurrency ?? 4;
  assertNumberInRange('validationMaxConcurrency', validationMaxConcurrency, 1, 1000);
  const approvalTimeout = props.approvalTimeout ?? Duration.hours(24);
  seconds('approvalTimeout', approvalTimeout);
  const timeout = props.timeout ?? Duration.seconds(CUTOVER_WORKFLOW_DEFAULTS.executionTimeoutSeconds);
  const timeoutSeconds = seconds('timeout', timeout);
  if (
    !Token.isUnresolved(timeoutSeconds) &&
    !Token.isUnresolved(syncTimeoutSeconds) &&
    timeoutSeconds <= syncTimeoutSeconds + finalSyncTimeoutSeconds
  ) {
    throw new Error(
      `timeout (${timeout.toHumanString()}) must be longer than syncTimeout plus finalSyncTimeout (${syncTimeoutSeconds + finalSyncTimeoutSeconds} seconds)`,
    );
  }
  return {
    ...sourceTls,
    ...validateSchedules(props),
    lagThresholdSeconds,
    consecutiveChecks,
    syncTimeoutSeconds,
    finalSyncTimeoutSeconds,
    pollInterval,
    validationMaxConcurrency,
    approvalTimeout,
    timeout,
  };
}

/** A schedule's rate: whole minutes from 1 minute to 1 day (EventBridge's `rate()` takes minutes at the finest). */
function assertWholeMinutes(what: string, interval: Duration): void {
  const minutes = interval.toSeconds({ integral: false }) / 60;
  if (!Token.isUnresolved(minutes) && !(Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440)) {
    throw new Error(`${what} must be whole minutes from 1 minute to 1 day, got ${interval.toHumanString()}`);
  }
}

/** The progress digest's and the way back watch's schedules. */
function validateSchedules(
  props: CutoverWorkflowProps,
): Pick<Settings, 'digest' | 'digestInterval' | 'wayBackWatchInterval'> {
  const digestInterval = props.digestInterval ?? Duration.hours(1);
  assertWholeMinutes('digestInterval', digestInterval);
  if (props.digest === false && props.digestInterval !== undefined) {
    throw new Error('digestInterval is set but digest is false: there is no digest to schedule');
  }
  const wayBackWatchInterval = props.wayBackWatchInterval ?? Duration.minutes(1);
  assertWholeMinutes('wayBackWatchInterval', wayBackWatchInterval);
  if (!props.reverseReplication && props.wayBackWatchInterval !== undefined) {
    throw new Error('wayBackWatchInterval is set but reverseReplication is not: there is no way back to watch');
  }
  return { digest: props.digest ?? true, digestInterval, wayBackWatchInterval };
}

/** StartExecution on `machine`, reading and stopping its executions, and the approval gate's task responses. */
function grantStart(machine: sfn.StateMachine, grantee: iam.IGrantable): iam.Grant {
  const grant = machine.grantStartExecution(grantee);
  machine.grant(grantee, 'states:DescribeStateMachine', 'states:ListExecutions');
  machine.grantExecution(grantee, 'states:DescribeExecution', 'states:GetExecutionHistory', 'states:StopExecution');
  machine.grantTaskResponse(grantee);
  return grant;
}

/** The directions a function serves its steps in: the digest reports the forward replication only. */
function directionsOf(role: CutoverFunctionRole, directions: readonly CutoverDirection[]): readonly CutoverDirection[] {
  return role === 'digest' ? ['forward'] : directions;
}

function pascal(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
