/**
 * The periodic progress digest, as the digest function runs it: the dependencies built from the environment the
 * construct gives that function, AWS mocked at the SDK boundary (DMS, CloudWatch, SNS).
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  DatabaseMigrationServiceClient,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
} from '@aws-sdk/client-database-migration-service';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { createStepHandler } from '../../../../lambda/engine/cutover/steps';
import { roughDuration } from '../../../../lambda/engine/cutover/digest-text';
import { createDepsFromEnvironment } from '../../../../lambda/handlers/environment';

const TASK_ARN = 'arn:aws:dms:eu-west-1:123456789012:task:ABC';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:zdm';
/** The digest function's environment (what CutoverWorkflow writes for the `digest` step). */
const ENV = {
  REPLICATION_TASK_ARN: TASK_ARN,
  REPLICATION_INSTANCE_ID: 'zdm-instance',
  REPLICATION_TASK_ID: 'ABC',
  TOPIC_ARN,
  DEFAULTS_JSON: JSON.stringify({ lagThresholdSeconds: 5 }),
  ALLOWED_STEPS: 'digest',
};

const dms = mockClient(DatabaseMigrationServiceClient);
const cw = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);

function digest() {
  const deps = createDepsFromEnvironment(ENV, {
    dms: new DatabaseMigrationServiceClient({ region: 'eu-west-1' }),
    cloudwatch: new CloudWatchClient({ region: 'eu-west-1' }),
    sns: new SNSClient({ region: 'eu-west-1' }),
  });
  return createStepHandler(deps)({ step: 'digest' } as never);
}

function task(Status: string, stats: Record<string, unknown>) {
  dms.on(DescribeReplicationTasksCommand).resolves({
    ReplicationTasks: [{ ReplicationTaskArn: TASK_ARN, Status, ReplicationTaskStats: stats }],
  });
}

/** CDC lag datapoints (seconds; none: no datapoint) and the cutover's verification backlog by migration id. */
function metrics(lag: number | undefined, backlog: Record<string, number> | 'throttled' = {}) {
  cw.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries: MetricDataQuery[] }) => {
    const now = new Date(Date.now() - 60_000);
    if (input.MetricDataQueries[0].Id === 'backlog') {
      if (backlog === 'throttled') throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
      expect(input.MetricDataQueries[0].Expression).toContain('MetricName="VerificationBacklog"');
      return {
        MetricDataResults: Object.entries(backlog).map(([id, keys]) => ({
          Id: 'backlog',
          Label: id,
          Timestamps: [now, new Date(now.getTime() - 60_000)],
          Values: [keys, 999],
        })),
      };
    }
    return {
      MetricDataResults: ['source', 'target'].map((Id) => ({
        Id,
        Timestamps: lag === undefined ? [] : [now],
        Values: lag === undefined ? [] : [lag],
      })),
    };
  });
}

const published = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);

beforeEach(() => {
  dms.reset();
  cw.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: '1' });
});

test('during the full load: each table (every page of statistics), lag and backlog unknown, an ETA from the rate', async () => {
  task('running', { FullLoadProgressPercent: 40, FullLoadStartDate: new Date(Date.now() - 3600_000) });
  dms
    .on(DescribeTableStatisticsCommand)
    .resolvesOnce({
      TableStatistics: [{ SchemaName: 'public', TableName: 'orders', TableState: 'Full load', FullLoadRows: 400_000 }],
      Marker: 'next',
    })
    .resolvesOnce({
      TableStatistics: [
        { SchemaName: 'public', TableName: 'items', TableState: 'Table completed', FullLoadRows: 1200 },
        {
          SchemaName: 'public',
          TableName: 'events',
          TableState: 'Table error',
          FullLoadRows: 10,
          FullLoadErrorRows: 3,
        },
      ],
    });
  metrics(undefined);
  const result = await digest();
  expect(result).toMatchObject({ published: true, fullLoadPercent: 40, tables: 3, etaSeconds: 5400, inSync: false });
  expect(dms.commandCalls(DescribeTableStatisticsCommand).map((c) => c.args[0].input)).toEqual([
    { ReplicationTaskArn: TASK_ARN, MaxRecords: 500 },
    { ReplicationTaskArn: TASK_ARN, MaxRecords: 500, Marker: 'next' },
  ]);
  const [notice] = published();
  expect(notice.TopicArn).toBe(TOPIC_ARN);
  expect(notice.Subject).toBe('zdm progress: full load 40%, in sync in about 1 h 30 min');
  expect(notice.MessageAttributes).toEqual({ event: { DataType: 'String', StringValue: 'progress-digest' } });
  const lines = notice.Message!.split('\n');
  expect(lines).toEqual(
    expect.arrayContaining([
      'Full load: 40%',
      '  public.events  Table error: 10 rows, 3 rows failed',
      '  public.items   Table completed: 1,200 rows',
      '  public.orders  Full load: 400,000 rows',
      'CDC lag: unknown (in sync at 5 s or less)',
      'Verification backlog: unknown (no cutover reported one in the last 15 minutes: none is waiting for sync)',
      'ETA to in sync: about 1 h 30 min (full load 40% after 1 h; the CDC catch-up after it is not included)',
    ]),
  );
});

test('after the full load: in sync at or under the threshold, with the backlog of the cutover that waits', async () => {
  task('running', { FullLoadProgressPercent: 100, FullLoadFinishDate: new Date(), TablesErrored: 0 });
  dms.on(DescribeTableStatisticsCommand).resolves({ TableStatistics: [] });
  metrics(2, { 'orders-2026-11': 12 });
  expect(await digest()).toMatchObject({ published: true, lagSeconds: 2, backlogKeys: 12, inSync: true });
  const [notice] = published();
  expect(notice.Subject).toBe('zdm progress: in sync (CDC lag 2 s)');
  expect(notice.Message).toContain('Verification backlog: orders-2026-11: 12 key(s)\n');
  expect(notice.Message).toContain('ETA to in sync: in sync now\n');

  sns.resetHistory();
  metrics(42);
  expect(await digest()).toMatchObject({ published: true, lagSeconds: 42, inSync: false });
  expect(published()[0].Subject).toBe('zdm progress: CDC lag 42 s, not in sync yet');
  expect(published()[0].Message).toContain('ETA to in sync: unknown (CDC lag 42 s is above the 5 s threshold)');
});

test('a part that cannot be read is unknown, not a failed digest', async () => {
  task('running', { FullLoadProgressPercent: 100, FullLoadFinishDate: new Date() });
  dms.on(DescribeTableStatisticsCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
  metrics(1, 'throttled');
  expect(await digest()).toMatchObject({ published: true, inSync: true });
  const message = published()[0].Message!;
  expect(message).toContain('Full load: complete\n  per table: unknown\n');
  expect(message).toContain('Verification backlog: unknown\n');
});

test('a task that does not run (stopped after the cutover, or not started) gets no digest', async () => {
  for (const status of ['stopped', 'ready', 'failed']) {
    task(status, { FullLoadProgressPercent: 100 });
    expect(await digest()).toEqual({ published: false, running: false });
  }
  expect(published()).toEqual([]);
  expect(dms.commandCalls(DescribeTableStatisticsCommand)).toHaveLength(0);
});

test('durations read as a person says them', () => {
  expect([45, 720, 4800, 3600, 2 * 86400 + 3 * 3600].map(roughDuration)).toEqual([
    '45 s',
    '12 min',
    '1 h 20 min',
    '1 h',
    '2 d 3 h',
  ]);
});
