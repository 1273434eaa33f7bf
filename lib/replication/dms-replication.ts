/**
 * The forward replication: `DmsReplication` — the replication instance (Multi-AZ, private, KMS), its subnet group, the
 * source and target endpoints reading credentials from Secrets Manager, and the full-load-and-CDC task whose table
 * mappings come from the table selection; the SSL, plugin and table-prep enums it takes.
 */
import { Aws, Duration, Fn, Names, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as dms from 'aws-cdk-lib/aws-dms';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { endpointTuning } from './endpoint-tuning';
import { toDmsTableMappings } from '../../contract';
import type { TableSelection } from '../tables';
import { defaultPrivateSubnets } from '../private/subnets';
import { warnWhenIsolatedWithoutEndpoints } from '../private/network';
import { ReverseReplication } from './reverse-replication';
import { replicationTaskSettings } from '../private/task-settings';
import {
  assertDmsIdentifier,
  assertDmsInstanceClass,
  assertNonEmpty,
  assertNumberInRange,
  shown,
  toDmsIdentifier,
  warn,
} from '../private/validation';

/** SSL mode of a DMS PostgreSQL endpoint. */
export class SslMode {
  /** Encrypt, do not verify the server certificate. */
  public static readonly REQUIRE = new SslMode('require');
  /** Encrypt and verify the server certificate against the CA certificate. */
  public static readonly VERIFY_CA = new SslMode('verify-ca');
  /** Encrypt, verify the certificate and that the host name matches it. */
  public static readonly VERIFY_FULL = new SslMode('verify-full');
  /** No encryption: credentials and data cross the network in clear text. Raises a warning. */
  public static readonly NONE = new SslMode('none');
  private constructor(
    /** The DMS `SslMode` value. */
    public readonly value: string,
  ) {}
  /** Whether the mode verifies the server certificate (and so needs a CA certificate). */
  public get verifiesCertificate(): boolean {
    return this.value === 'verify-ca' || this.value === 'verify-full';
  }
}

/** Logical decoding plugin DMS uses on the PostgreSQL source. */
export class LogicalReplicationPlugin {
  /** pglogical (the extension must be installed and in `shared_preload_libraries`). */
  public static readonly PGLOGICAL = new LogicalReplicationPlugin('pglogical');
  /**
   * test_decoding (built into PostgreSQL). The DMS API spells it `test-decoding` (the SDK's `PluginNameValue`); the
   * PostgreSQL plugin DMS then uses is `test_decoding`.
   */
  public static readonly TEST_DECODING = new LogicalReplicationPlugin('test-decoding');
  private constructor(
    /** The DMS `PluginName` value (`PluginNameValue` of the DMS API: `pglogical`, `test-decoding`). */
    public readonly value: string,
  ) {}
}

/** What DMS does to target tables before the full load. */
export class TargetTablePrepMode {
  /** Leave tables as they are: the target schema was created beforehand (recommended). */
  public static readonly DO_NOTHING = new TargetTablePrepMode('DO_NOTHING');
  /** Truncate existing tables before loading. */
  public static readonly TRUNCATE_BEFORE_LOAD = new TargetTablePrepMode('TRUNCATE_BEFORE_LOAD');
  /** Drop and re-create tables (DMS creates only tables and primary keys: no secondary indexes, defaults or constraints). */
  public static readonly DROP_AND_CREATE = new TargetTablePrepMode('DROP_AND_CREATE');
  private constructor(
    /** The DMS `TargetTablePrepMode` value. */
    public readonly value: string,
  ) {}
}

/**
 * The self-managed PostgreSQL database to migrate from. Where it is, and who connects, is said once: in `secret`
 * (RDS secret JSON: `host`, `port`, `username`, `password`). The DMS endpoints (forward and reverse) name only the
 * secret, and the cutover functions read the secret when they connect, so changing the host or port means changing
 * the secret.
 */
export interface SourceDatabaseProps {
  /**
   * Not used: the source's host is the `host` of `secret`.
   *
   * DMS and the cutover functions read the host from `secret`; a value here is ignored with a warning.
   *
   * @deprecated put the host in `secret` (`host`) and leave this out; it will be removed.
   * @default - the `host` of `secret`
   */
  readonly host?: string;
  /**
   * Not used: the source's port is the `port` of `secret`.
   *
   * DMS and the cutover functions read the port from `secret` (5432 when it has none); a value here is ignored with a
   * warning.
   *
   * @deprecated put the port in `secret` (`port`) and leave this out; it will be removed.
   * @default - the `port` of `secret`
   */
  readonly port?: number;
  /**
   * Name of the source database DMS replicates.
   *
   * The cutover functions connect to the `dbname` of `secret` (`postgres` when it has none): keep the two the same.
   */
  readonly databaseName: string;
  /**
   * Secret with the source's address and credentials, in the RDS secret JSON format.
   *
   * Fields: `host`, `port` (5432 when absent), `username`, `password`, `dbname`. The one place the source's host and port are given: DMS reads them from it
   * (a DMS endpoint takes either a secret or clear-text connection values, not both), and so do the cutover
   * functions. The user needs the replication privilege (and, with pglogical, the extension's grants).
   */
  readonly secret: secretsmanager.ISecret;
  /** SSL mode of the DMS source endpoint. @default SslMode.REQUIRE */
  readonly sslMode?: SslMode;
  /**
   * PEM of the CA certificate that signed the source's server certificate; required with
   * `SslMode.VERIFY_CA` / `SslMode.VERIFY_FULL` and imported as a DMS certificate.
   *
   * @default - no certificate (only valid with SslMode.REQUIRE or SslMode.NONE)
   */
  readonly caCertificatePem?: string;
}

/** The database DMS writes to. An {@link AuroraTarget} fits. */
export interface DmsTargetDatabase {
  /** Secret with the target credentials in the RDS JSON format (`username`, `password`, `host`, `port`). */
  readonly secret: secretsmanager.ISecret;
  /** Name of the target database. */
  readonly databaseName: string;
  /** Network access to the target: DMS is allowed in on the target's default port. @default - no rule is added */
  readonly connections?: ec2.Connections;
}

/** Options of a {@link DmsReplication}, other than the VPC, source, target and tables. */
export interface DmsReplicationOptions {
  /** DMS replication instance class, `dms.<family>.<size>`. @default 'dms.r6i.large' */
  readonly replicationInstanceClass?: string;
  /** Storage of the replication instance in GiB (5 to 6144); holds task logs and cached changes. @default 100 */
  readonly allocatedStorageGiB?: number;
  /** DMS engine version, e.g. '3.5.4'. @default - the DMS default version at creation time */
  readonly engineVersion?: string;
  /** Standby replication instance in another AZ. @default true */
  readonly multiAz?: boolean;
  /** Whether the replication instance gets a public IP address. Raises a warning when true. @default false */
  readonly publiclyAccessible?: boolean;
  /** KMS key for the replication instance storage and endpoint connection settings. @default - the AWS-managed DMS key */
  readonly kmsKey?: kms.IKey;
  /**
   * Identifier of the replication instance: it is the `ReplicationInstanceIdentifier` dimension of the DMS
   * CloudWatch metrics, which CloudFormation does not return (`Ref` is the ARN), so it is always set.
   *
   * @default - a stable name derived from the stack name and construct path
   */
  readonly replicationInstanceIdentifier?: string;
  /** Subnets of the replication subnet group (at least two AZs). @default - private subnets with egress, else isolated subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Security groups of the replication instance. @default - a new security group with all outbound traffic allowed (DMS must reach the source and Secrets Manager) */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Create the account-level service roles `dms-vpc-role` and `dms-cloudwatch-logs-role`. They have fixed
   * names, exist once per account, and creating them a second time fails; set this only in the one stack
   * of the account that owns them. The replication instance then depends on them.
   *
   * @default false
   */
  readonly createDmsServiceRoles?: boolean;
  /**
   * What DMS does to target tables before the full load. Changing task settings while the task runs fails
   * the stack update: a running DMS task cannot be modified (stop it first).
   *
   * @default TargetTablePrepMode.DO_NOTHING (the target schema is created beforehand)
   */
  readonly targetTablePrepMode?: TargetTablePrepMode;
  /** Limited LOB mode: LOBs larger than this are truncated (see FailTasksOnLobTruncation). @default Size.kibibytes(32) */
  readonly lobMaxSize?: Size;
  /** DMS data validation. @default true */
  readonly enableValidation?: boolean;
  /** Tables loaded in parallel during the full load (1 to 49). @default 8 */
  readonly maxFullLoadSubTasks?: number;
  /** Name of the logical replication slot on the source. @default - DMS creates a slot with a generated name */
  readonly slotName?: string;
  /** Logical decoding plugin. @default - DMS uses pglogical when the extension is installed, otherwise test_decoding */
  readonly pluginName?: LogicalReplicationPlugin;
  /**
   * Write heartbeats on the source (and on Aurora for the reverse replication) so an idle database does not hold WAL
   * (the slot's restart_lsn advances). @default true
   */
  readonly heartbeatEnabled?: boolean;
  /** How often heartbeats are written. @default Duration.minutes(5) */
  readonly heartbeatFrequency?: Duration;
  /** Schema of the heartbeat table on the source (and on Aurora for the reverse replication). @default - DMS default ('public') */
  readonly heartbeatSchema?: string;
  /** Capture DDL with an event trigger on the source. @default false (the target schema is managed separately) */
  readonly captureDdls?: boolean;
  /** Maximum size of a .csv file used to load data into the target. @default Size.mebibytes(32) */
  readonly maxFileSize?: Size;
  /** Statement timeout of DMS sessions. @default Duration.seconds(60) */
  readonly executeTimeout?: Duration;
  /** Fail the task when a LOB is truncated instead of silently truncating it. @default true */
  readonly failTasksOnLobTruncation?: boolean;
  /**
   * Create the way back: a CDC-only task from Aurora to the source on the same replication instance (a
   * {@link ReverseReplication}: an Aurora source endpoint reading a named logical slot, a target endpoint on the source,
   * the same table mappings). Deploying never starts it: the cutover creates its slot inside the write freeze and
   * starts it once forward replication has stopped, so the source keeps receiving every write made on Aurora
   * after the switch. Its DMS user on the source writes with `session_replication_role = replica` (superuser, or
   * PostgreSQL 15+ `GRANT SET ON PARAMETER session_replication_role`). Set false for a one-way migration.
   *
   * @default true
   */
  readonly reverseReplication?: boolean;
}

/** Properties of a {@link DmsReplication}. */
export interface DmsReplicationProps extends DmsReplicationOptions {
  /** VPC of the replication instance. */
  readonly vpc: ec2.IVpc;
  /** The PostgreSQL source. */
  readonly source: SourceDatabaseProps;
  /** The target database. */
  readonly target: DmsTargetDatabase;
  /**
   * Tables to migrate; the DMS table mappings are generated from it (the cutover marker table included).
   * Changing it while the task runs fails the stack update (stop the task first).
   */
  readonly tables: TableSelection;
}

/** The replication settings, validated and defaulted (warnings for the unsafe choices on `scope`). */
interface ReplicationSettings {
  readonly instanceClass: string;
  readonly allocatedStorage: number;
  readonly maxSubTasks: number;
  readonly tuning: ReturnType<typeof endpointTuning>;
  readonly tableMappings: string;
  readonly sslMode: SslMode;
}

function validateReplicationProps(scope: Construct, props: DmsReplicationProps): ReplicationSettings {
  const instanceClass = props.replicationInstanceClass ?? 'dms.r6i.large';
  assertDmsInstanceClass(instanceClass);
  const allocatedStorage = props.allocatedStorageGiB ?? 100;
  assertNumberInRange('allocatedStorageGiB', allocatedStorage, 5, 6144);
  const given = (['host', 'port'] as const).filter((k) => props.source[k] !== undefined);
  if (given.length > 0) {
    warn(
      scope,
      'sourceAddressInSecret',
      `source ${given.join(' and ')} ${given.length > 1 ? 'are' : 'is'} ignored: DMS and the cutover functions read ` +
        'the source\'s host and port from its secret (the "host" and "port" fields). Leave them out of the props ' +
        'and keep them in the secret.',
    );
  }
  assertNonEmpty('source databaseName', props.source.databaseName);
  assertNonEmpty('target databaseName', props.target.databaseName);
  assertDmsIdentifier('replicationInstanceIdentifier', props.replicationInstanceIdentifier);
  const maxSubTasks = props.maxFullLoadSubTasks ?? 8;
  assertNumberInRange('maxFullLoadSubTasks', maxSubTasks, 1, 49);
  const tuning = endpointTuning(props);
  const tableMappings = JSON.stringify(toDmsTableMappings(props.tables));

  const sslMode = props.source.sslMode ?? SslMode.REQUIRE;
  if (sslMode.verifiesCertificate && !props.source.caCertificatePem) {
    throw new Error(`source sslMode "${sslMode.value}" verifies the server certificate and needs "caCertificatePem"`);
  }
  if (props.source.caCertificatePem !== undefined && !Token.isUnresolved(props.source.caCertificatePem)) {
    if (!props.source.caCertificatePem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error(
        `source caCertificatePem must be a PEM certificate (-----BEGIN CERTIFICATE-----), got ${JSON.stringify(props.source.caCertificatePem.slice(0, 40))}`,
      );
    }
    if (!sslMode.verifiesCertificate) {
      warn(
        scope,
        'caCertificateUnused',
        `source caCertificatePem is ignored with sslMode "${sslMode.value}"; use SslMode.VERIFY_FULL to verify the source.`,
      );
    }
  }
  if (sslMode === SslMode.NONE) {
    warn(
      scope,
      'sourceSslNone',
      'source sslMode is "none": credentials and data travel unencrypted between the source and DMS. Use SslMode.REQUIRE or SslMode.VERIFY_FULL.',
    );
  }
  if (props.publiclyAccessible) {
    warn(scope, 'publiclyAccessible', 'the DMS replication instance is publicly accessible.');
  }
  if (props.multiAz === false) {
    warn(
      scope,
      'singleAz',
      'the DMS replication instance is single-AZ: an AZ failure stops replication during the migration.',
    );
  }

  return { instanceClass, allocatedStorage, maxSubTasks, tuning, tableMappings, sslMode };
}

/** The subnets of the replication subnet group: at least two, in at least two availability zones. */
function replicationSubnets(scope: Construct, props: DmsReplicationProps): ec2.SelectedSubnets {
  const selection = props.vpc.selectSubnets(props.vpcSubnets ?? defaultPrivateSubnets(props.vpc, false));
  const azs = new Set(selection.subnets.map((s) => s.availabilityZone));
  const azsKnown = selection.subnets.every((s) => !Token.isUnresolved(s.availabilityZone));
  if (selection.subnets.length < 2 || (azsKnown && azs.size < 2)) {
    // Subnet IDs and AZs of an imported or environment-agnostic VPC are tokens: name them as such, never `${Token[...]}`.
    const listed =
      selection.subnets.map((s) => `${shown(s.subnetId)} (${shown(s.availabilityZone)})`).join(', ') || 'none';
    const got = azsKnown
      ? `${azs.size} availability zone(s)`
      : `${selection.subnets.length} subnet(s) in availability zones known only at deploy time`;
    throw new Error(
      `DMS replication subnet group needs subnets in at least 2 availability zones, got ${got}: ${listed}`,
    );
  }
  // DMS reads the endpoint secrets itself: "If you are using AWS Secrets Manager ... you also need to set up a VPC
  // endpoint" (or a NAT route) for Secrets Manager.
  warnWhenIsolatedWithoutEndpoints(
    scope,
    props.vpc,
    selection.subnets,
    [{ service: 'secretsmanager', why: 'DMS reads the endpoint credentials' }],
    'the DMS replication instance',
  );
  return selection;
}

/**
 * AWS DMS full-load-and-CDC replication from a self-managed PostgreSQL into the target: a Multi-AZ,
 * private replication instance, endpoints that read their credentials from Secrets Manager, and a task;
 * and, unless `reverseReplication` is false, the way back: a CDC-only task from the target to the source
 * ({@link ReverseReplication}), created stopped, that the cutover starts after the switch.
 *
 * A running DMS task cannot be modified by a stack update (`InvalidResourceStateFault`): stop the task
 * before changing task settings, table mappings or endpoints. Changing the replication instance (class,
 * identifier, subnets) replaces the task, which restarts with a full reload of every table.
 */
export class DmsReplication extends Construct implements ec2.IConnectable {
  /** The replication instance. */
  public readonly replicationInstance: dms.CfnReplicationInstance;
  /** The replication subnet group. */
  public readonly subnetGroup: dms.CfnReplicationSubnetGroup;
  /** The full-load-and-cdc task. */
  public readonly replicationTask: dms.CfnReplicationTask;
  /** The PostgreSQL source endpoint. */
  public readonly sourceEndpoint: dms.CfnEndpoint;
  /** The Aurora PostgreSQL target endpoint. */
  public readonly targetEndpoint: dms.CfnEndpoint;
  /** The CA certificate of the source, with `VERIFY_CA` / `VERIFY_FULL`. */
  public readonly sourceCertificate?: dms.CfnCertificate;
  /** Role DMS assumes to read the endpoint secrets. */
  public readonly secretsAccessRole: iam.IRole;
  /** `dms-vpc-role`, when `createDmsServiceRoles` is set. */
  public readonly dmsVpcRole?: iam.IRole;
  /** `dms-cloudwatch-logs-role`, when `createDmsServiceRoles` is set. */
  public readonly dmsCloudWatchLogsRole?: iam.IRole;
  /** ARN of the replication task (`Ref`). */
  public readonly replicationTaskArn: string;
  /** ARN of the replication instance (`Ref`). */
  public readonly replicationInstanceArn: string;
  /** Value of the `ReplicationInstanceIdentifier` dimension of DMS metrics. */
  public readonly replicationInstanceIdentifier: string;
  /** Value of the `ReplicationTaskIdentifier` dimension of DMS metrics: the task resource ID, the part of the ARN after `task:`. */
  public readonly replicationTaskIdentifier: string;
  /** Security groups of the replication instance. */
  public readonly connections: ec2.Connections;
  /** The source the task reads from. */
  public readonly source: SourceDatabaseProps;
  /** The reverse replication (Aurora → source), unless `reverseReplication` is false. */
  public readonly reverseReplication?: ReverseReplication;

  constructor(scope: Construct, id: string, props: DmsReplicationProps) {
    super(scope, id);
    this.source = props.source;
    const settings = validateReplicationProps(this, props);

    // ---- network ----------------------------------------------------------------------------------
    const selection = replicationSubnets(this, props);
    let serviceRoles: iam.Role[] = [];
    if (props.createDmsServiceRoles) {
      const { vpcRole, logsRole } = this.createDmsServiceRoles();
      this.dmsVpcRole = vpcRole;
      this.dmsCloudWatchLogsRole = logsRole;
      serviceRoles = [vpcRole, logsRole];
    }
    this.subnetGroup = new dms.CfnReplicationSubnetGroup(this, 'SubnetGroup', {
      replicationSubnetGroupDescription: `DMS replication subnets for ${this.node.path}`,
      subnetIds: selection.subnetIds,
    });

    const securityGroups = props.securityGroups ?? [
      new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: 'DMS replication instance',
        allowAllOutbound: true,
      }),
    ];
    this.connections = new ec2.Connections({ securityGroups });
    if (props.target.connections) {
      props.target.connections.allowDefaultPortFrom(this.connections, 'DMS replication instance to the target');
    }

    // ---- replication instance ---------------------------------------------------------------------
    this.replicationInstanceIdentifier =
      props.replicationInstanceIdentifier ??
      toDmsIdentifier(Names.uniqueResourceName(this, { maxLength: 63, separator: '-', allowedSpecialCharacters: '-' }));
    this.replicationInstance = new dms.CfnReplicationInstance(this, 'Instance', {
      replicationInstanceClass: settings.instanceClass,
      replicationInstanceIdentifier: this.replicationInstanceIdentifier,
      allocatedStorage: settings.allocatedStorage,
      engineVersion: props.engineVersion,
      multiAz: props.multiAz ?? true,
      publiclyAccessible: props.publiclyAccessible ?? false,
      kmsKeyId: props.kmsKey?.keyArn,
      replicationSubnetGroupIdentifier: this.subnetGroup.ref,
      vpcSecurityGroupIds: securityGroups.map((sg) => sg.securityGroupId),
      autoMinorVersionUpgrade: true,
    });
    for (const role of serviceRoles) {
      this.subnetGroup.node.addDependency(role);
      this.replicationInstance.node.addDependency(role);
    }
    this.replicationInstanceArn = this.replicationInstance.ref;

    // ---- endpoints ---------------------------------------------------------------------------------
    this.secretsAccessRole = this.createSecretsAccessRole(props);
    const { sslMode } = settings;
    if (sslMode.verifiesCertificate && props.source.caCertificatePem) {
      this.sourceCertificate = new dms.CfnCertificate(this, 'SourceCaCertificate', {
        certificatePem: props.source.caCertificatePem,
      });
    }
    const endpoints = this.createEndpoints(props, settings);
    this.sourceEndpoint = endpoints.source;
    this.targetEndpoint = endpoints.target;

    // ---- task ------------------------------------------------------------------------------------------
    this.replicationTask = new dms.CfnReplicationTask(this, 'Task', {
      migrationType: 'full-load-and-cdc',
      replicationInstanceArn: this.replicationInstance.ref,
      sourceEndpointArn: this.sourceEndpoint.ref,
      targetEndpointArn: this.targetEndpoint.ref,
      tableMappings: settings.tableMappings,
      replicationTaskSettings: JSON.stringify(
        replicationTaskSettings({
          targetTablePrepMode: (props.targetTablePrepMode ?? TargetTablePrepMode.DO_NOTHING).value,
          lobMaxSizeKiB: settings.tuning.lobMaxSizeKiB,
          enableValidation: props.enableValidation ?? true,
          maxFullLoadSubTasks: settings.maxSubTasks,
        }),
      ),
    });
    this.replicationTaskArn = this.replicationTask.ref;
    // arn:<partition>:dms:<region>:<account>:task:<resource id>
    this.replicationTaskIdentifier = Fn.select(6, Fn.split(':', this.replicationTask.ref));

    // ---- the way back ------------------------------------------------------------------------------------
    if (props.reverseReplication ?? true) this.reverseReplication = this.createReverse(props, sslMode);
  }

  /** The account-level roles DMS needs (fixed names, one per account), when `createDmsServiceRoles` asks. */
  private createDmsServiceRoles(): { vpcRole: iam.Role; logsRole: iam.Role } {
    const principal = new iam.ServicePrincipal('dms.amazonaws.com');
    const vpcRole = new iam.Role(this, 'DmsVpcRole', {
      roleName: 'dms-vpc-role',
      assumedBy: principal,
      description: 'Account-level role DMS uses to manage VPC resources (fixed name, one per account)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonDMSVPCManagementRole')],
    });
    const logsRole = new iam.Role(this, 'DmsCloudWatchLogsRole', {
      roleName: 'dms-cloudwatch-logs-role',
      assumedBy: principal,
      description: 'Account-level role DMS uses to write task logs to CloudWatch Logs (fixed name, one per account)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonDMSCloudWatchLogsRole')],
    });
    for (const [role, name, policy] of [
      [vpcRole, 'dms-vpc-role', 'AmazonDMSVPCManagementRole'],
      [logsRole, 'dms-cloudwatch-logs-role', 'AmazonDMSCloudWatchLogsRole'],
    ] as const) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        reason: `DMS requires the account-level role "${name}" with exactly the AWS-managed policy ${policy}.`,
      });
    }
    return { vpcRole, logsRole };
  }

  /** The role DMS reads the endpoint secrets with. */
  private createSecretsAccessRole(props: DmsReplicationProps): iam.Role {
    const region = Stack.of(this).region;
    const secretsAccessRole = new iam.Role(this, 'SecretsAccessRole', {
      assumedBy: new iam.ServicePrincipal(
        Token.isUnresolved(region) ? `dms.${Aws.REGION}.amazonaws.com` : `dms.${region}.amazonaws.com`,
      ),
      description: 'Lets DMS read the source and target endpoint secrets',
    });
    props.source.secret.grantRead(secretsAccessRole);
    props.target.secret.grantRead(secretsAccessRole);
    return secretsAccessRole;
  }

  /** The source and target endpoints, reading their credentials from Secrets Manager. */
  private createEndpoints(
    props: DmsReplicationProps,
    { sslMode, tuning }: ReplicationSettings,
  ): { source: dms.CfnEndpoint; target: dms.CfnEndpoint } {
    const secretsAccessRole = this.secretsAccessRole;
    const source = new dms.CfnEndpoint(this, 'SourceEndpoint', {
      endpointType: 'source',
      engineName: 'postgres',
      databaseName: props.source.databaseName,
      sslMode: sslMode.value,
      certificateArn: this.sourceCertificate?.ref,
      kmsKeyId: props.kmsKey?.keyArn,
      postgreSqlSettings: {
        secretsManagerSecretId: props.source.secret.secretArn,
        secretsManagerAccessRoleArn: secretsAccessRole.roleArn,
        slotName: props.slotName,
        pluginName: props.pluginName?.value,
        ...tuning.source,
      },
    });

    const target = new dms.CfnEndpoint(this, 'TargetEndpoint', {
      endpointType: 'target',
      engineName: 'aurora-postgresql',
      databaseName: props.target.databaseName,
      sslMode: SslMode.REQUIRE.value,
      kmsKeyId: props.kmsKey?.keyArn,
      postgreSqlSettings: {
        secretsManagerSecretId: props.target.secret.secretArn,
        secretsManagerAccessRoleArn: secretsAccessRole.roleArn,
        // Triggers and foreign keys must not fire for replicated rows (they fired on the source already).
        afterConnectScript: "SET session_replication_role = 'replica'",
        ...tuning.target,
      },
    });
    // DMS tests the connection when the endpoint is used: the role policy must exist first.
    const policy = secretsAccessRole.node.tryFindChild('DefaultPolicy');
    if (policy) {
      source.node.addDependency(policy);
      target.node.addDependency(policy);
    }

    return { source, target };
  }

  /** The way back: the reverse task (Aurora → source) on the same instance, reaching the source as this task does. */
  private createReverse(props: DmsReplicationProps, sslMode: SslMode): ReverseReplication {
    return new ReverseReplication(this, 'Reverse', {
      replicationInstanceArn: this.replicationInstanceArn,
      replicationInstanceIdentifier: this.replicationInstanceIdentifier,
      secretsAccessRole: this.secretsAccessRole,
      aurora: { secret: props.target.secret, databaseName: props.target.databaseName },
      // the source as the forward task reaches it: same secret, SSL mode and CA certificate
      source: {
        secret: props.source.secret,
        databaseName: props.source.databaseName,
        sslMode: sslMode.value,
        certificateArn: this.sourceCertificate?.ref,
      },
      tables: props.tables,
      kmsKey: props.kmsKey,
      heartbeatEnabled: props.heartbeatEnabled,
      heartbeatFrequency: props.heartbeatFrequency,
      heartbeatSchema: props.heartbeatSchema,
      captureDdls: props.captureDdls,
      maxFileSize: props.maxFileSize,
      executeTimeout: props.executeTimeout,
      lobMaxSize: props.lobMaxSize,
      failTasksOnLobTruncation: props.failTasksOnLobTruncation,
    });
  }

  /**
   * Grants starting, stopping and describing this replication task (what the cutover workflow needs).
   */
  public grantTaskControl(grantee: iam.IGrantable): iam.Grant {
    // DescribeReplicationTasks is account-level: it supports no resource-level permissions.
    iam.Grant.addToPrincipal({ grantee, actions: ['dms:DescribeReplicationTasks'], resourceArns: ['*'] });
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dms:StartReplicationTask', 'dms:StopReplicationTask', 'dms:DescribeTableStatistics'],
      resourceArns: [this.replicationTaskArn],
    });
  }
}
