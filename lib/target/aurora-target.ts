import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { defaultPrivateSubnets } from '../private/subnets';
import { assertNonEmpty, assertNumberInRange, warn } from '../private/validation';

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
  public _instance(id: string, isWriter: boolean): rds.IClusterInstance {
    if (this.instanceType) {
      return rds.ClusterInstance.provisioned(id, { instanceType: this.instanceType, enablePerformanceInsights: true });
    }
    return rds.ClusterInstance.serverlessV2(id, { scaleWithWriter: !isWriter, enablePerformanceInsights: true });
  }
}

/** Properties of an {@link AuroraTarget}, other than the VPC. */
export interface AuroraTargetOptions {
  /**
   * An existing Aurora PostgreSQL cluster to migrate into. Requires `secret`; excludes every option that
   * configures a new cluster (`engineVersion`, `capacity`, `readers`, `storageEncryptionKey`, ...).
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
  /** Writer and reader sizing. @default AuroraCapacity.serverlessV2() (0.5 to 8 ACU) */
  readonly capacity?: AuroraCapacity;
  /** Number of readers next to the writer (at least 1, so a failover target exists). @default 1 */
  readonly readers?: number;
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
  /** How long automated backups are kept. @default Duration.days(7) */
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

/** Properties of an {@link AuroraTarget}. */
export interface AuroraTargetProps extends AuroraTargetOptions {
  /** VPC of the new cluster (and of the security groups allowed into it). */
  readonly vpc: ec2.IVpc;
}

const CLUSTER_OPTIONS: (keyof AuroraTargetOptions)[] = [
  'engineVersion',
  'capacity',
  'readers',
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

    assertWalSenderTimeout(props.parameters?.wal_sender_timeout);
    const readers = props.readers ?? 1;
    assertNumberInRange('AuroraTarget readers', readers, 1, 15);
    assertNumberInRange('AuroraTarget port', props.port, 1150, 65535);
    assertNonEmpty('AuroraTarget databaseName', props.databaseName);
    const retention = props.backupRetention ?? Duration.days(7);
    assertNumberInRange('AuroraTarget backupRetention (days)', retention.toDays(), 1, 35);
    if (props.deletionProtection === false) {
      warn(this, 'deletionProtectionOff', 'AuroraTarget: deletion protection of the target cluster is off.');
    }

    const version = props.engineVersion ?? rds.AuroraPostgresEngineVersion.VER_16_9;
    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version });
    const parameterGroup = new rds.ParameterGroup(this, 'ParameterGroup', {
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
    this.parameterGroup = parameterGroup;

    const capacity = props.capacity ?? AuroraCapacity.serverlessV2();
    const databaseName = props.databaseName ?? 'postgres';
    this.databaseName = databaseName;

    const cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? defaultPrivateSubnets(props.vpc, true),
      writer: capacity._instance('Writer', true),
      readers: Array.from({ length: readers }, (_, i) => capacity._instance(`Reader${i + 1}`, false)),
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
      backup: { retention },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      iamAuthentication: true,
      cloudwatchLogsExports: ['postgresql'],
      copyTagsToSnapshot: true,
    });
    this.cluster = cluster;
    this.secret = cluster.secret!;
    this.connections = cluster.connections;
    this.createdCluster = true;
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
