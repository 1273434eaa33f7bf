import { Duration, Size } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { MigrationMonitoring, MigrationMonitoringProps } from '../../../lib';
import { testEnv } from '../helpers';

const WATCHED = {
  replicationInstanceIdentifier: 'orders-migration',
  replicationTaskIdentifier: 'ABCDEFGHIJKLMNOP',
  replicationTaskArn: 'arn:aws:dms:eu-west-1:111111111111:task:ABCDEFGHIJKLMNOP',
};

function build(options: Partial<MigrationMonitoringProps> = {}) {
  const env = testEnv();
  const monitoring = new MigrationMonitoring(env.stack, 'Monitoring', { ...WATCHED, ...options });
  return { ...env, monitoring };
}

const DIMENSIONS = Match.arrayEquals([
  { Name: 'ReplicationInstanceIdentifier', Value: 'orders-migration' },
  { Name: 'ReplicationTaskIdentifier', Value: 'ABCDEFGHIJKLMNOP' },
]);

describe('MigrationMonitoring defaults', () => {
  let template: Template;
  let built: ReturnType<typeof build>;
  beforeAll(() => {
    built = build({ emailSubscriptions: ['oncall@example.com'] });
    template = Template.fromStack(built.stack);
  });

  test('topic encrypted with a rotating customer key, SSL enforced, e-mail subscription', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    for (const statement of [
      { Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      { Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'events.amazonaws.com' } },
      { Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' } },
    ]) {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike(statement)]) },
      });
    }
  });

  test('key policy lets EventBridge and CloudWatch publish to the encrypted topic', () => {
    for (const service of ['events.amazonaws.com', 'cloudwatch.amazonaws.com']) {
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: service },
              Action: Match.arrayWith(['kms:Decrypt', 'kms:GenerateDataKey*']),
            }),
          ]),
        },
      });
    }
  });

  test.each([
    ['CDCLatencySource', 'cdcLatencySourceAlarm'],
    ['CDCLatencyTarget', 'cdcLatencyTargetAlarm'],
  ] as const)('%s alarm: Maximum, both dimensions, 30 s over 3 x 1 min, alarm and OK actions', (metricName, field) => {
    const topicRef = { Ref: built.stack.getLogicalId(built.monitoring.alarmTopic.node.defaultChild as sns.CfnTopic) };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/DMS',
      MetricName: metricName,
      Statistic: 'Maximum',
      Dimensions: DIMENSIONS,
      Threshold: 30,
      EvaluationPeriods: 3,
      Period: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topicRef],
      OKActions: [topicRef],
    });
    expect(built.monitoring[field].alarmName).toBeDefined();
  });

  test('instance alarms on CPU, freeable memory and free storage', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CPUUtilization',
      Threshold: 80,
      Dimensions: [{ Name: 'ReplicationInstanceIdentifier', Value: 'orders-migration' }],
      ComparisonOperator: 'GreaterThanThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'FreeableMemory',
      Threshold: 512 * 1024 * 1024,
      ComparisonOperator: 'LessThanThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'FreeStorageSpace',
      Threshold: 10 * 1024 ** 3,
      ComparisonOperator: 'LessThanThreshold',
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
    expect(built.monitoring.alarms).toHaveLength(5);
    expect(built.monitoring.lagAlarms).toEqual([
      built.monitoring.cdcLatencySourceAlarm,
      built.monitoring.cdcLatencyTargetAlarm,
    ]);
  });

  test('EventBridge rule for this task failing or stopping, to the topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.dms'],
        'detail-type': ['DMS Replication Task State Change'],
        resources: [WATCHED.replicationTaskArn],
        detail: { eventType: ['REPLICATION_TASK_FAILED', 'REPLICATION_TASK_STOPPED'] },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.anyValue() } })],
    });
  });

  test('one dashboard with lag, throughput, instance and alarm widgets', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody,
    );
    for (const metric of [
      'CDCLatencySource',
      'CDCLatencyTarget',
      'CDCIncomingChanges',
      'CDCThroughputRowsSource',
      'CDCThroughputRowsTarget',
      'FullLoadThroughputRowsTarget',
      'CPUUtilization',
      'FreeableMemory',
      'FreeStorageSpace',
    ]) {
      expect(body).toContain(metric);
    }
    expect(body).toContain('\\"type\\":\\"alarm\\"');
  });

  test('no Aurora widget without a target cluster', () => {
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody,
    );
    expect(body).not.toContain('AuroraReplicaLag');
  });

  test("the dashboard graphs the cutover's own metrics, one line per migration id", () => {
    const resource = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.parse(
      (resource.Properties.DashboardBody['Fn::Join'][1] as unknown[])
        .map((part) => (typeof part === 'string' ? part : 'TOKEN'))
        .join(''),
    ) as { widgets: { properties: { title?: string; metrics?: unknown[][] } }[] };
    const searches = Object.fromEntries(
      body.widgets
        .filter((w) => w.properties.title?.startsWith('Cutover:'))
        .map((w) => [w.properties.title, (w.properties.metrics?.[0]?.[0] as { expression: string }).expression]),
    );
    const search = (metric: string, statistic: string) =>
      `SEARCH('{ZeroDowntimeMigration,MigrationId,service} MetricName="${metric}" service="zero-downtime-migration"', '${statistic}', 60)`;
    expect(searches).toEqual({
      'Cutover: write freeze (ms, Maximum)': search('FreezeDuration', 'Maximum'),
      'Cutover: verification backlog (keys)': search('VerificationBacklog', 'Maximum'),
      'Cutover: replication lag seen by CheckLag (s)': search('ReplicationLag', 'Maximum'),
      'Cutover: rows validated (Sum)': search('RowsValidated', 'Sum'),
    });
  });

  test('metricCutover: one migration id of a cutover metric', () => {
    const metric = built.monitoring.metricCutover('VerificationBacklog', 'orders');
    expect(metric.namespace).toBe('ZeroDowntimeMigration');
    expect(metric.dimensions).toEqual({ service: 'zero-downtime-migration', MigrationId: 'orders' });
    expect(metric.statistic).toBe('Maximum');
  });
});

describe('MigrationMonitoring options', () => {
  test('thresholds and an imported topic', () => {
    const env = testEnv();
    const topic = sns.Topic.fromTopicArn(env.stack, 'Topic', 'arn:aws:sns:eu-west-1:111111111111:ops');
    const monitoring = new MigrationMonitoring(env.stack, 'Monitoring', {
      ...WATCHED,
      alarmTopic: topic,
      cdcLatencyThreshold: Duration.minutes(2),
      cdcLatencyEvaluationPeriods: 5,
      cpuUtilizationThresholdPercent: 90,
      freeStorageSpaceThreshold: Size.gibibytes(20),
    });
    const t = Template.fromStack(env.stack);
    expect(monitoring.alarmTopic).toBe(topic);
    t.resourceCountIs('AWS::SNS::Topic', 0);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CDCLatencyTarget',
      Threshold: 120,
      EvaluationPeriods: 5,
      AlarmActions: ['arn:aws:sns:eu-west-1:111111111111:ops'],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CPUUtilization', Threshold: 90 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FreeStorageSpace', Threshold: 20 * 1024 ** 3 });
  });
});

describe('MigrationMonitoring validation', () => {
  test('fails when the lag threshold is 0', () => {
    expect(() => build({ cdcLatencyThreshold: Duration.seconds(0) })).toThrow(
      /cdcLatencyThreshold \(seconds\) must be greater than 0, got 0/,
    );
  });

  test('fails when evaluation periods are 0', () => {
    expect(() => build({ cdcLatencyEvaluationPeriods: 0 })).toThrow(/cdcLatencyEvaluationPeriods .*got 0/);
  });

  test('fails when the CPU threshold is above 100 %', () => {
    expect(() => build({ cpuUtilizationThresholdPercent: 120 })).toThrow(/cpuUtilizationThresholdPercent .*got 120/);
  });

  test('fails when an e-mail address is invalid', () => {
    expect(() => build({ emailSubscriptions: ['ops@example.com', 'not-an-email'] })).toThrow(
      /emailSubscriptions\[1\] must be an e-mail address, got "not-an-email"/,
    );
  });

  test('fails when a topic key comes with an existing topic', () => {
    const env = testEnv();
    const topic = sns.Topic.fromTopicArn(env.stack, 'T', 'arn:aws:sns:eu-west-1:111111111111:ops');
    const { Key } = jest.requireActual('aws-cdk-lib/aws-kms');
    const key = new Key(env.stack, 'K');
    expect(
      () => new MigrationMonitoring(env.stack, 'M', { ...WATCHED, alarmTopic: topic, topicEncryptionKey: key }),
    ).toThrow(/topicEncryptionKey.*alarmTopic/);
  });
});

test("with the target cluster, the dashboard graphs its readers' replica lag (what read-first reads lag by)", () => {
  const { stack } = build({ targetClusterIdentifier: 'orders-target' });
  const body = JSON.stringify(
    Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody,
  );
  expect(body).toContain(
    '[\\"AWS/RDS\\",\\"AuroraReplicaLag\\",\\"DBClusterIdentifier\\",\\"orders-target\\",\\"Role\\",\\"READER\\"',
  );
});

describe('MigrationMonitoring of the reverse replication', () => {
  const REVERSE = {
    replicationInstanceIdentifier: 'orders-migration',
    replicationTaskIdentifier: 'REVERSETASKID',
    replicationTaskArn: 'arn:aws:dms:eu-west-1:111111111111:task:REVERSETASKID',
  };
  const REVERSE_DIMENSIONS = Match.arrayEquals([
    { Name: 'ReplicationInstanceIdentifier', Value: 'orders-migration' },
    { Name: 'ReplicationTaskIdentifier', Value: 'REVERSETASKID' },
  ]);
  let template: Template;
  let built: ReturnType<typeof build>;
  const dashboardBody = (t: Template): string =>
    JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
  beforeAll(() => {
    built = build({ reverseReplication: REVERSE, targetClusterIdentifier: 'orders-target' });
    template = Template.fromStack(built.stack);
  });

  test.each(['CDCLatencySource', 'CDCLatencyTarget'])(
    'reverse %s alarm: the reverse task, same threshold and topic, actions disabled until the cutover arms it',
    (metricName) => {
      const topicRef = { Ref: built.stack.getLogicalId(built.monitoring.alarmTopic.node.defaultChild as sns.CfnTopic) };
      const alarms = template.findResources('AWS::CloudWatch::Alarm', {
        Properties: { MetricName: metricName, Dimensions: REVERSE_DIMENSIONS },
      });
      expect(Object.values(alarms)).toHaveLength(1);
      expect(Object.values(alarms)[0].Properties).toMatchObject({
        Namespace: 'AWS/DMS',
        Statistic: 'Maximum',
        Threshold: 30,
        EvaluationPeriods: 3,
        Period: 60,
        ActionsEnabled: false,
        AlarmActions: [topicRef],
        OKActions: [topicRef],
      });
    },
  );

  test('the forward lag alarms keep their actions enabled; the reverse ones are exposed apart from lagAlarms', () => {
    const forward = template.findResources('AWS::CloudWatch::Alarm', { Properties: { Dimensions: DIMENSIONS } });
    const lag = Object.values(forward).filter((a) => String(a.Properties.MetricName).startsWith('CDCLatency'));
    expect(lag).toHaveLength(2);
    for (const alarm of lag) expect(alarm.Properties.ActionsEnabled).not.toBe(false);
    expect(built.monitoring.reverseLagAlarms).toHaveLength(2);
    expect(built.monitoring.lagAlarms).not.toEqual(expect.arrayContaining(built.monitoring.reverseLagAlarms));
    expect(built.monitoring.alarms).toEqual(expect.arrayContaining(built.monitoring.reverseLagAlarms));
  });

  test('EventBridge rule for the reverse task failing or stopping, to the topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.dms'],
        'detail-type': ['DMS Replication Task State Change'],
        resources: [REVERSE.replicationTaskArn],
        detail: { eventType: ['REPLICATION_TASK_FAILED', 'REPLICATION_TASK_STOPPED'] },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.anyValue() } })],
    });
  });

  test("the dashboard graphs the reverse task's CDC latency and the Aurora writer's slot and WAL disk usage", () => {
    const body = dashboardBody(template);
    expect(body).toContain('Reverse replication (Aurora to source): CDC latency');
    for (const metric of ['CDCLatencySource', 'CDCLatencyTarget']) {
      expect(body).toContain(
        `[\\"AWS/DMS\\",\\"${metric}\\",\\"ReplicationInstanceIdentifier\\",\\"orders-migration\\",\\"ReplicationTaskIdentifier\\",\\"REVERSETASKID\\"`,
      );
    }
    for (const metric of ['ReplicationSlotDiskUsage', 'TransactionLogsDiskUsage']) {
      expect(body).toContain(
        `[\\"AWS/RDS\\",\\"${metric}\\",\\"DBClusterIdentifier\\",\\"orders-target\\",\\"Role\\",\\"WRITER\\"`,
      );
    }
  });

  test('without the reverse replication: no reverse alarm, rule or widget', () => {
    const { stack, monitoring } = build({ targetClusterIdentifier: 'orders-target' });
    const t = Template.fromStack(stack);
    expect(monitoring.reverseLagAlarms).toEqual([]);
    expect(monitoring.reverseTaskEventRule).toBeUndefined();
    t.resourceCountIs('AWS::CloudWatch::Alarm', 5);
    t.resourceCountIs('AWS::Events::Rule', 1);
    const body = dashboardBody(t);
    expect(body).not.toContain('Reverse replication');
    expect(body).not.toContain('ReplicationSlotDiskUsage');
  });
});
