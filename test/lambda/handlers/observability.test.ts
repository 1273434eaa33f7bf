import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler, resetHandlerCache } from '../../../lambda/handlers/cutover-step';
import {
  createObservability,
  observeStep,
  redactMessage,
  resultSummary,
  stepFields,
} from '../../../lambda/handlers/observability';
import { recordMetric } from '../../../lambda/engine/telemetry';

const ENV = {
  STATE_TABLE_NAME: 'zdm-state',
  TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:topic',
  DEFAULTS_JSON: '{"applicationRoles":["app"]}',
  ALLOWED_STEPS: 'validateInput,checkLag',
  AWS_REGION: 'eu-west-1',
  // As in Lambda: logs at INFO and metrics on (outside Lambda both are off unless asked for).
  AWS_LAMBDA_FUNCTION_NAME: 'zdm-database',
};

/** Everything written to stdout and stderr (Powertools logs errors there) while `fn` runs, as parsed JSON lines. */
async function captureOutput(fn: () => Promise<unknown>): Promise<{ lines: Record<string, unknown>[]; raw: string }> {
  let raw = '';
  const capture = (chunk: string | Uint8Array): boolean => {
    raw += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  };
  const spies = [jest.spyOn(process.stdout, 'write'), jest.spyOn(process.stderr, 'write')].map((spy) =>
    spy.mockImplementation(capture as never),
  );
  try {
    await fn().catch(() => undefined);
  } finally {
    spies.forEach((spy) => spy.mockRestore());
  }
  const lines = raw
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, raw };
}

const logs = (lines: Record<string, unknown>[]) => lines.filter((l) => 'message' in l);
const emf = (lines: Record<string, unknown>[]) => lines.filter((l) => '_aws' in l);

describe('cutover step observability (handler)', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const sns = mockClient(SNSClient);
  const saved = { ...process.env };

  beforeEach(async () => {
    ddb.reset();
    sns.reset();
    await resetHandlerCache();
    Object.assign(process.env, ENV);
  });
  afterAll(async () => {
    process.env = saved;
    await resetHandlerCache();
  });

  it('logs a structured line at the start and the end of a step, with migration, execution, step and duration', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    sns.on(PublishCommand).resolves({});
    const { lines } = await captureOutput(() =>
      handler({ step: 'validateInput', input: { migrationId: 'orders' } } as never, {
        functionName: 'zdm-database',
        functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:zdm-database',
        memoryLimitInMB: '1024',
        awsRequestId: 'req-1',
      }),
    );
    const [start, end] = logs(lines);
    expect(start).toMatchObject({
      level: 'INFO',
      message: 'step started',
      service: 'zero-downtime-migration',
      step: 'validateInput',
      migrationId: 'orders',
      function_request_id: 'req-1',
    });
    expect(end).toMatchObject({
      level: 'INFO',
      message: 'step succeeded',
      outcome: 'succeeded',
      step: 'validateInput',
      migrationId: 'orders',
      execution: { mode: 'dry-run', startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      durationMs: expect.any(Number),
      result: expect.objectContaining({ requireApproval: false }),
    });
    // The step's duration in EMF, dimensioned by migration and step.
    const stepMetric = emf(lines).find((l) => 'StepDuration' in l);
    expect(stepMetric).toMatchObject({
      MigrationId: 'orders',
      Step: 'validateInput',
      service: 'zero-downtime-migration',
    });
    expect(JSON.stringify(stepMetric)).toContain('"Namespace":"ZeroDowntimeMigration"');
  });

  it('logs a rejected step as failed, with the error name and message', async () => {
    const { lines } = await captureOutput(() =>
      handler({ step: 'freezeWrites', input: { migrationId: 'orders', mode: 'execute' } } as never),
    );
    expect(logs(lines).at(-1)).toMatchObject({
      level: 'ERROR',
      message: 'step failed',
      outcome: 'failed',
      step: 'freezeWrites',
      phase: 'freezeWrites',
      error: { name: 'Error', message: expect.stringContaining('is not served by this function') },
    });
    expect(emf(lines).find((l) => 'StepFailed' in l)).toMatchObject({ Step: 'freezeWrites', MigrationId: 'orders' });
  });
});

describe('observeStep', () => {
  const event = {
    step: 'validateRange',
    phase: 'postValidation',
    input: { migrationId: 'orders', mode: 'execute', startedAt: '2026-01-01T00:00:00.000Z' },
    range: { lower: ['secret-key-value'] },
  } as never;

  it('emits the engine metrics (recordMetric) and the result metrics with MigrationId, and never logs secrets', async () => {
    const observe = observeStep(
      async () => {
        recordMetric('VerificationBacklog', 42, 'Count');
        return { item: true, sourceRows: 1234, targetRows: 1234, note: 'postgres://app:Sup3rS3cret@db/orders' };
      },
      createObservability({ logLevel: 'INFO', metricsEnabled: true }),
    );
    const { lines, raw } = await captureOutput(() => observe(event));
    const metrics = emf(lines).find((l) => 'VerificationBacklog' in l);
    expect(metrics).toMatchObject({ VerificationBacklog: 42, RowsValidated: 1234, MigrationId: 'orders' });
    expect(logs(lines).at(-1)).toMatchObject({
      step: 'validateRange',
      phase: 'postValidation',
      execution: { mode: 'execute', startedAt: '2026-01-01T00:00:00.000Z' },
      result: { item: true, sourceRows: 1234, targetRows: 1234 },
    });
    expect(raw).not.toContain('Sup3rS3cret');
    expect(raw).not.toContain('secret-key-value');
  });

  it('redacts passwords from a failing step and rethrows the error unchanged', async () => {
    const failure = Object.assign(
      new Error('cannot connect to postgres://app:Sup3rS3cret@db/orders (password=Sup3rS3cret)'),
      {
        name: 'ConnectionError',
      },
    );
    const observe = observeStep(
      async () => {
        throw failure;
      },
      createObservability({ logLevel: 'INFO', metricsEnabled: false }),
    );
    let thrown: unknown;
    const { lines, raw } = await captureOutput(() =>
      observe(event).catch((e: unknown) => {
        thrown = e;
      }),
    );
    expect(thrown).toBe(failure);
    expect(logs(lines).at(-1)).toMatchObject({
      message: 'step failed',
      error: { name: 'ConnectionError', message: 'cannot connect to postgres://app:***@db/orders (password=***)' },
    });
    expect(raw).not.toContain('Sup3rS3cret');
    expect(emf(lines)).toEqual([]);
  });

  it('takes only validated identifiers and the numbers and flags of a result', () => {
    expect(stepFields({ step: 'checkLag', input: { migrationId: 'bad id with spaces', mode: 'execute' } })).toEqual({
      step: 'checkLag',
      phase: 'waitForSync',
    });
    expect(resultSummary({ ok: true, lagSeconds: 1.5, roles: ['app'], status: 'x' })).toEqual({
      ok: true,
      lagSeconds: 1.5,
    });
    expect(redactMessage('token: abc, secret="x y"')).toBe('token: ***, secret=***');
  });

  it('records nothing and logs nothing outside Lambda by default (tests, the rehearsal)', async () => {
    const observe = observeStep(async () => ({ ok: true }), createObservability({}, {}));
    const { raw } = await captureOutput(() => observe(event));
    expect(raw).toBe('');
  });
});
