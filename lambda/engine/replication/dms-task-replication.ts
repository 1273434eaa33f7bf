import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DatabaseMigrationServiceClient,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  StopReplicationTaskCommand,
  type TableStatistics,
  type ReplicationTask,
} from '@aws-sdk/client-database-migration-service';
import type { LobSettings, ReplicationPort, ReplicationProgress, ReplicationState, ReplicationStatus } from '../ports';

export interface DmsReplicationOptions {
  readonly replicationTaskArn: string;
  /** Dimension values of the task's CloudWatch metrics. */
  readonly replicationInstanceId: string;
  readonly replicationTaskId: string;
  /** @default - a client for the Lambda's region */
  readonly dms?: DatabaseMigrationServiceClient;
  readonly cloudwatch?: CloudWatchClient;
  /** How far back to look for the latest lag datapoint. @default 300 */
  readonly lagWindowSeconds?: number;
  /**
   * Oldest lag datapoint (by its timestamp, the start of its 1-minute period) still taken as the current lag; an
   * older one means DMS stopped publishing and the lag is unknown (null: never in sync). DMS publishes its task
   * metrics once a minute, so the newest datapoint is normally 1-2 minutes old (its minute must end, then
   * CloudWatch ingests it); 3 minutes leaves a minute of slack. Too small only delays sync, too large lets a
   * stale 0 pass as in sync.
   * @default 180
   */
  readonly maxDatapointAgeSeconds?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

const STATE_OF_STATUS: Record<string, ReplicationState> = {
  running: 'running',
  starting: 'starting',
  resuming: 'starting',
  stopping: 'stopping',
  stopped: 'stopped',
  ready: 'stopped',
  failed: 'failed',
  'failed-move': 'failed',
};

/**
 * AWS DMS behind the replication port.
 * - state: the task's `Status` (running, starting, stopping, stopped / ready, failed; anything else is `unknown`),
 *   with `StopReason` / `LastFailureMessage` in `detail`.
 * - fullLoadComplete: the full load finished (`FullLoadFinishDate`, or 100 % with no table loading or queued)
 *   and no table errored.
 * - lagSeconds: the latest `Maximum` of `AWS/DMS` `CDCLatencySource` and `CDCLatencyTarget` (task + instance
 *   dimensions, last `lagWindowSeconds`), the larger of the two; null unless both have a datapoint at most
 *   `maxDatapointAgeSeconds` old (a stale 0 from a task that stopped publishing is not "in sync").
 *   CDCLatencySource reads 0 when nothing in scope changes, CDCLatencyTarget covers what is captured but not yet
 *   applied.
 * - stop: `StopReplicationTask`, a no-op when the task is already stopped or stopping.
 * - progress: the task's full-load statistics and each table's (`DescribeTableStatistics`, every page).
 */
export class DmsTaskReplication implements ReplicationPort {
  readonly description: string;
  protected readonly client: DatabaseMigrationServiceClient;
  private readonly cloudwatch: CloudWatchClient;

  constructor(private readonly options: DmsReplicationOptions) {
    this.description = `AWS DMS task ${options.replicationTaskArn}`;
    this.client = options.dms ?? new DatabaseMigrationServiceClient({});
    this.cloudwatch = options.cloudwatch ?? new CloudWatchClient({});
  }

  private async task(): Promise<ReplicationTask | undefined> {
    const out = await this.client.send(
      new DescribeReplicationTasksCommand({
        Filters: [{ Name: 'replication-task-arn', Values: [this.options.replicationTaskArn] }],
        WithoutSettings: true,
      }),
    );
    return out.ReplicationTasks?.[0];
  }

  /**
   * The task's LOB settings (`ReplicationTaskSettings.TargetMetadata`: `FullLobMode`, `LimitedSizeLobMode`,
   * `LobMaxSize` in KiB), read from DMS so preflight checks the values against what is deployed. Undefined when the
   * task or its settings cannot be read, or LOBs are not supported at all.
   */
  async lobSettings(): Promise<LobSettings | undefined> {
    const out = await this.client.send(
      new DescribeReplicationTasksCommand({
        Filters: [{ Name: 'replication-task-arn', Values: [this.options.replicationTaskArn] }],
      }),
    );
    const raw = out.ReplicationTasks?.[0]?.ReplicationTaskSettings;
    if (!raw) return undefined;
    let metadata: { SupportLobs?: unknown; FullLobMode?: unknown; LimitedSizeLobMode?: unknown; LobMaxSize?: unknown };
    try {
      metadata = (JSON.parse(raw) as { TargetMetadata?: typeof metadata }).TargetMetadata ?? {};
    } catch {
      return undefined;
    }
    if (metadata.SupportLobs === false) return undefined;
    if (metadata.FullLobMode === true) return { fullLobMode: true, lobMaxSizeKiB: 0 };
    const kib = Number(metadata.LobMaxSize);
    return Number.isFinite(kib) && kib > 0 ? { fullLobMode: false, lobMaxSizeKiB: kib } : undefined;
  }

  async status(): Promise<ReplicationStatus> {
    let task: ReplicationTask | undefined;
    try {
      task = await this.task();
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundFault') task = undefined;
      else throw error;
    }
    if (!task)
      return { state: 'unknown', fullLoadComplete: false, lagSeconds: null, detail: 'replication task not found' };
    const status = task.Status ?? 'unknown';
    const state = STATE_OF_STATUS[status] ?? 'unknown';
    const stats = task.ReplicationTaskStats ?? {};
    const errored = stats.TablesErrored ?? 0;
    const details = [`status ${status}`];
    if (task.StopReason) details.push(`stop reason: ${task.StopReason}`);
    if (task.LastFailureMessage) details.push(`last failure: ${task.LastFailureMessage}`);
    details.push(
      `full load ${stats.FullLoadProgressPercent ?? 0}% (${stats.TablesLoaded ?? 0} loaded, ${stats.TablesLoading ?? 0} loading, ${stats.TablesQueued ?? 0} queued, ${errored} errored)`,
    );
    const lagSeconds = state === 'running' || state === 'stopping' ? await this.lag() : null;
    return { state, fullLoadComplete: fullLoadComplete(task), lagSeconds, detail: details.join('; ') };
  }

  async progress(): Promise<ReplicationProgress> {
    const task = await this.task();
    if (!task) throw new Error(`${this.description} not found`);
    const stats = task.ReplicationTaskStats ?? {};
    const tables: TableStatistics[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(
        new DescribeTableStatisticsCommand({
          ReplicationTaskArn: this.options.replicationTaskArn,
          MaxRecords: 500,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      tables.push(...(page.TableStatistics ?? []));
      marker = page.Marker;
    } while (marker);
    return {
      fullLoadPercent: stats.FullLoadProgressPercent ?? 0,
      fullLoadComplete: fullLoadComplete(task),
      ...(stats.FullLoadStartDate ? { fullLoadStartedAt: new Date(stats.FullLoadStartDate) } : {}),
      tables: tables.map((t) => ({
        schema: t.SchemaName ?? '',
        table: t.TableName ?? '',
        state: t.TableState ?? 'unknown',
        rows: t.FullLoadRows ?? 0,
        errorRows: t.FullLoadErrorRows ?? 0,
      })),
    };
  }

  /** Latest CDC latency (seconds): the larger of source and target latency, or null without fresh datapoints of both. */
  async lag(): Promise<number | null> {
    const end = (this.options.now ?? (() => new Date()))();
    const start = new Date(end.getTime() - (this.options.lagWindowSeconds ?? 300) * 1000);
    const dimensions = [
      { Name: 'ReplicationInstanceIdentifier', Value: this.options.replicationInstanceId },
      { Name: 'ReplicationTaskIdentifier', Value: this.options.replicationTaskId },
    ];
    const query = (id: string, metric: string) => ({
      Id: id,
      MetricStat: {
        Metric: { Namespace: 'AWS/DMS', MetricName: metric, Dimensions: dimensions },
        Period: 60,
        Stat: 'Maximum',
      },
      ReturnData: true,
    });
    const out = await this.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        ScanBy: 'TimestampDescending',
        MetricDataQueries: [query('source', 'CDCLatencySource'), query('target', 'CDCLatencyTarget')],
      }),
    );
    const oldest = end.getTime() - (this.options.maxDatapointAgeSeconds ?? 180) * 1000;
    const latest = ['source', 'target'].map((id) => {
      const r = (out.MetricDataResults ?? []).find((result) => result.Id === id);
      const pairs = (r?.Timestamps ?? []).map((t, i) => [new Date(t).getTime(), r?.Values?.[i]] as const);
      pairs.sort((a, b) => b[0] - a[0]);
      const newest = pairs.find(([, v]) => typeof v === 'number');
      // missing or stale: unknown
      return newest && newest[0] >= oldest ? (newest[1] as number) : undefined;
    });
    return latest.every((v) => v !== undefined) ? Math.max(...(latest as number[])) : null;
  }

  async stop(): Promise<void> {
    const task = await this.task();
    if (!task) throw new Error(`${this.description} not found`);
    if (['stopped', 'stopping', 'ready', 'failed'].includes(task.Status ?? '')) return;
    try {
      await this.client.send(new StopReplicationTaskCommand({ ReplicationTaskArn: this.options.replicationTaskArn }));
    } catch (error) {
      if ((error as Error).name !== 'InvalidResourceStateFault') throw error;
      // Raced with another stop (or a state change): fine when it is stopped or stopping now.
      const now = await this.task();
      if (!['stopped', 'stopping', 'ready', 'failed'].includes(now?.Status ?? '')) throw error;
    }
  }
}

/** The full load finished (`FullLoadFinishDate`, or 100 % with no table loading or queued) and no table errored. */
function fullLoadComplete(task: ReplicationTask): boolean {
  const stats = task.ReplicationTaskStats ?? {};
  const loaded =
    stats.FullLoadFinishDate !== undefined ||
    (stats.FullLoadProgressPercent === 100 && !stats.TablesLoading && !stats.TablesQueued);
  return loaded && (stats.TablesErrored ?? 0) === 0;
}
