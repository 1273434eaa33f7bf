import { Duration, Fn, Size } from 'aws-cdk-lib';
import * as dms from 'aws-cdk-lib/aws-dms';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { endpointTuning } from './endpoint-tuning';
import { toDmsTableMappings } from '../../contract';
import type { TableSelection } from '../tables';
import { replicationTaskSettings } from '../private/task-settings';
import { assertNonEmpty } from '../private/validation';

/** Output plugin of the reverse replication slot: built into PostgreSQL, so Aurora needs no extension for it. */
const REVERSE_SLOT_PLUGIN = 'test_decoding';
/**
 * The same plugin as the DMS API names it in `PostgreSqlSettings.PluginName` (`PluginNameValue`: `no-preference`,
 * `pglogical`, `test-decoding`): a hyphen where PostgreSQL has an underscore.
 */
const REVERSE_DMS_PLUGIN_NAME = 'test-decoding';

/** The Aurora database the reverse replication reads from (the migration's target). */
export interface ReverseReplicationAurora {
  /** Secret with the Aurora credentials in the RDS JSON format (`username`, `password`, `host`, `port`). */
  readonly secret: secretsmanager.ISecret;
  /** Name of the Aurora database. */
  readonly databaseName: string;
}

/** The old source the reverse replication writes to. */
export interface ReverseReplicationSource {
  /** Secret with the source credentials in the RDS JSON format (`username`, `password`, `host`, `port`). */
  readonly secret: secretsmanager.ISecret;
  /** Name of the source database. */
  readonly databaseName: string;
  /** DMS `SslMode` of the endpoint (`none`, `require`, `verify-ca`, `verify-full`), as the forward source uses. @default 'require' */
  readonly sslMode?: string;
  /** ARN of the DMS certificate that verifies the source (with `verify-ca` / `verify-full`). @default - none */
  readonly certificateArn?: string;
}

/** Properties of a {@link ReverseReplication}. */
export interface ReverseReplicationProps {
  /** ARN of the replication instance the task runs on (the forward task's). */
  readonly replicationInstanceArn: string;
  /** `ReplicationInstanceIdentifier` of that instance (the metric dimension). */
  readonly replicationInstanceIdentifier: string;
  /** Role DMS assumes to read the two secrets; this construct grants it read access to both. */
  readonly secretsAccessRole: iam.IRole;
  /** The Aurora database, the source of the reverse replication. */
  readonly aurora: ReverseReplicationAurora;
  /** The old source, the target of the reverse replication. */
  readonly source: ReverseReplicationSource;
  /** The tables, as the forward task replicates them (the same DMS table mappings, the cutover marker table included). */
  readonly tables: TableSelection;
  /** KMS key of the endpoints' connection settings. @default - the AWS-managed DMS key */
  readonly kmsKey?: kms.IKey;
  /** Write heartbeats on Aurora so an idle database does not hold WAL behind the slot. @default true */
  readonly heartbeatEnabled?: boolean;
  /** How often heartbeats are written. @default Duration.minutes(5) */
  readonly heartbeatFrequency?: Duration;
  /** Schema of the heartbeat table on Aurora. @default - DMS default ('public') */
  readonly heartbeatSchema?: string;
  /** Capture DDL with an event trigger on Aurora. @default false */
  readonly captureDdls?: boolean;
  /** Maximum size of a .csv file used to load data into the target. @default Size.mebibytes(32) */
  readonly maxFileSize?: Size;
  /** Statement timeout of DMS sessions. @default Duration.seconds(60) */
  readonly executeTimeout?: Duration;
  /** Limited LOB mode: LOBs larger than this are truncated. @default Size.kibibytes(32) */
  readonly lobMaxSize?: Size;
  /** Fail the task when a LOB is truncated. @default true */
  readonly failTasksOnLobTruncation?: boolean;
}

/**
 * The way back after the switch: a CDC-only DMS task from Aurora to the old source, on the forward task's replication
 * instance, created stopped. Nothing starts it at deploy time (CloudFormation never starts a DMS task). Inside the
 * cutover's write freeze the workflow creates the logical slot {@link slotName} on Aurora (plugin
 * {@link slotPlugin}) and records its LSN; once forward replication has stopped it starts this task with
 * `StartReplicationTaskType: start-replication` and `CdcStartPosition: <that LSN>` (a PostgreSQL source takes a start
 * position, not a start time), so every write made on Aurora after the freeze reaches the source.
 *
 * While the slot exists Aurora keeps the WAL the task has not confirmed: end the fallback window (which stops the task
 * and drops the slot) once the way back is no longer wanted.
 */
export class ReverseReplication extends Construct {
  /** The CDC-only task Aurora → source. */
  public readonly replicationTask: dms.CfnReplicationTask;
  /** Source endpoint of the task: Aurora, reading the slot {@link slotName}. */
  public readonly sourceEndpoint: dms.CfnEndpoint;
  /** Target endpoint of the task: the old source. */
  public readonly targetEndpoint: dms.CfnEndpoint;
  /** ARN of the task (`Ref`). */
  public readonly taskArn: string;
  /** Value of the `ReplicationTaskIdentifier` dimension of DMS metrics: the part of the task ARN after `task:`. */
  public readonly taskIdentifier: string;
  /** `ReplicationInstanceIdentifier` of the instance the task runs on. */
  public readonly instanceIdentifier: string;
  /**
   * Name of the logical replication slot on Aurora the task reads (`SlotName` of its source endpoint), created by the
   * cutover: `zdm_reverse_` and a hash of this construct's path (lowercase letters, digits and `_`, 28 characters).
   */
  public readonly slotName: string;
  /**
   * PostgreSQL output plugin of the slot, as `pg_create_logical_replication_slot` takes it: `test_decoding` (the
   * source endpoint's DMS `PluginName` for it is `test-decoding`).
   */
  public readonly slotPlugin: string;

  constructor(scope: Construct, id: string, props: ReverseReplicationProps) {
    super(scope, id);

    assertNonEmpty('reverse replication Aurora databaseName', props.aurora.databaseName);
    assertNonEmpty('reverse replication source databaseName', props.source.databaseName);
    const tuning = endpointTuning(props);

    // Deterministic and unique per construct: the construct address is a SHA-1 of its path.
    this.slotName = `zdm_reverse_${this.node.addr.slice(2, 18)}`;
    this.slotPlugin = REVERSE_SLOT_PLUGIN;
    this.instanceIdentifier = props.replicationInstanceIdentifier;

    props.aurora.secret.grantRead(props.secretsAccessRole);
    props.source.secret.grantRead(props.secretsAccessRole);

    this.sourceEndpoint = new dms.CfnEndpoint(this, 'SourceEndpoint', {
      endpointType: 'source',
      engineName: 'aurora-postgresql',
      databaseName: props.aurora.databaseName,
      // As the forward task's Aurora endpoint: verify-ca / verify-full would need the RDS CA bundle imported as a DMS
      // certificate, which this library does not ship.
      sslMode: 'require',
      kmsKeyId: props.kmsKey?.keyArn,
      postgreSqlSettings: {
        secretsManagerSecretId: props.aurora.secret.secretArn,
        secretsManagerAccessRoleArn: props.secretsAccessRole.roleArn,
        // The slot the cutover creates inside the write freeze; the task starts at the LSN it recorded.
        slotName: this.slotName,
        pluginName: REVERSE_DMS_PLUGIN_NAME,
        ...tuning.source,
      },
    });

    this.targetEndpoint = new dms.CfnEndpoint(this, 'TargetEndpoint', {
      endpointType: 'target',
      engineName: 'postgres',
      databaseName: props.source.databaseName,
      sslMode: props.source.sslMode ?? 'require',
      certificateArn: props.source.certificateArn,
      kmsKeyId: props.kmsKey?.keyArn,
      postgreSqlSettings: {
        secretsManagerSecretId: props.source.secret.secretArn,
        secretsManagerAccessRoleArn: props.secretsAccessRole.roleArn,
        // Triggers and foreign keys must not fire for replicated rows (they fired on Aurora already).
        afterConnectScript: "SET session_replication_role = 'replica'",
        ...tuning.target,
      },
    });
    // DMS tests the connection when the endpoint is used: the role policy must exist first.
    const policy = props.secretsAccessRole.node.tryFindChild('DefaultPolicy');
    if (policy) {
      this.sourceEndpoint.node.addDependency(policy);
      this.targetEndpoint.node.addDependency(policy);
    }

    this.replicationTask = new dms.CfnReplicationTask(this, 'Task', {
      // CDC only: the source has every row already. No CdcStartPosition here: the cutover gives it at start.
      migrationType: 'cdc',
      replicationInstanceArn: props.replicationInstanceArn,
      sourceEndpointArn: this.sourceEndpoint.ref,
      targetEndpointArn: this.targetEndpoint.ref,
      tableMappings: JSON.stringify(toDmsTableMappings(props.tables)),
      replicationTaskSettings: JSON.stringify(
        replicationTaskSettings({
          // The source has the tables: nothing is created, truncated or loaded.
          targetTablePrepMode: 'DO_NOTHING',
          lobMaxSizeKiB: tuning.lobMaxSizeKiB,
          // The fallback runs the cutover's own checks in that direction; DMS validation would only add load.
          enableValidation: false,
          maxFullLoadSubTasks: 8,
          // A conflict is a write on the old source behind the way back: stop, loudly, rather than keep either row.
          stopOnApplyConflict: true,
        }),
      ),
    });
    this.taskArn = this.replicationTask.ref;
    // arn:<partition>:dms:<region>:<account>:task:<resource id>
    this.taskIdentifier = Fn.select(6, Fn.split(':', this.replicationTask.ref));
  }
}
