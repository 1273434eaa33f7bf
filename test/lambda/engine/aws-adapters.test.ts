import { CloudWatchClient, DisableAlarmActionsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DatabaseMigrationServiceClient,
  DescribeReplicationTasksCommand,
  InvalidResourceStateFault,
  StopReplicationTaskCommand,
} from '@aws-sdk/client-database-migration-service';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchAlarmControl } from '../../../lambda/engine/aws/cloudwatch-alarm-control';
import { clearDatabaseSecretCache, databaseConfigFromSecret } from '../../../lambda/engine/aws/database-secret';
import { SnsNotifier, snsSubject } from '../../../lambda/engine/aws/sns-notifier';
import { DmsTaskReplication } from '../../../lambda/engine/replication/dms-task-replication';
import { DynamoDbStateStore } from '../../../lambda/engine/state/dynamodb-state-store';
import { MemoryTrafficSwitch } from '../../../lambda/engine/traffic/memory-traffic-switch';
import { Route53RecordTrafficSwitch } from '../../../lambda/engine/traffic/route53-record-traffic-switch';
import { SecretTrafficSwitch } from '../../../lambda/engine/traffic/secret-traffic-switch';
import { SsmParameterTrafficSwitch } from '../../../lambda/engine/traffic/ssm-parameter-traffic-switch';

const TASK_ARN = 'arn:aws:dms:eu-west-1:123456789012:task:ABC';
const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

describe('DmsTaskReplication', () => {
  const dms = mockClient(DatabaseMigrationServiceClient);
  const cw = mockClient(CloudWatchClient);
  const adapter = new DmsTaskReplication({
    replicationTaskArn: TASK_ARN,
    replicationInstanceId: 'zdm-instance',
    replicationTaskId: 'zdm-task',
    dms: new DatabaseMigrationServiceClient({ region: 'eu-west-1' }),
    cloudwatch: new CloudWatchClient({ region: 'eu-west-1' }),
    now: () => new Date('2024-05-01T12:00:00Z'),
  });
  const task = (Status: string, stats: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    dms.on(DescribeReplicationTasksCommand).resolves({
      ReplicationTasks: [{ ReplicationTaskArn: TASK_ARN, Status, ReplicationTaskStats: stats, ...extra }],
    });

  beforeEach(() => {
    dms.reset();
    cw.reset();
  });

  it('maps a running task after full load with the larger of source and target latency', async () => {
    task('running', {
      FullLoadProgressPercent: 100,
      TablesLoaded: 4,
      TablesLoading: 0,
      TablesQueued: 0,
      TablesErrored: 0,
    });
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'source',
          Timestamps: [new Date('2024-05-01T11:59:00Z'), new Date('2024-05-01T11:58:00Z')],
          Values: [0, 40],
        },
        {
          Id: 'target',
          Timestamps: [new Date('2024-05-01T11:58:00Z'), new Date('2024-05-01T11:59:00Z')],
          Values: [30, 3],
        },
      ],
    });
    expect(await adapter.status()).toMatchObject({ state: 'running', fullLoadComplete: true, lagSeconds: 3 });
    const query = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(query.StartTime).toEqual(new Date('2024-05-01T11:55:00Z'));
    expect(query.MetricDataQueries?.map((q) => [q.MetricStat?.Metric?.MetricName, q.MetricStat?.Stat])).toEqual([
      ['CDCLatencySource', 'Maximum'],
      ['CDCLatencyTarget', 'Maximum'],
    ]);
    expect(query.MetricDataQueries?.[0].MetricStat?.Metric?.Dimensions).toEqual([
      { Name: 'ReplicationInstanceIdentifier', Value: 'zdm-instance' },
      { Name: 'ReplicationTaskIdentifier', Value: 'zdm-task' },
    ]);
    expect(dms.commandCalls(DescribeReplicationTasksCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'replication-task-arn', Values: [TASK_ARN] },
    ]);
  });

  it('reports a full load in progress or with errored tables as incomplete, and null lag without datapoints', async () => {
    task('running', { FullLoadProgressPercent: 60, TablesLoaded: 2, TablesLoading: 1, TablesQueued: 1 });
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'source', Timestamps: [], Values: [] }] });
    expect(await adapter.status()).toMatchObject({ state: 'running', fullLoadComplete: false, lagSeconds: null });
    task('running', { FullLoadProgressPercent: 100, TablesLoaded: 3, TablesErrored: 1 });
    expect(await adapter.status()).toMatchObject({
      fullLoadComplete: false,
      detail: expect.stringContaining('1 errored'),
    });
  });

  it('fails when the latest lag datapoint is stale: an old 0 is unknown lag, not in sync', async () => {
    task('running', { FullLoadFinishDate: new Date('2024-05-01T10:00:00Z') });
    // now is 12:00:00; DMS stopped publishing at 11:56 (a 1-minute datapoint is stamped with its minute's start)
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'source', Timestamps: [new Date('2024-05-01T11:56:00Z')], Values: [0] },
        { Id: 'target', Timestamps: [new Date('2024-05-01T11:56:00Z')], Values: [0] },
      ],
    });
    expect(await adapter.status()).toMatchObject({ state: 'running', lagSeconds: null });
    // and a fresh source latency without any target datapoint is not enough either
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [{ Id: 'source', Timestamps: [new Date('2024-05-01T11:59:00Z')], Values: [0] }],
    });
    expect(await adapter.status()).toMatchObject({ lagSeconds: null });
  });

  it('uses a datapoint within the freshness window (3 minutes) and ignores a stale one of the other metric', async () => {
    task('running', { FullLoadFinishDate: new Date('2024-05-01T10:00:00Z') });
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'source', Timestamps: [new Date('2024-05-01T11:57:00Z')], Values: [2] },
        { Id: 'target', Timestamps: [new Date('2024-05-01T11:56:59Z')], Values: [0] },
      ],
    });
    // a stale target latency must not let the fresh source latency stand alone as "the lag"
    expect(await adapter.status()).toMatchObject({ lagSeconds: null });
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'source', Timestamps: [new Date('2024-05-01T11:57:00Z')], Values: [2] },
        { Id: 'target', Timestamps: [new Date('2024-05-01T11:58:00Z')], Values: [1] },
      ],
    });
    expect(await adapter.status()).toMatchObject({ lagSeconds: 2 });
  });

  it.each([
    ['stopped', 'stopped'],
    ['stopping', 'stopping'],
    ['starting', 'starting'],
    ['ready', 'stopped'],
    ['failed', 'failed'],
    ['modifying', 'unknown'],
  ])('maps DMS status %s to %s', async (dmsStatus, state) => {
    task(
      dmsStatus,
      {},
      { StopReason: 'Stop Reason NORMAL', LastFailureMessage: dmsStatus === 'failed' ? 'boom' : undefined },
    );
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const status = await adapter.status();
    expect(status.state).toBe(state);
    expect(status.detail).toContain(`status ${dmsStatus}`);
    if (dmsStatus === 'failed') expect(status.detail).toContain('last failure: boom');
  });

  it('stops a running task once and is a no-op when stopped or stopping', async () => {
    task('running');
    dms.on(StopReplicationTaskCommand).resolves({});
    await adapter.stop();
    expect(dms.commandCalls(StopReplicationTaskCommand)[0].args[0].input).toEqual({ ReplicationTaskArn: TASK_ARN });
    for (const status of ['stopped', 'stopping']) {
      dms.reset();
      task(status);
      await adapter.stop();
      expect(dms.commandCalls(StopReplicationTaskCommand)).toHaveLength(0);
    }
  });

  it('treats InvalidResourceStateFault as done when the task is stopping by then', async () => {
    dms
      .on(DescribeReplicationTasksCommand)
      .resolvesOnce({ ReplicationTasks: [{ Status: 'running' }] })
      .resolves({ ReplicationTasks: [{ Status: 'stopping' }] });
    dms
      .on(StopReplicationTaskCommand)
      .rejects(new InvalidResourceStateFault({ message: 'not running', $metadata: {} }));
    await expect(adapter.stop()).resolves.toBeUndefined();
  });

  it('fails when the stop is refused and the task is still running', async () => {
    task('running');
    dms.on(StopReplicationTaskCommand).rejects(new InvalidResourceStateFault({ message: 'modifying', $metadata: {} }));
    await expect(adapter.stop()).rejects.toThrow(/modifying/);
  });

  it("reads the deployed task's LOB settings (with its settings, for preflight's lob-over-max-size)", async () => {
    const settings = (metadata: Record<string, unknown>) => JSON.stringify({ TargetMetadata: metadata });
    task('running', {}, { ReplicationTaskSettings: settings({ LimitedSizeLobMode: true, LobMaxSize: 64 }) });
    expect(await adapter.lobSettings()).toEqual({ fullLobMode: false, lobMaxSizeKiB: 64 });
    // asked with its settings: status() asks without them
    expect(dms.commandCalls(DescribeReplicationTasksCommand)[0].args[0].input.WithoutSettings).toBeUndefined();
    task('running', {}, { ReplicationTaskSettings: settings({ FullLobMode: true, LobChunkSize: 64 }) });
    expect(await adapter.lobSettings()).toEqual({ fullLobMode: true, lobMaxSizeKiB: 0 });
    task('running');
    expect(await adapter.lobSettings()).toBeUndefined();
    task('running', {}, { ReplicationTaskSettings: 'not json' });
    expect(await adapter.lobSettings()).toBeUndefined();
  });
});

describe('DynamoDbStateStore', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const store = new DynamoDbStateStore({ tableName: 'zdm-state', client: new DynamoDBClient({ region: 'eu-west-1' }) });
  beforeEach(() => ddb.reset());

  it('creates the record once with a conditional put and returns the stored one when it exists', async () => {
    ddb.on(PutCommand).resolves({});
    const created = await store.ensure('m1', 'execute', '2024-01-01T00:00:00.000Z');
    expect(created).toMatchObject({ migrationId: 'm1', mode: 'execute', status: 'running', phases: {} });
    expect(ddb.commandCalls(PutCommand)[0].args[0].input).toMatchObject({
      TableName: 'zdm-state',
      ConditionExpression: 'attribute_not_exists(migrationId)',
    });
    ddb.on(PutCommand).rejects(conditionFailed());
    const stored = { ...created, phases: { preflight: { status: 'succeeded', startedAt: 'a' } } };
    ddb.on(GetCommand).resolves({ Item: stored });
    expect(await store.ensure('m1', 'execute', 'later')).toEqual(stored);
    expect(ddb.commandCalls(GetCommand)[0].args[0].input).toEqual({
      TableName: 'zdm-state',
      Key: { migrationId: 'm1' },
      ConsistentRead: true,
    });
  });

  it('restarts only a rolled-back record (a fallback starting over), and returns any other as it is', async () => {
    ddb.on(PutCommand).resolves({});
    const fresh = await store.restart('m1#fallback', 'execute', 't1');
    expect(fresh).toMatchObject({ migrationId: 'm1#fallback', status: 'running', phases: {}, createdAt: 't1' });
    expect(ddb.commandCalls(PutCommand)[0].args[0].input).toMatchObject({
      ConditionExpression: 'attribute_not_exists(migrationId) OR #status = :rolledBack',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':rolledBack': 'rolled-back' },
    });
    ddb.on(PutCommand).rejects(conditionFailed());
    const running = { ...fresh, status: 'running', phases: { preflight: { status: 'succeeded', startedAt: 'a' } } };
    ddb.on(GetCommand).resolves({ Item: running });
    expect(await store.restart('m1#fallback', 'execute', 't2')).toEqual(running);
  });

  it('replaces the way back and the read switch as a whole, on an existing record only', async () => {
    ddb.on(UpdateCommand).resolves({});
    await store.putReverse('m1', { slot: 's', lsn: '0/1', armedAt: 't' });
    expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).toMatchObject({
      UpdateExpression: 'SET #field = :value',
      ConditionExpression: 'attribute_exists(migrationId)',
      ExpressionAttributeNames: { '#field': 'reverse' },
      ExpressionAttributeValues: { ':value': { slot: 's', lsn: '0/1', armedAt: 't' } },
    });
    ddb.on(UpdateCommand).rejects(conditionFailed());
    await expect(
      store.putReadSwitch('nope', { target: 't', from: null, to: 'r', switchedAt: 't', switchedBy: 'k' }),
    ).rejects.toThrow(/no state record for migration "nope"/);
  });

  it('updates one phase with attribute-name placeholders', async () => {
    ddb.on(UpdateCommand).resolves({});
    await store.putPhase('m1', 'freezeWrites', { status: 'running', startedAt: 't0' });
    expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).toEqual({
      TableName: 'zdm-state',
      Key: { migrationId: 'm1' },
      UpdateExpression: 'SET #phases.#phase = :record, #updatedAt = :now',
      ConditionExpression: 'attribute_exists(migrationId)',
      ExpressionAttributeNames: { '#phases': 'phases', '#phase': 'freezeWrites', '#updatedAt': 'updatedAt' },
      ExpressionAttributeValues: { ':record': { status: 'running', startedAt: 't0' }, ':now': 't0' },
    });
  });

  it('saves the freeze only if absent and returns the original on ConditionalCheckFailed', async () => {
    const original = { roles: [{ role: 'app', canLogin: true, connectionLimit: -1 }], frozenAt: 't0' };
    ddb.on(UpdateCommand).resolves({});
    expect(await store.saveFreezeIfAbsent('m1', original)).toEqual(original);
    expect(ddb.commandCalls(UpdateCommand)[0].args[0].input.ConditionExpression).toBe(
      'attribute_exists(migrationId) AND attribute_not_exists(#freeze)',
    );
    ddb.on(UpdateCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { migrationId: 'm1', freeze: original } });
    const frozenAgain = { roles: [{ role: 'app', canLogin: false, connectionLimit: 0 }], frozenAt: 't1' };
    expect(await store.saveFreezeIfAbsent('m1', frozenAgain)).toEqual(original);
  });

  it('keeps the first marker token and marks the freeze restored once', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({
      Item: { migrationId: 'm1', markerToken: 'first', freeze: { roles: [], frozenAt: 't', restoredAt: 'r' } },
    });
    expect(await store.setMarkerTokenIfAbsent('m1', 'second')).toBe('first');
    await expect(store.markFreezeRestored('m1', 'r2')).resolves.toBeUndefined();
  });

  it('fails when the record does not exist', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({});
    await expect(store.putPhase('nope', 'preflight', { status: 'running', startedAt: 't' })).rejects.toThrow(
      /no state record/,
    );
    await expect(store.saveFreezeIfAbsent('nope', { roles: [], frozenAt: 't' })).rejects.toThrow(/no state record/);
    await expect(store.markFreezeRestored('nope', 't')).rejects.toThrow(/no saved freeze/);
    await expect(store.setStatus('nope', 'failed', 't')).rejects.toThrow(/no state record/);
  });

  it('sets the status with or without an error', async () => {
    ddb.on(UpdateCommand).resolves({});
    await store.setStatus('m1', 'rolled-back', 't', 'cause');
    await store.setStatus('m1', 'running', 't2');
    const [a, b] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(a.UpdateExpression).toBe('SET #status = :status, #updatedAt = :now, #error = :error');
    expect(a.ExpressionAttributeValues).toEqual({ ':status': 'rolled-back', ':now': 't', ':error': 'cause' });
    expect(b.UpdateExpression).toBe('SET #status = :status, #updatedAt = :now REMOVE #error');
  });
});

describe('SnsNotifier and alarm control', () => {
  const sns = mockClient(SNSClient);
  const cw = mockClient(CloudWatchClient);
  beforeEach(() => {
    sns.reset();
    cw.reset();
  });

  it('publishes with a sanitised subject and string attributes', async () => {
    sns.on(PublishCommand).resolves({ MessageId: '1' });
    await new SnsNotifier('arn:aws:sns:eu-west-1:1:topic', new SNSClient({ region: 'eu-west-1' })).notify(
      'zdm m1 — freezeWrites done\n',
      'line',
      { migrationId: 'm1', empty: '' },
    );
    expect(sns.commandCalls(PublishCommand)[0].args[0].input).toEqual({
      TopicArn: 'arn:aws:sns:eu-west-1:1:topic',
      Subject: 'zdm m1 - freezeWrites done',
      Message: 'line',
      MessageAttributes: { migrationId: { DataType: 'String', StringValue: 'm1' } },
    });
    expect(snsSubject('x'.repeat(150))).toHaveLength(100);
    expect(snsSubject('lag ≤ 5s')).toBe('lag ? 5s');
  });

  it('disables the named alarms, and does nothing without alarms', async () => {
    cw.on(DisableAlarmActionsCommand).resolves({});
    const control = new CloudWatchAlarmControl(
      ['lag-source', 'lag-target'],
      new CloudWatchClient({ region: 'eu-west-1' }),
    );
    await control.disable();
    expect(cw.commandCalls(DisableAlarmActionsCommand)[0].args[0].input).toEqual({
      AlarmNames: ['lag-source', 'lag-target'],
    });
    await new CloudWatchAlarmControl([], new CloudWatchClient({ region: 'eu-west-1' })).disable();
    expect(cw.calls()).toHaveLength(1);
  });
});

describe('traffic switches', () => {
  const ssm = mockClient(SSMClient);
  const sm = mockClient(SecretsManagerClient);
  const r53 = mockClient(Route53Client);
  beforeEach(() => {
    ssm.reset();
    sm.reset();
    r53.reset();
  });

  it('overwrites an SSM parameter, keeping its type, and skips an unchanged one', async () => {
    const sw = new SsmParameterTrafficSwitch('/app/db-host', new SSMClient({ region: 'eu-west-1' }));
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'old.host' } });
    ssm.on(PutParameterCommand).resolves({});
    expect(await sw.current()).toBe('old.host');
    await sw.switchTo('new.host');
    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input).toEqual({
      Name: '/app/db-host',
      Value: 'new.host',
      Overwrite: true,
    });
    await sw.switchTo('old.host');
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(1);
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'nope', $metadata: {} }));
    expect(await sw.current()).toBeUndefined();
    await sw.switchTo('new.host');
    expect(ssm.commandCalls(PutParameterCommand)[1].args[0].input).toMatchObject({ Type: 'String' });
  });

  it('rewrites only the host field of a JSON secret', async () => {
    const sw = new SecretTrafficSwitch('arn:secret:app', new SecretsManagerClient({ region: 'eu-west-1' }));
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: 'old', port: 5432, password: 'pw' }),
    });
    sm.on(PutSecretValueCommand).resolves({});
    expect(await sw.current()).toBe('old');
    await sw.switchTo('new');
    expect(JSON.parse(sm.commandCalls(PutSecretValueCommand)[0].args[0].input.SecretString!)).toEqual({
      host: 'new',
      port: 5432,
      password: 'pw',
    });
  });

  it('fails when the secret is not a JSON object', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'plain' });
    await expect(
      new SecretTrafficSwitch('s', new SecretsManagerClient({ region: 'eu-west-1' })).current(),
    ).rejects.toThrow(/not a JSON object/);
  });

  it('UPSERTs the CNAME with its TTL unless it already points there', async () => {
    const sw = new Route53RecordTrafficSwitch('Z123', 'db.example.com', 30, new Route53Client({ region: 'us-east-1' }));
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        { Name: 'db.example.com.', Type: 'CNAME', TTL: 30, ResourceRecords: [{ Value: 'old.host' }] },
      ],
    });
    r53
      .on(ChangeResourceRecordSetsCommand)
      .resolves({ ChangeInfo: { Id: 'c', Status: 'PENDING', SubmittedAt: new Date() } });
    expect(await sw.current()).toBe('old.host');
    await sw.switchTo('OLD.host.');
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    await sw.switchTo('aurora.cluster.example');
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)[0].args[0].input.ChangeBatch?.Changes).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: 'db.example.com',
          Type: 'CNAME',
          TTL: 30,
          ResourceRecords: [{ Value: 'aurora.cluster.example' }],
        },
      },
    ]);
  });

  it('switches the in-memory endpoint and tells listeners', async () => {
    const sw = new MemoryTrafficSwitch({ endpoint: 'a' });
    const changes: string[] = [];
    const off = sw.onChange((to, from) => changes.push(`${from}->${to}`));
    await sw.switchTo('b');
    await sw.switchTo('b');
    off();
    await sw.switchTo('c');
    expect(changes).toEqual(['a->b']);
    expect(await sw.current()).toBe('c');
  });
});

describe('databaseConfigFromSecret', () => {
  const sm = mockClient(SecretsManagerClient);
  const client = new SecretsManagerClient({ region: 'eu-west-1' });
  beforeEach(() => {
    sm.reset();
    clearDatabaseSecretCache();
  });

  it('reads the secret into a TLS pg config and caches it per container', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        host: 'db',
        port: '5433',
        username: 'u',
        password: 'p',
        dbname: 'app',
        engine: 'postgres',
      }),
    });
    const config = await databaseConfigFromSecret('arn:s', { side: 'target', client, env: {} });
    expect(config).toEqual({
      host: 'db',
      port: 5433,
      user: 'u',
      password: 'p',
      database: 'app',
      ssl: { rejectUnauthorized: true },
    });
    await databaseConfigFromSecret('arn:s', { side: 'target', client, env: {} });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    clearDatabaseSecretCache();
    const lax = await databaseConfigFromSecret('arn:s', {
      side: 'source',
      client,
      env: { SOURCE_DB_SSL_MODE: 'require' },
    });
    expect(lax.ssl).toEqual({ rejectUnauthorized: false });
  });

  it.each(['disable', 'false', 'off', '0', 'no', 'OFF', ' No '])('DB_SSL=%j turns TLS off', async (value) => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: 'db', username: 'u', password: 'p' }),
    });
    const config = await databaseConfigFromSecret('arn:s', { side: 'target', client, env: { DB_SSL: value } });
    expect(config.ssl).toBe(false);
  });

  it.each(['require', 'true', 'on', '1', 'yes', 'YES'])('DB_SSL=%j keeps TLS on', async (value) => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: 'db', username: 'u', password: 'p' }),
    });
    const config = await databaseConfigFromSecret('arn:s', { side: 'target', client, env: { DB_SSL: value } });
    expect(config.ssl).toEqual({ rejectUnauthorized: true });
  });

  it.each(['disabled', 'tls', '2'])('fails when DB_SSL is %j, naming the variable and the value', async (value) => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: 'db', username: 'u', password: 'p' }),
    });
    await expect(databaseConfigFromSecret('arn:s', { side: 'target', client, env: { DB_SSL: value } })).rejects.toThrow(
      `environment variable DB_SSL must be one of`,
    );
    await expect(databaseConfigFromSecret('arn:s', { side: 'target', client, env: { DB_SSL: value } })).rejects.toThrow(
      JSON.stringify(value),
    );
  });

  it('fails when a field is missing, and does not cache the failure', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ host: 'db', username: 'u' }) });
    await expect(databaseConfigFromSecret('arn:bad', { side: 'target', client, env: {} })).rejects.toThrow(
      /lacks the "password" field/,
    );
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: 'db', username: 'u', password: 'p' }),
    });
    expect(await databaseConfigFromSecret('arn:bad', { side: 'target', client, env: {} })).toMatchObject({
      port: 5432,
      database: 'postgres',
    });
  });
});
