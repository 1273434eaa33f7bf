/**
 * The Aurora PostgreSQL cluster the migration moves to: `AuroraTarget` (writer, readers or `readerCount`, Serverless v2
 * capacity, storage, insights, monitoring, backup and maintenance windows, the generated secret), its props and their
 * validation. The cutover reads its secret; DMS writes into it.
 */
import { Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { defaultPrivateSubnets } from '../private/subnets';
import { assertNonEmpty, assertNumberInRange, shown, warn } from '../private/validation';

/** Options for Aurora Serverless v2 instances. */
export interface ServerlessV2CapacityOptions {
  /** Minimum capacity in Aurora capacity units (ACU), 0 to 256 in steps of 0.5. @default 0.5 */
  readonly minCapacity?: number;
  /** Maximum capacity in ACU, 1 to 256 in steps of 0.5. @default 8 */
  readonly maxCapacity?: number;
}

/**
 * How the writer and readers of the Aurora target are sized: Serverless v2 or provisioned instances.
 */
export class AuroraCapacity {
  /** Serverless v2 writer and readers (readers scale with the writer so they can take over on failover). */
  public static serverlessV2(options: ServerlessV2CapacityOptions = {}): AuroraCapacity {
    const min = options.minCapacity ?? 0.5;
    const max = options.maxCapacity ?? 8;
    for (const [name, value, lo] of [
      ['minCapacity', min, 0],
      ['maxCapacity', max, 1],
    ] as const) {
      if (!Token.isUnresolved(value) && (value < lo || value > 256 || (value * 2) % 1 !== 0)) {
        throw new Error(
          `AuroraCapacity.serverlessV2: ${name} must be between ${lo} and 256 in steps of 0.5 ACU, got ${value}`,
        );
      }
    }
    if (!Token.isUnresolved(min) && !Token.isUnresolved(max) && min > max) {
      throw new Error(`AuroraCapacity.serverlessV2: minCapacity (${min}) must not exceed maxCapacity (${max})`);
    }
    return new AuroraCapacity('serverless-v2', undefined, min, max);
  }

  /** Provisioned writer and readers of the given instance type, e.g. `ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE)`. */
  public static provisioned(instanceType: ec2.InstanceType): AuroraCapacity {
    return new AuroraCapacity('provisioned', instanceType);
  }

  private constructor(
    /** `serverless-v2` or `provisioned`. */
    public readonly kind: string,
    /** The instance type of provisioned instances. */
    public readonly instanceType?: ec2.InstanceType,
    /** Serverless v2 minimum ACU. */
    public readonly minCapacity?: number,
    /** Serverless v2 maximum ACU. */
    public readonly maxCapacity?: number,
  ) {}

  /** @internal */
  public _instance(id: string, isWriter: boolean, insights: rds.ClusterInstanceOptions = {}): rds.IClusterInstance {
    if (this.instanceType) {
      return rds.ClusterInstance.provisioned(id, { instanceType: this.instanceType, ...insights });
    }
    return rds.ClusterInstance.serverlessV2(id, { scaleWithWriter: !isWriter, ...insights });
  }
}

/** Properties of an {@link AuroraTarget}, other than the VPC. */
export interface AuroraTargetOptions {
  /**
   * An existing Aurora PostgreSQL cluster to migrate into. Requires `secret`; excludes every option that
   * configures a new cluster (`engineVersion`, `capacity`, `writer`, `readers`, `readerCount`, `storageEncryptionKey`,
   * ...).
   *
   * @default - a new cluster is created
   */
  readonly cluster?: rds.IDatabaseCluster;
  /**
   * Credentials of `cluster`: a Secrets Manager secret in the RDS JSON format (`username`, `password`,
   * `host`, `port`, `dbname`), read by DMS and by the cutover workflow. Only with `cluster`.
   *
   * @default - credentials of the new cluster are generated in Secrets Manager
   */
  readonly secret?: secretsmanager.ISecret;
  /** Aurora PostgreSQL engine version (16.x recommended). @default AuroraPostgresEngineVersion.VER_16_9 */
  readonly engineVersion?: rds.AuroraPostgresEngineVersion;
  /**
   * Size of the instances this construct defines: the writer unless `writer` is given, the readers unless `readers`
   * is given.
   *
   * A Serverless v2 capacity also sets the cluster's ACU range, which Serverless v2 instances given in `writer` /
   * `readers` scale within too. A provisioned capacity with both `writer` and `readers` given would size nothing and
   * is refused.
   *
   * @default AuroraCapacity.serverlessV2() (0.5 to 8 ACU)
   */
  readonly capacity?: AuroraCapacity;
  /**
   * The writer instance, defined as `aws-rds`'s `DatabaseCluster` takes it.
   *
   * For example `rds.ClusterInstance.provisioned('Writer', { instanceType })` or
   * `rds.ClusterInstance.serverlessV2('Writer')`. Its Performance Insights options should agree with the target's:
   * with the default `enablePerformanceInsights` (true), give it `enablePerformanceInsights: true` too, or `aws-rds`
   * warns that the cluster's setting overrides it; `aws-rds` refuses a `performanceInsightRetention` or
   * `performanceInsightEncryptionKey` other than the target's.
   *
   * @default - a writer of `capacity`
   */
  readonly writer?: rds.IClusterInstance;
  /**
   * The reader instances (0 to 15), defined as `aws-rds`'s `DatabaseCluster` takes them.
   *
   * For example `[rds.ClusterInstance.serverlessV2('Reader1', { scaleWithWriter: true })]` (a Serverless v2 reader
   * in promotion tier 0 or 1 scales with the writer, so it can take over on failover) or
   * `[rds.ClusterInstance.provisioned('Reader1', { instanceType, promotionTier: 1 })]`. An empty list is a
   * writer-only target (see `readerCount`). Performance Insights options as for `writer`. Excludes `readerCount`.
   *
   * @default - `readerCount` readers of `capacity`
   */
  readonly readers?: rds.IClusterInstance[];
  /**
   * Number of readers of `capacity` next to the writer (0 to 15): the simple form of `readers`.
   *
   * Serverless v2 readers scale with the writer (promotion tier 1); provisioned readers are in tier 2. The number must
   * be known at synth time. With 0 (a cheap staging target) there is no failover instance: a writer failure makes
   * the target unavailable until Aurora replaces the writer, so a warning is raised. Excludes `readers`.
   *
   * @default 1
   */
  readonly readerCount?: number;
  /**
   * Identifier of the new cluster (1 to 63 letters, digits or hyphens, starting with a letter; no two hyphens in a
   * row, no hyphen at the end). A physical name: replacing the cluster then needs a new identifier.
   *
   * @default - generated by CloudFormation
   */
  readonly clusterIdentifier?: string;
  /**
   * Security groups of the new cluster. DMS and the cutover functions are allowed in on the cluster's port either way.
   *
   * @default - a new security group
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Storage type of the new cluster: `rds.DBClusterStorageType.AURORA_IOPT1` (I/O-Optimized) costs more per GB and
   * nothing per I/O, which pays off under the heavy write load of a full load and CDC.
   *
   * @default rds.DBClusterStorageType.AURORA (Aurora Standard)
   */
  readonly storageType?: rds.DBClusterStorageType;
  /** Performance Insights on the cluster's instances. @default true */
  readonly enablePerformanceInsights?: boolean;
  /**
   * How long Performance Insights keeps its data. `DatabaseInsightsMode.ADVANCED` needs
   * `rds.PerformanceInsightRetention.MONTHS_15`.
   *
   * @default rds.PerformanceInsightRetention.DEFAULT (7 days, free tier)
   */
  readonly performanceInsightRetention?: rds.PerformanceInsightRetention;
  /** KMS key of the Performance Insights data. @default - the AWS-managed key */
  readonly performanceInsightEncryptionKey?: kms.IKey;
  /**
   * CloudWatch Database Insights mode: `ADVANCED` adds fleet-level monitoring and execution plans (requires
   * Performance Insights with 15 months retention).
   *
   * @default - Database Insights standard mode (the AWS default)
   */
  readonly databaseInsightsMode?: rds.DatabaseInsightsMode;
  /**
   * Interval of Enhanced Monitoring (OS metrics of the instances): 1, 5, 10, 15, 30 or 60 seconds. A monitoring role is
   * created unless `monitoringRole` is given.
   *
   * @default - no Enhanced Monitoring
   */
  readonly monitoringInterval?: Duration;
  /** Role that Enhanced Monitoring uses to publish to CloudWatch Logs. Only with `monitoringInterval`. @default - a new role */
  readonly monitoringRole?: iam.IRole;
  /**
   * Daily time range in UTC of the automated backups, `hh24:mi-hh24:mi`, at least 30 minutes, not overlapping the
   * maintenance window. E.g. `03:00-04:00`.
   *
   * @default - a 30-minute window chosen by Aurora from an 8-hour block per region
   */
  readonly preferredBackupWindow?: string;
  /**
   * Weekly time range in UTC of system maintenance, `ddd:hh24:mi-ddd:hh24:mi`, at least 30 minutes. E.g.
   * `sun:04:30-sun:05:00`. Keep it away from the cutover.
   *
   * @default - a 30-minute window chosen by Aurora
   */
  readonly preferredMaintenanceWindow?: string;
  /**
   * Name of the target database: created in a new cluster, expected to exist in an existing one.
   *
   * @default 'postgres'
   */
  readonly databaseName?: string;
  /** Master user name; its generated password is stored in Secrets Manager. @default 'zdm_admin' */
  readonly masterUsername?: string;
  /** Port of the new cluster. @default 5432 */
  readonly port?: number;
  /** Customer-managed KMS key for storage and the generated secret. @default - the AWS-managed RDS key (aws/rds) */
  readonly storageEncryptionKey?: kms.IKey;
  /** How long automated backups are kept, 1 to 35 days. @default Duration.days(7) */
  readonly backupRetention?: Duration;
  /** Deletion protection of the new cluster. @default true */
  readonly deletionProtection?: boolean;
  /** What happens to the new cluster when it leaves the stack. @default RemovalPolicy.SNAPSHOT */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Extra cluster parameters, merged over the DMS-target defaults (`rds.force_ssl=1`,
   * `session_replication_role` left at `origin` so DMS sets `replica` per session, `rds.logical_replication=1`,
   * `wal_sender_timeout=60000`). A `wal_sender_timeout` between 1 and 9999 ms is refused: DMS cannot read Aurora then.
   *
   * @default - only the defaults
   */
  readonly parameters?: Record<string, string>;
  /** Subnets of the new cluster. @default - private isolated subnets when the VPC has them, otherwise private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
}

/** `wal_sender_timeout` of the new cluster (ms): PostgreSQL's own default, within what DMS reading Aurora accepts. */
const WAL_SENDER_TIMEOUT_MS = 60000;

/** DMS fails on a PostgreSQL source whose `wal_sender_timeout` is between 1 and 9999 ms (0 disables it). */
function assertWalSenderTimeout(value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value) || !/^\s*\d+\s*$/.test(value)) return;
  const ms = Number(value);
  if (ms > 0 && ms < 10000) {
    throw new Error(
      `AuroraTarget parameters: wal_sender_timeout must be 0 or at least 10000 (ms) for DMS to read Aurora (the reverse replication), got ${JSON.stringify(value)}`,
    );
  }
}

/** `hh24:mi-hh24:mi` (UTC). */
const DAILY_WINDOW = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/;
/** `ddd:hh24:mi-ddd:hh24:mi` (UTC). */
const WEEKLY_WINDOW =
  /^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$/;

function assertWindow(prop: string, value: string | undefined, format: RegExp, example: string): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!format.test(value)) {
    throw new Error(
      `AuroraTarget ${prop} must look like ${JSON.stringify(example)} (UTC), got ${JSON.stringify(value)}`,
    );
  }
}

/** RDS: 1 to 63 letters, digits or hyphens; first a letter; no `--`; no hyphen at the end. */
function assertClusterIdentifier(value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!/^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/.test(value) || value.endsWith('-')) {
    throw new Error(
      'AuroraTarget clusterIdentifier must be 1 to 63 letters, digits or hyphens, start with a letter, and have no ' +
        `two hyphens in a row and no hyphen at the end, got ${JSON.stringify(value)}`,
    );
  }
}

/** Enhanced Monitoring accepts these intervals (seconds). */
const MONITORING_INTERVALS_S = [1, 5, 10, 15, 30, 60];

function assertMonitoringInterval(interval: Duration | undefined): void {
  if (interval === undefined || Token.isUnresolved(interval.toSeconds({ integral: false }))) return;
  const seconds = interval.toSeconds({ integral: false });
  if (!MONITORING_INTERVALS_S.includes(seconds)) {
    throw new Error(
      `AuroraTarget monitoringInterval must be one of ${MONITORING_INTERVALS_S.join(', ')} seconds, got ${interval.toHumanString()}`,
    );
  }
}

/** Properties of an {@link AuroraTarget}. */
export interface AuroraTargetProps extends AuroraTargetOptions {
  /** VPC of the new cluster (and of the security groups allowed into it). */
  readonly vpc: ec2.IVpc;
}

const CLUSTER_OPTIONS: (keyof AuroraTargetOptions)[] = [
  'engineVersion',
  'capacity',
  'writer',
  'readers',
  'readerCount',
  'clusterIdentifier',
  'securityGroups',
  'storageType',
  'enablePerformanceInsights',
  'performanceInsightRetention',
  'performanceInsightEncryptionKey',
  'databaseInsightsMode',
  'monitoringInterval',
  'monitoringRole',
  'preferredBackupWindow',
  'preferredMaintenanceWindow',
  'databaseName',
  'masterUsername',
  'port',
  'storageEncryptionKey',
  'backupRetention',
  'deletionProtection',
  'removalPolicy',
  'parameters',
  'vpcSubnets',
];

/**
 * The Aurora PostgreSQL cluster DMS migrates into: a new encrypted, deletion-protected cluster
 * (writer + readers, Secrets Manager credentials, a DMS-target parameter group), or an existing one.
 */
export class AuroraTarget extends Construct implements ec2.IConnectable {
  /** The target cluster. */
  public readonly cluster: rds.IDatabaseCluster;
  /** Credentials of the target (RDS secret JSON: username, password, host, port, dbname). */
  public readonly secret: secretsmanager.ISecret;
  /** Name of the target database. */
  public readonly databaseName: string;
  /** Network access to the cluster. */
  public readonly connections: ec2.Connections;
  /** The cluster parameter group, when this construct created the cluster. */
  public readonly parameterGroup?: rds.IParameterGroup;
  /** Whether this construct created the cluster. */
  public readonly createdCluster: boolean;

  constructor(scope: Construct, id: string, props: AuroraTargetProps) {
    super(scope, id);

    if (props.cluster || props.secret) {
      if (!props.cluster || !props.secret) {
        throw new Error(
          `AuroraTarget: an existing target needs both "cluster" and "secret", got only ${props.cluster ? '"cluster"' : '"secret"'}`,
        );
      }
      const conflicting = CLUSTER_OPTIONS.filter((k) => props[k] !== undefined && k !== 'databaseName');
      if (conflicting.length > 0) {
        throw new Error(
          `AuroraTarget: "cluster" (an existing cluster) cannot be combined with options for a new cluster: ${conflicting.join(', ')}`,
        );
      }
      this.cluster = props.cluster;
      this.secret = props.secret;
      this.databaseName = props.databaseName ?? 'postgres';
      this.connections = props.cluster.connections;
      this.createdCluster = false;
      warn(
        this,
        'logicalReplication',
        'AuroraTarget: the cutover tracks changes on the target with a logical replication slot; make sure the brought ' +
          "cluster's parameter group sets rds.logical_replication = 1 (static: reboot after changing it).",
      );
      warn(
        this,
        'walSenderTimeout',
        'AuroraTarget: the reverse replication (DMS reading Aurora after the switch) fails when wal_sender_timeout is ' +
          "between 1 and 9999 ms; make sure the brought cluster's parameter group sets it to 0 or 10000 ms or more " +
          '(at most 300000 ms, so a DMS Multi-AZ failover is not delayed).',
      );
      return;
    }

    const { readers, retention, performanceInsights } = this.validateNewClusterProps(props);
    const version = props.engineVersion ?? rds.AuroraPostgresEngineVersion.VER_16_9;
    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version });
    this.parameterGroup = this.createParameterGroup(engine, props);
    this.databaseName = props.databaseName ?? 'postgres';
    const cluster = this.createCluster(props, {
      engine,
      parameterGroup: this.parameterGroup,
      readers,
      retention,
      performanceInsights,
    });
    this.cluster = cluster;
    this.secret = cluster.secret!;
    // A design decision, not an oversight: DMS's target endpoint, the reverse task and the cutover functions all
    // read this password; rotating it during a migration breaks them mid-flight. Rotate after the fallback window
    // (cluster.addRotationSingleUser()), when nothing of the migration runs any more.
    Validations.of(cluster.node.findChild('Secret')).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The migration (DMS endpoints, the reverse task, the cutover functions) reads this secret; rotation during the ' +
        'migration would break them. Enable rotation once the fallback window is closed.',
    });
    this.connections = cluster.connections;
    this.createdCluster = true;
  }

  /** Checks the options of a new cluster (throws naming the bad value; warns about risky choices). */
  private validateNewClusterProps(props: AuroraTargetProps): {
    readers: number;
    retention: Duration;
    performanceInsights: boolean;
  } {
    assertWalSenderTimeout(props.parameters?.wal_sender_timeout);
    const readers = this.validateInstances(props);
    assertClusterIdentifier(props.clusterIdentifier);
    assertMonitoringInterval(props.monitoringInterval);
    if (props.monitoringRole && !props.monitoringInterval) {
      throw new Error('AuroraTarget: "monitoringRole" is only used with "monitoringInterval" (Enhanced Monitoring)');
    }
    assertWindow('preferredBackupWindow', props.preferredBackupWindow, DAILY_WINDOW, '03:00-04:00');
    assertWindow('preferredMaintenanceWindow', props.preferredMaintenanceWindow, WEEKLY_WINDOW, 'sun:04:30-sun:05:00');
    const performanceInsights = props.enablePerformanceInsights ?? true;
    if (!performanceInsights && (props.performanceInsightRetention || props.performanceInsightEncryptionKey)) {
      throw new Error(
        'AuroraTarget: "performanceInsightRetention" and "performanceInsightEncryptionKey" need Performance Insights, ' +
          'but "enablePerformanceInsights" is false',
      );
    }
    assertNumberInRange('AuroraTarget port', props.port, 1150, 65535);
    assertNonEmpty('AuroraTarget databaseName', props.databaseName);
    const retention = props.backupRetention ?? Duration.days(7);
    assertNumberInRange('AuroraTarget backupRetention (days)', retention.toDays(), 1, 35);
    if (props.deletionProtection === false) {
      warn(this, 'deletionProtectionOff', 'AuroraTarget: deletion protection of the target cluster is off.');
    }
    return { readers, retention, performanceInsights };
  }

  /** Checks `writer`, `readers`, `readerCount` and `capacity` together; returns the number of readers. */
  private validateInstances(props: AuroraTargetProps): number {
    // JavaScript callers of the 0.1 API passed a count in `readers`.
    if (props.readers !== undefined && !Array.isArray(props.readers)) {
      throw new Error(
        'AuroraTarget readers takes reader instance definitions, e.g. ' +
          "[rds.ClusterInstance.serverlessV2('Reader1', { scaleWithWriter: true })]; for a number of readers of " +
          `"capacity" use readerCount, got readers: ${shown(props.readers)}`,
      );
    }
    if (props.readers && props.readerCount !== undefined) {
      throw new Error(
        'AuroraTarget: give "readers" (instance definitions) or "readerCount" (a number of readers of "capacity"), not both',
      );
    }
    if (props.writer && props.readers && props.capacity?.kind === 'provisioned') {
      throw new Error(
        'AuroraTarget: "writer" and "readers" define every instance, so a provisioned "capacity" would size none; ' +
          'give the instance types in the definitions (a Serverless v2 "capacity" sets their ACU range)',
      );
    }
    if (props.readerCount !== undefined && Token.isUnresolved(props.readerCount)) {
      throw new Error(
        'AuroraTarget readerCount must be known at synth time (it is the number of instances created), got a token',
      );
    }
    const readers = props.readers?.length ?? props.readerCount ?? 1;
    if (props.readers) {
      if (readers > 15) throw new Error(`AuroraTarget readers must hold 0 to 15 instances, got ${readers}`);
    } else {
      assertNumberInRange('AuroraTarget readerCount', readers, 0, 15);
    }
    if (readers === 0) {
      warn(
        this,
        'noReaders',
        'AuroraTarget: the target has no reader, so no failover instance: a writer failure makes it unavailable ' +
          'until Aurora replaces the writer. Fine for staging; use at least 1 reader for production.',
      );
    }
    return readers;
  }

  /** The DMS-target parameter group: TLS forced, logical decoding on (change tracking, the way back). */
  private createParameterGroup(engine: rds.IClusterEngine, props: AuroraTargetProps): rds.ParameterGroup {
    return new rds.ParameterGroup(this, 'ParameterGroup', {
      engine,
      description: 'Aurora PostgreSQL cluster parameters for a DMS full-load + CDC target',
      parameters: {
        // Clients (DMS, the cutover workflow, applications) must use TLS.
        'rds.force_ssl': '1',
        // DMS sets session_replication_role=replica on its own sessions (afterConnectScript) so that
        // triggers and foreign keys do not fire twice; the cluster default stays `origin`.
        session_replication_role: 'origin',
        // Logical decoding on the target: the cutover's change-tracking slot needs it (and any way back from Aurora).
        // Static: it must be there when the cluster is created.
        'rds.logical_replication': '1',
        // Log long statements so slow apply on the target shows up in CloudWatch Logs.
        log_min_duration_statement: '5000',
        // Sessions DMS leaves idle in a transaction must not hold locks forever.
        idle_in_transaction_session_timeout: '3600000',
        // DMS reading Aurora (the reverse replication) needs 0 or at least 10000 ms, and under 5 minutes so a DMS
        // Multi-AZ failover is not delayed: 60 s (PostgreSQL's default), set rather than left to the engine default.
        wal_sender_timeout: String(WAL_SENDER_TIMEOUT_MS),
        ...(props.parameters ?? {}),
      },
    });
  }

  /** The cluster: writer and readers of the chosen capacity, generated credentials, backups, insights. */
  private createCluster(
    props: AuroraTargetProps,
    parts: {
      engine: rds.IClusterEngine;
      parameterGroup: rds.IParameterGroup;
      readers: number;
      retention: Duration;
      performanceInsights: boolean;
    },
  ): rds.DatabaseCluster {
    const { engine, parameterGroup, readers, retention, performanceInsights } = parts;
    const capacity = props.capacity ?? AuroraCapacity.serverlessV2();
    const databaseName = props.databaseName ?? 'postgres';

    // Performance Insights on the cluster and on each instance, with the same settings (aws-rds checks they agree).
    const insights: rds.ClusterInstanceOptions = {
      enablePerformanceInsights: performanceInsights,
      performanceInsightRetention: performanceInsights ? props.performanceInsightRetention : undefined,
      performanceInsightEncryptionKey: performanceInsights ? props.performanceInsightEncryptionKey : undefined,
    };
    return new rds.DatabaseCluster(this, 'Cluster', {
      engine,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? defaultPrivateSubnets(props.vpc, true),
      writer: props.writer ?? capacity._instance('Writer', true, insights),
      readers:
        props.readers ??
        Array.from({ length: readers }, (_, i) => capacity._instance(`Reader${i + 1}`, false, insights)),
      serverlessV2MinCapacity: capacity.kind === 'serverless-v2' ? capacity.minCapacity : undefined,
      serverlessV2MaxCapacity: capacity.kind === 'serverless-v2' ? capacity.maxCapacity : undefined,
      credentials: rds.Credentials.fromGeneratedSecret(props.masterUsername ?? 'zdm_admin', {
        encryptionKey: props.storageEncryptionKey,
      }),
      defaultDatabaseName: databaseName,
      port: props.port ?? 5432,
      parameterGroup,
      storageEncrypted: true,
      storageEncryptionKey: props.storageEncryptionKey,
      deletionProtection: props.deletionProtection ?? true,
      backup: { retention, preferredWindow: props.preferredBackupWindow },
      preferredMaintenanceWindow: props.preferredMaintenanceWindow,
      clusterIdentifier: props.clusterIdentifier,
      securityGroups: props.securityGroups,
      storageType: props.storageType,
      ...insights,
      databaseInsightsMode: props.databaseInsightsMode,
      monitoringInterval: props.monitoringInterval,
      monitoringRole: props.monitoringRole,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      iamAuthentication: true,
      cloudwatchLogsExports: ['postgresql'],
      copyTagsToSnapshot: true,
    });
  }

  /** Allows `other` to connect to the cluster on its port (e.g. DMS, the cutover Lambda functions). */
  public allowDefaultPortFrom(other: ec2.IConnectable, description?: string): void {
    this.connections.allowDefaultPortFrom(other, description ?? 'Aurora target access');
  }

  /** Grants reading the target credentials (and decrypting them, when a customer key encrypts them). */
  public grantReadCredentials(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }
}
