import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/**
 * What the cutover needs of the reverse replication (Aurora → source), the way back after the switch: the cutover
 * creates its slot inside the write freeze, starts its task once forward replication has stopped, and the fallback
 * workflow runs the cutover in that direction. `ZeroDowntimeMigration` fills it in.
 */
export interface ReverseReplicationBinding {
  /** ARN of the CDC-only DMS task Aurora → source (created, never started by a deploy). */
  readonly taskArn: string;
  /** The task's CloudWatch `ReplicationTaskIdentifier` dimension (its resource id). */
  readonly taskIdentifier: string;
  /** `ReplicationInstanceIdentifier` of the instance the task runs on. */
  readonly instanceIdentifier: string;
  /** The logical replication slot the task's source endpoint reads (`SlotName`); the cutover creates it. */
  readonly slotName: string;
  /** Output plugin of that slot, the endpoint's `PluginName` (`test_decoding`). */
  readonly slotPlugin: string;
  /**
   * Lag alarms on the reverse task. Created with their actions disabled (nothing runs yet); the cutover enables them
   * when it starts the task, the fallback disables them when it stops it.
   * @default - no alarms are touched
   */
  readonly lagAlarms?: cloudwatch.IAlarm[];
}
