/**
 * The top-level construct: `ZeroDowntimeMigration` wires the Aurora target, the DMS replication (forward and the way
 * back), the cutover and fallback state machines and the monitoring from one set of props, and exposes each part.
 */
import { CfnOutput } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dms from 'aws-cdk-lib/aws-dms';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CUTOVER_METRIC } from '../contract';
import { CutoverWorkflow, type CutoverWorkflowOptions } from './cutover/cutover-workflow';
import type { ReverseReplicationBinding } from './cutover/reverse-replication-binding';
import type { TableSelection } from './tables';
import { MigrationMonitoring, MigrationMonitoringOptions } from './monitoring/migration-monitoring';
import { DmsReplication, DmsReplicationOptions, SourceDatabaseProps } from './replication/dms-replication';
import { AuroraTarget, AuroraTargetOptions } from './target/aurora-target';
import { warnWhenIsolatedWithoutEndpoints } from './private/network';
import { defaultPrivateSubnets } from './private/subnets';

/** Properties of a {@link ZeroDowntimeMigration}. */
export interface ZeroDowntimeMigrationProps {
  /** VPC of the target cluster and the DMS replication instance (at least two AZs). */
  readonly vpc: ec2.IVpc;
  /** The self-managed PostgreSQL to migrate from. */
  readonly source: SourceDatabaseProps;
  /** Tables to migrate and validate: drives the DMS table mappings, preflight and validation. */
  readonly tables: TableSelection;
  /**
   * The Aurora PostgreSQL target: options for a new cluster, or an existing `cluster` + `secret`.
   *
   * @default - a new Serverless v2 Aurora PostgreSQL 16 cluster with one reader, database named like the source's
   */
  readonly target?: AuroraTargetOptions;
  /** DMS replication options. @default - see {@link DmsReplicationOptions} */
  readonly replication?: DmsReplicationOptions;
  /** Alarm, topic and dashboard options. @default - see {@link MigrationMonitoringOptions} */
  readonly monitoring?: MigrationMonitoringOptions;
  /**
   * The cutover workflow: application roles to freeze, lag threshold, approval gate, traffic switch, timeouts.
   * @default - a cutover state machine with the defaults of {@link CutoverWorkflowOptions}; executions name
   * the application roles in their input
   */
  readonly cutover?: CutoverWorkflowOptions;
  /**
   * Stack outputs of what an operator needs: the cutover (and fallback) state machine ARNs, the target's endpoint,
   * port and secret ARN, the replication task ARN and the alarm topic ARN. Their logical IDs derive from this
   * construct's path; none is exported.
   *
   * @default true
   */
  readonly outputs?: boolean;
}

/**
 * Everything the cutover workflow needs from the migration, in one place
 * (see {@link ZeroDowntimeMigration.cutoverInputs}).
 */
export interface MigrationCutoverInputs {
  /** VPC the cutover Lambda functions run in. */
  readonly vpc: ec2.IVpc;
  /** The source database (name, secret with its address and credentials, TLS settings). */
  readonly source: SourceDatabaseProps;
  /** Secret of the source credentials. */
  readonly sourceSecret: secretsmanager.ISecret;
  /** Secret of the target credentials (RDS JSON: username, password, host, port, dbname). */
  readonly targetSecret: secretsmanager.ISecret;
  /** Name of the target database. */
  readonly targetDatabaseName: string;
  /** The target; call `allowDefaultPortFrom(lambdaSecurityGroup)` to let the workflow in. */
  readonly target: AuroraTarget;
  /** The table selection. */
  readonly tables: TableSelection;
  /** ARN of the DMS replication task. */
  readonly replicationTaskArn: string;
  /** `ReplicationInstanceIdentifier` metric dimension. */
  readonly replicationInstanceIdentifier: string;
  /** `ReplicationTaskIdentifier` metric dimension. */
  readonly replicationTaskIdentifier: string;
  /** Names of the CDC lag alarms, whose actions the cutover disables while it stops replication. */
  readonly lagAlarmNames: string[];
  /** ARNs of the CDC lag alarms (for `cloudwatch:DisableAlarmActions` / `EnableAlarmActions` grants). */
  readonly lagAlarmArns: string[];
  /** Topic for phase notices and the "cutover execution failed" alarm. */
  readonly alarmTopic: sns.ITopic;
}

/**
 * Moves a live self-managed PostgreSQL database to Aurora PostgreSQL: Aurora target, DMS
 * full-load-and-CDC replication, alarms and a dashboard, in one construct.
 *
 * A running DMS task cannot be modified by a stack update; changing the replication instance replaces
 * the task and forces a full reload. See {@link DmsReplication}.
 */
export class ZeroDowntimeMigration extends Construct implements ec2.IConnectable {
  /** The Aurora PostgreSQL target. */
  public readonly target: AuroraTarget;
  /** DMS replication (instance, endpoints, task). */
  public readonly replication: DmsReplication;
  /** Alarms, task events, dashboard. */
  public readonly monitoring: MigrationMonitoring;
  /** Topic of alarms and task events. */
  public readonly alarmTopic: sns.ITopic;
  /** The DMS full-load-and-cdc task. */
  public readonly replicationTask: dms.CfnReplicationTask;
  /** ARN of the DMS task. */
  public readonly replicationTaskArn: string;
  /** The migration dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** Inputs for the cutover workflow (and for anything else built on this migration). */
  public readonly cutoverInputs: MigrationCutoverInputs;
  /** The cutover workflow: state machine, step functions, state table, execution-failed alarm. */
  public readonly cutover: CutoverWorkflow;
  /** The cutover state machine (start it with `{ "migrationId": "...", "mode": "dry-run" | "execute" }`). */
  public readonly stateMachine: sfn.StateMachine;
  /** DynamoDB table with each migration's phases and the settings rollback restores. */
  public readonly stateTable: dynamodb.Table;
  /**
   * What the cutover gets of the reverse replication (Aurora → source): task, instance, slot and the muted reverse lag
   * alarms. Undefined with `replication.reverseReplication: false`.
   */
  public readonly reverseReplicationBinding?: ReverseReplicationBinding;
  /** CDC latency alarms of the reverse task, created with their actions disabled; empty without reverse replication. */
  public readonly reverseLagAlarms: cloudwatch.Alarm[];
  /**
   * What connects to the source database: the DMS replication instance and the cutover functions (their security
   * groups). `sourceSecurityGroup.connections.allowFrom(migration, ec2.Port.tcp(5432))` lets both in.
   */
  public readonly connections: ec2.Connections;

  constructor(scope: Construct, id: string, props: ZeroDowntimeMigrationProps) {
    super(scope, id);

    const targetOptions = props.target ?? {};
    this.target = new AuroraTarget(this, 'Target', {
      vpc: props.vpc,
      ...targetOptions,
      databaseName: targetOptions.databaseName ?? props.source.databaseName,
    });

    this.replication = new DmsReplication(this, 'Replication', {
      ...props.replication,
      vpc: props.vpc,
      source: props.source,
      target: this.target,
      tables: props.tables,
    });
    this.replicationTask = this.replication.replicationTask;
    this.replicationTaskArn = this.replication.replicationTaskArn;

    const reverse = this.replication.reverseReplication;
    this.monitoring = new MigrationMonitoring(this, 'Monitoring', {
      ...props.monitoring,
      replicationInstanceIdentifier: this.replication.replicationInstanceIdentifier,
      replicationTaskIdentifier: this.replication.replicationTaskIdentifier,
      replicationTaskArn: this.replication.replicationTaskArn,
      targetClusterIdentifier: this.target.cluster.clusterIdentifier,
      reverseReplication: reverse && {
        replicationInstanceIdentifier: reverse.instanceIdentifier,
        replicationTaskIdentifier: reverse.taskIdentifier,
        replicationTaskArn: reverse.taskArn,
      },
    });
    this.alarmTopic = this.monitoring.alarmTopic;
    this.dashboard = this.monitoring.dashboard;
    this.reverseLagAlarms = this.monitoring.reverseLagAlarms;
    this.reverseReplicationBinding = reverse && {
      taskArn: reverse.taskArn,
      taskIdentifier: reverse.taskIdentifier,
      instanceIdentifier: reverse.instanceIdentifier,
      slotName: reverse.slotName,
      slotPlugin: reverse.slotPlugin,
      lagAlarms: this.reverseLagAlarms,
    };

    this.cutoverInputs = {
      vpc: props.vpc,
      source: props.source,
      sourceSecret: props.source.secret,
      targetSecret: this.target.secret,
      targetDatabaseName: this.target.databaseName,
      target: this.target,
      tables: props.tables,
      replicationTaskArn: this.replicationTaskArn,
      replicationInstanceIdentifier: this.replication.replicationInstanceIdentifier,
      replicationTaskIdentifier: this.replication.replicationTaskIdentifier,
      lagAlarmNames: this.monitoring.lagAlarms.map((a) => a.alarmName),
      lagAlarmArns: this.monitoring.lagAlarms.map((a) => a.alarmArn),
      alarmTopic: this.alarmTopic,
    };

    const readEndpoint =
      props.cutover?.readTrafficSwitch && props.cutover.readEndpoint === undefined
        ? readerEndpointOf(this.target.cluster)
        : props.cutover?.readEndpoint;
    this.cutover = new CutoverWorkflow(this, 'Cutover', {
      ...props.cutover,
      ...(readEndpoint !== undefined ? { readEndpoint } : {}),
      vpc: props.vpc,
      sourceSecret: props.source.secret,
      targetSecret: this.target.secret,
      tables: props.tables,
      replicationTaskArn: this.replicationTaskArn,
      replicationInstanceIdentifier: this.replication.replicationInstanceIdentifier,
      replicationTaskIdentifier: this.replication.replicationTaskIdentifier,
      alarmTopic: this.alarmTopic,
      lagAlarms: this.monitoring.lagAlarms,
      reverseReplication: this.reverseReplicationBinding,
      // the step functions connect to the databases DMS replicates, the way DMS does
      sourceDatabaseName: props.source.databaseName,
      targetDatabaseName: this.target.databaseName,
      sourceSslMode: props.source.sslMode,
      sourceCaCertificatePem: props.source.caCertificatePem,
    });
    this.target.allowDefaultPortFrom(this.cutover, 'Cutover step functions');
    // The step functions call AWS APIs from their subnets (the same selection CutoverWorkflow makes).
    warnWhenIsolatedWithoutEndpoints(
      this.cutover,
      props.vpc,
      props.vpc.selectSubnets(props.cutover?.vpcSubnets ?? defaultPrivateSubnets(props.vpc, false)).subnets,
      [
        { service: 'secretsmanager', why: 'database credentials' },
        { service: 'dynamodb', why: 'the state table' },
        { service: 'sns', why: 'notices' },
        { service: 'dms', why: 'replication status, stop and start' },
        { service: 'monitoring', why: 'lag metrics and alarm actions' },
        { service: 'xray', why: 'tracing' },
      ],
      'the cutover step functions',
    );
    this.stateMachine = this.cutover.stateMachine;
    this.stateTable = this.cutover.stateTable;
    this.connections = new ec2.Connections({
      securityGroups: [...this.replication.connections.securityGroups, ...this.cutover.connections.securityGroups],
    });

    if (props.outputs ?? true) this.addOutputs();
  }

  private addOutputs(): void {
    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description: `${this.node.path}: ${description}` });
    output('CutoverStateMachineArn', this.stateMachine.stateMachineArn, 'the cutover state machine');
    if (this.cutover.fallbackStateMachine) {
      output(
        'FallbackStateMachineArn',
        this.cutover.fallbackStateMachine.stateMachineArn,
        'the fallback state machine',
      );
    }
    output('TargetEndpoint', this.target.cluster.clusterEndpoint.hostname, 'the Aurora target writer endpoint');
    output('TargetPort', this.target.cluster.clusterEndpoint.port.toString(), 'the Aurora target port');
    output('TargetSecretArn', this.target.secret.secretArn, 'the Aurora target credentials');
    output('ReplicationTaskArn', this.replicationTaskArn, 'the DMS replication task');
    output('AlarmTopicArn', this.alarmTopic.topicArn, 'the alarm and notice topic');
  }

  /**
   * Lets `grantee` start, follow and stop cutover executions and answer the approval gate.
   * The source's network access for the cutover functions is yours to open: `migration.cutover.connections`.
   */
  public grantStartCutover(grantee: iam.IGrantable): iam.Grant {
    return this.cutover.grantStartCutover(grantee);
  }

  /**
   * Lets `grantee` start, follow and stop fallback executions (the cutover run the other way, Aurora → source).
   * Fails when the migration has no way back (`replication.reverseReplication: false`).
   */
  public grantStartFallback(grantee: iam.IGrantable): iam.Grant {
    if (!this.cutover.fallbackStateMachine) {
      throw new Error(
        'ZeroDowntimeMigration.grantStartFallback: this migration has no fallback state machine, because its ' +
          'replication has no way back (replication.reverseReplication is false)',
      );
    }
    return this.cutover.grantStartFallback(grantee);
  }

  /**
   * How long writes were frozen on the source in the execution of `migrationId` (milliseconds, emitted when it
   * completes in execute mode). Statistic Maximum over 1 minute unless overridden.
   */
  public metricFreezeDuration(migrationId: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metricCutover(CUTOVER_METRIC.freezeDuration, migrationId, props);
  }

  /**
   * Keys changed during replication that still await verification, for `migrationId`. Statistic Maximum over 1
   * minute unless overridden.
   */
  public metricVerificationBacklog(migrationId: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metricCutover(CUTOVER_METRIC.verificationBacklog, migrationId, props);
  }

  /**
   * Replication lag (seconds) that the cutover's CheckLag measured with its heartbeat, for `migrationId`. Statistic
   * Maximum over 1 minute unless overridden.
   */
  public metricCutoverReplicationLag(migrationId: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metricCutover(CUTOVER_METRIC.replicationLag, migrationId, props);
  }

  /** Source rows checksummed by validation, for `migrationId`. Statistic Sum over 1 minute unless overridden. */
  public metricRowsValidated(migrationId: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metricCutover(CUTOVER_METRIC.rowsValidated, migrationId, { statistic: 'Sum', ...props });
  }

  /** Rows found different by a validation, for `migrationId`. Statistic Maximum over 1 minute unless overridden. */
  public metricValidationDifferences(migrationId: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metricCutover(CUTOVER_METRIC.validationDifferences, migrationId, props);
  }

  /** CDCLatencySource of the task (seconds), statistic Maximum over 1 minute unless overridden. */
  public metricCdcLatencySource(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metrics.task('CDCLatencySource', { statistic: 'Maximum', ...props });
  }

  /** CDCLatencyTarget of the task (seconds), statistic Maximum over 1 minute unless overridden. */
  public metricCdcLatencyTarget(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metrics.task('CDCLatencyTarget', { statistic: 'Maximum', ...props });
  }

  /** CPUUtilization of the replication instance (percent), statistic Average over 1 minute unless overridden. */
  public metricReplicationInstanceCpu(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metrics.instance('CPUUtilization', { statistic: 'Average', ...props });
  }

  /** Grants reading the source credentials. */
  public grantReadSourceCredentials(grantee: iam.IGrantable): iam.Grant {
    return this.cutoverInputs.sourceSecret.grantRead(grantee);
  }

  /** Grants reading the target credentials. */
  public grantReadTargetCredentials(grantee: iam.IGrantable): iam.Grant {
    return this.target.grantReadCredentials(grantee);
  }

  /** Grants starting, stopping and describing the replication task. */
  public grantReplicationTaskControl(grantee: iam.IGrantable): iam.Grant {
    return this.replication.grantTaskControl(grantee);
  }

  /** Grants disabling and enabling the actions of the CDC lag alarms (the cutover mutes them while it stops replication). */
  public grantLagAlarmActionsControl(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['cloudwatch:DisableAlarmActions', 'cloudwatch:EnableAlarmActions'],
      resourceArns: this.cutoverInputs.lagAlarmArns,
    });
  }
}

/** The cluster's reader endpoint host, or undefined for an imported cluster that was given none. */
function readerEndpointOf(cluster: rds.IDatabaseCluster): string | undefined {
  try {
    return cluster.clusterReadEndpoint.hostname;
  } catch {
    return undefined;
  }
}
