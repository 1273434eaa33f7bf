import { StartReplicationTaskCommand } from '@aws-sdk/client-database-migration-service';
import type { ReplicationStatus, ReverseReplicationPort } from '../ports';
import { DmsTaskReplication, type DmsReplicationOptions } from './dms-task-replication';

export interface DmsReverseReplicationOptions extends DmsReplicationOptions {
  /** The slot the task's source endpoint (Aurora) reads (`SlotName`). */
  readonly slotName: string;
  /** Its plugin (`PluginName`): `test_decoding`. */
  readonly slotPlugin: string;
}

/**
 * The CDC-only DMS task Aurora → source behind the reverse port. `start` runs `StartReplicationTask` with
 * `start-replication` and `CdcStartPosition` = the slot's LSN (PostgreSQL takes a position, not a time); a task that
 * is already starting or running is left as it is.
 */
export class DmsReverseReplication extends DmsTaskReplication implements ReverseReplicationPort {
  readonly slotName: string;
  readonly slotPlugin: string;

  constructor(private readonly reverseOptions: DmsReverseReplicationOptions) {
    super(reverseOptions);
    this.slotName = reverseOptions.slotName;
    this.slotPlugin = reverseOptions.slotPlugin;
  }

  /** A CDC-only task has no full load: nothing to copy, the target's rows are the source's already. */
  async status(): Promise<ReplicationStatus> {
    const status = await super.status();
    return { ...status, fullLoadComplete: true, detail: `CDC only; ${status.detail ?? ''}` };
  }

  async start(fromLsn: string): Promise<void> {
    const { state } = await super.status();
    if (state === 'running' || state === 'starting') return;
    await this.client.send(
      new StartReplicationTaskCommand({
        ReplicationTaskArn: this.reverseOptions.replicationTaskArn,
        StartReplicationTaskType: 'start-replication',
        CdcStartPosition: fromLsn,
      }),
    );
  }
}
