import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CUTOVER_METRIC,
  CUTOVER_METRIC_DIMENSION,
  CUTOVER_METRICS_NAMESPACE,
  CUTOVER_SERVICE_NAME,
} from '../../../contract';
import type { CutoverMetricsReader } from '../ports';

export interface CloudWatchCutoverMetricsOptions {
  /** @default - a client for the Lambda's region */
  readonly cloudwatch?: CloudWatchClient;
  /**
   * How far back a migration's backlog still counts: CheckLag reports it at every lag check (every poll interval,
   * 30 s by default), so a cutover waiting for sync has a datapoint minutes old at most. @default 900
   */
  readonly windowSeconds?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * The cutover steps' metrics read back from CloudWatch: one SEARCH over every migration id (they are execution input,
 * unknown to the construct), each series labelled with its `MigrationId` (a dynamic label).
 */
export class CloudWatchCutoverMetrics implements CutoverMetricsReader {
  private readonly cloudwatch: CloudWatchClient;

  constructor(private readonly options: CloudWatchCutoverMetricsOptions = {}) {
    this.cloudwatch = options.cloudwatch ?? new CloudWatchClient({});
  }

  async verificationBacklog(): Promise<ReadonlyArray<{ readonly migrationId: string; readonly keys: number }>> {
    const end = (this.options.now ?? (() => new Date()))();
    const start = new Date(end.getTime() - (this.options.windowSeconds ?? 900) * 1000);
    const d = CUTOVER_METRIC_DIMENSION;
    const schema = `{${CUTOVER_METRICS_NAMESPACE},${d.migrationId},${d.service}}`;
    const search = `SEARCH('${schema} MetricName="${CUTOVER_METRIC.verificationBacklog}" ${d.service}="${CUTOVER_SERVICE_NAME}"', 'Maximum', 60)`;
    const out = await this.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        ScanBy: 'TimestampDescending',
        MetricDataQueries: [
          { Id: 'backlog', Expression: search, Label: `\${PROP('Dim.${d.migrationId}')}`, ReturnData: true },
        ],
      }),
    );
    const latest: Array<{ migrationId: string; keys: number }> = [];
    for (const result of out.MetricDataResults ?? []) {
      // TimestampDescending: the first value is the newest.
      const keys = result.Values?.[0];
      if (result.Label && typeof keys === 'number') latest.push({ migrationId: result.Label, keys });
    }
    return latest.sort((a, b) => a.migrationId.localeCompare(b.migrationId));
  }
}
