import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler, resetHandlerCache } from '../../../lambda/handlers/cutover-step';
import { allowedSteps, createDepsFromEnvironment } from '../../../lambda/handlers/environment';
import { MemoryStateStore } from '../../../lambda/engine/state/memory-state-store';
import { DmsTaskReplication } from '../../../lambda/engine/replication/dms-task-replication';
import { Route53RecordTrafficSwitch } from '../../../lambda/engine/traffic/route53-record-traffic-switch';

const ENV = {
  SOURCE_SECRET_ARN: 'arn:source',
  TARGET_SECRET_ARN: 'arn:target',
  TABLES_JSON: '{"include":[{"schema":"public"}]}',
  REPLICATION_TASK_ARN: 'arn:task',
  REPLICATION_INSTANCE_ID: 'inst',
  REPLICATION_TASK_ID: 'task',
  STATE_TABLE_NAME: 'zdm-state',
  TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:topic',
  DEFAULTS_JSON: '{"applicationRoles":["app"],"consecutiveChecks":4}',
};

describe('environment', () => {
  it('builds every dependency from the environment', () => {
    const deps = createDepsFromEnvironment(
      {
        ...ENV,
        TRAFFIC_SWITCH_KIND: 'route53-cname',
        TRAFFIC_SWITCH_TARGET: 'Z1/db.example.com',
        LAG_ALARM_NAMES: '["a"]',
      },
      { cloudwatch: new CloudWatchClient({ region: 'eu-west-1' }) },
    );
    expect(deps.tables).toEqual({ include: [{ schema: 'public' }] });
    expect(deps.replication).toBeInstanceOf(DmsTaskReplication);
    expect(deps.traffic).toBeInstanceOf(Route53RecordTrafficSwitch);
    expect(deps.defaults).toEqual({ applicationRoles: ['app'], consecutiveChecks: 4 });
    expect(deps.alarms).toBeDefined();
  });

  it('fails when a variable is missing or malformed, naming it', () => {
    const { TOPIC_ARN: _t, ...noTopic } = ENV;
    expect(() => createDepsFromEnvironment(noTopic).notifier).toThrow(/environment variable TOPIC_ARN is not set/);
    expect(() => createDepsFromEnvironment({ ...ENV, TABLES_JSON: '{' }).tables).toThrow(
      /TABLES_JSON is not valid JSON/,
    );
    expect(() => createDepsFromEnvironment({ ...ENV, TABLES_JSON: '{"include":[]}' }).tables).toThrow(
      /TABLES_JSON: table selection/,
    );
    expect(() => createDepsFromEnvironment({ ...ENV, TRAFFIC_SWITCH_KIND: 'dns' }).traffic).toThrow(
      /TRAFFIC_SWITCH_KIND must be one of/,
    );
    expect(() => createDepsFromEnvironment({ ...ENV, TRAFFIC_SWITCH_KIND: 'secret' }).traffic).toThrow(
      /TRAFFIC_SWITCH_TARGET is not set/,
    );
    expect(() => createDepsFromEnvironment({ ...ENV, LAG_ALARM_NAMES: '"a"' }).alarms).toThrow(
      /LAG_ALARM_NAMES must be a JSON list/,
    );
    expect(() => allowedSteps({ ALLOWED_STEPS: 'checkLag,fly' })).toThrow(/unknown step\(s\) fly/);
    expect(allowedSteps({ ALLOWED_STEPS: 'checkLag, complete' })).toEqual(['checkLag', 'complete']);
    expect(allowedSteps({ ALLOWED_STEPS: '["rollback"]' })).toEqual(['rollback']);
  });
});

describe('cutover-step handler', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const sns = mockClient(SNSClient);
  const saved = { ...process.env };

  beforeEach(async () => {
    ddb.reset();
    sns.reset();
    await resetHandlerCache();
    Object.assign(process.env, ENV, { AWS_REGION: 'eu-west-1', ALLOWED_STEPS: 'validateInput' });
  });
  afterAll(() => {
    process.env = saved;
  });

  it('runs validateInput against DynamoDB and SNS', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    sns.on(PublishCommand).resolves({});
    const input = await handler({ step: 'validateInput', input: { migrationId: 'orders' } } as never);
    expect(input).toMatchObject({
      migrationId: 'orders',
      mode: 'dry-run',
      consecutiveChecks: 4,
      applicationRoles: ['app'],
    });
    expect(ddb.commandCalls(PutCommand)[0].args[0].input.TableName).toBe('zdm-state');
    expect(sns.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('zdm orders [dry run]: cutover started');
  });

  it('fails when the step is not allowed for this function', async () => {
    await expect(handler({ step: 'freezeWrites', input: {} } as never)).rejects.toThrow(
      /step "freezeWrites" is not served by this function \(ALLOWED_STEPS: validateInput\)/,
    );
    expect(ddb.calls()).toHaveLength(0);
  });

  it("serves the watchdog rule's event ({ step: 'watchdog', detail }) without an execution input", async () => {
    process.env.ALLOWED_STEPS = 'watchdog';
    const event = (status: string, input: unknown) =>
      handler({ step: 'watchdog', detail: { status, executionArn: 'arn:execution', input } } as never);
    // only executions that ended badly, and only with a migrationId in their input
    expect(await event('SUCCEEDED', '{"migrationId":"orders"}')).toEqual({ ignored: 'status SUCCEEDED' });
    expect(await event('TIMED_OUT', '{"mode":"execute"}')).toEqual({ ignored: 'no valid migrationId in the input' });
    expect(await event('ABORTED', 'not json')).toEqual({ ignored: 'execution input is not JSON' });
    expect(ddb.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
    // the watchdog function runs no state of the machine
    await expect(handler({ step: 'rollback', input: {} } as never)).rejects.toThrow(
      /step "rollback" is not served by this function \(ALLOWED_STEPS: watchdog\)/,
    );
  });
});

describe('MemoryStateStore', () => {
  it('persists to a JSON file so a new process resumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zdm-state-'));
    try {
      const file = join(dir, 'state.json');
      const a = new MemoryStateStore(file);
      await a.ensure('m', 'execute', 't0');
      await a.saveFreezeIfAbsent('m', { roles: [{ role: 'app', canLogin: true, connectionLimit: 5 }], frozenAt: 't1' });
      await a.setMarkerTokenIfAbsent('m', 'tok');
      const b = new MemoryStateStore(file);
      expect(await b.saveFreezeIfAbsent('m', { roles: [], frozenAt: 't2' })).toEqual({
        roles: [{ role: 'app', canLogin: true, connectionLimit: 5 }],
        frozenAt: 't1',
      });
      expect(await b.setMarkerTokenIfAbsent('m', 'other')).toBe('tok');
      // the point of no return and the tracking state survive the process too (a resume must not unfreeze)
      const point = { at: 't3', what: 'traffic-switched' as const };
      expect(await b.setPointOfNoReturnIfAbsent('m', point)).toEqual(point);
      const side = (slot: string) => ({ slot, publication: slot, startLsn: '0/1' });
      const tracking = {
        source: side('zdm_trk_xs_1'),
        target: side('zdm_trk_xt_1'),
        pending: { tables: {} },
        confirmed: [],
        keysVerified: 2,
        changesRead: 4,
      };
      await b.putTracking('m', tracking);
      const c = new MemoryStateStore(file);
      expect(await c.setPointOfNoReturnIfAbsent('m', { at: 't4', what: 'handed-over' })).toEqual(point);
      expect((await c.get('m'))?.tracking).toEqual(tracking);
      await expect(c.putTracking('missing', tracking)).rejects.toThrow(/no state record/);
      await expect(c.setPointOfNoReturnIfAbsent('missing', point)).rejects.toThrow(/no state record/);
      await expect(b.putPhase('missing', 'preflight', { status: 'running', startedAt: 't' })).rejects.toThrow(
        /no state record/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
