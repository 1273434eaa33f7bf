/**
 * `zdm cutover` against the EXECUTED state machine: the SFN client is mocked at the SDK boundary, and behind the mock
 * the cutover definition the construct synthesizes runs locally (aws-local-stepfunctions). What the CLI reads back
 * (status, history, the approval gate's task token) is what that execution did; what it sends (the approval answer)
 * decides how it ends. The Lambda steps: ValidateInput and RequestApproval are the real ones (memory state, notices
 * collected); every step that would touch a database or AWS returns a canned result. No PostgreSQL needed.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { ERRORS, type StepEvent, type StepName } from '../../contract';
import { createStepHandler, MemoryStateStore } from '../../lambda/engine';
import { ConsoleNotifier } from '../../rehearsal/local/console-notifier';
import { synthesizeWayBackDefinitions } from '../../rehearsal/local/run-state-machine';
import { main } from '../../cli/main';
import { LocalStepFunctions } from '../support/local-step-functions';

jest.setTimeout(30_000);

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:MigrationCutover';
const FALLBACK = 'arn:aws:states:eu-west-1:123456789012:stateMachine:MigrationFallback';
const LAG_SECONDS = 0.4;

/** What the database and AWS steps return, shaped as the definition's Choice and Pass states read them. */
const CANNED: Partial<Record<StepName, unknown>> = {
  planValidation: { items: [], plan: {} },
  checkLag: { lagSeconds: LAG_SECONDS, consecutive: 3, synced: true, timedOut: false, elapsedSeconds: 1 },
  stopReplication: { stopped: true },
};
const REAL_STEPS: readonly StepName[] = ['validateInput', 'requestApproval'];

const sfn = mockClient(SFNClient);
const notices = new ConsoleNotifier();
const stepsRun: StepName[] = [];
const real = createStepHandler({
  source: () => Promise.reject(new Error('no database in this test')),
  target: () => Promise.reject(new Error('no database in this test')),
  tables: { include: [{ schema: 'public' }] },
  replication: {
    description: 'none',
    status: () => Promise.reject(new Error('no replication in this test')),
    stop: () => Promise.reject(new Error('no replication in this test')),
  },
  state: new MemoryStateStore(),
  notifier: notices,
  defaults: { applicationRoles: ['app_writer'] },
});
const stepHandler = async (event: StepEvent): Promise<unknown> => {
  stepsRun.push(event.step);
  return REAL_STEPS.includes(event.step) ? real(event) : (CANNED[event.step] ?? {});
};

let local: LocalStepFunctions;

beforeAll(async () => {
  const { forward, fallback } = await synthesizeWayBackDefinitions();
  local = new LocalStepFunctions(
    sfn,
    [
      { arn: MACHINE, definition: forward },
      { arn: FALLBACK, definition: fallback },
    ],
    stepHandler,
  );
});

afterAll(() => local.drain());

/** Runs `zdm cutover ...`; `onOutput` sees stdout as it grows (to act when the CLI printed something). */
async function zdm(argv: readonly string[], onOutput?: (out: string) => void) {
  let out = '';
  let err = '';
  const code = await main(['cutover', ...argv], {
    stdout: (t) => {
      out += t;
      onOutput?.(out);
    },
    stderr: (t) => (err += t),
    sleep: local.sleeper(),
  });
  return { code, out, err };
}

/** Resolves when `zdm`'s output (seen through `onOutput`) contains `text`. */
function printed(text: string): { onOutput: (out: string) => void; seen: Promise<void> } {
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  return { onOutput: (out) => out.includes(text) && resolve(), seen };
}

const waitingForApproval = (arn: string) => () => local.execution(arn).events.some((e) => e.type === 'TaskScheduled');

test('start --require-approval waits at the gate (status 4, watch streams it); approve: it succeeds (exit 0)', async () => {
  const started = await zdm([
    'start',
    '--state-machine',
    MACHINE,
    '--migration-id',
    'orders-approve',
    '--require-approval',
    '--json',
  ]);
  expect(started.err).toBe('');
  expect(started.code).toBe(0);
  const arn = (JSON.parse(started.out) as { executionArn: string }).executionArn;
  await local.until(waitingForApproval(arn));

  const status = await zdm(['status', '--execution', arn, '--json']);
  expect(status.code).toBe(4);
  expect(JSON.parse(status.out)).toMatchObject({
    status: 'RUNNING',
    currentState: 'RequestApproval',
    waitingForApproval: true,
  });
  // The real RequestApproval step sent its notice with the token the CLI found in the history.
  expect(notices.notices.at(-1)?.message).toContain('waits for your approval');

  // watch follows the execution by its migration id, sees the gate, then (once approved) the rest, to the end.
  const gate = printed('waiting for approval');
  const watching = zdm(['watch', '--state-machine', MACHINE, '--migration-id', 'orders-approve'], gate.onOutput);
  await gate.seen;
  const approved = await zdm(['approve', '--state-machine', MACHINE, '--migration-id', 'orders-approve']);
  expect(approved).toMatchObject({ code: 0, out: `approved: ${arn}\n` });
  const watched = await watching;
  expect(watched.err).toBe('');
  expect(watched.code).toBe(0);
  const order = ['Preflight', 'CheckLag', 'RequestApproval', 'FreezeWrites', 'SwitchTraffic', 'StopReplication'].map(
    (state) => watched.out.indexOf(`  ${state}\n`),
  );
  expect(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]))).toBe(true);
  expect(watched.out).toContain(`lag ${LAG_SECONDS} s`);
  expect(watched.out).toContain('status     SUCCEEDED');
  expect(local.execution(arn).status).toBe('SUCCEEDED');
  expect(stepsRun).toContain('complete');

  // The gate was answered: a second answer sends nothing (exit 2).
  const again = await zdm(['approve', '--execution', arn]);
  expect(again.code).toBe(2);
  expect(again.err).toContain('is not waiting for approval (status SUCCEEDED');
  expect((await zdm(['status', '--execution', arn])).code).toBe(0);
});

test('start --wait; reject: the execution rolls back and fails with the rejection and its reason (exit 1)', async () => {
  const gate = printed('"event":"waiting-for-approval"');
  const starting = zdm(
    ['start', '--state-machine', MACHINE, '--migration-id', 'orders-reject', '--require-approval', '--wait', '--json'],
    gate.onOutput,
  );
  await gate.seen;
  const rejected = await zdm([
    'reject',
    '--state-machine',
    MACHINE,
    '--migration-id',
    'orders-reject',
    '--reason',
    'not during the sale',
  ]);
  expect(rejected.code).toBe(0);
  const run = await starting;
  expect(run.code).toBe(1);
  const lines = run.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; state?: string });
  expect(lines[0]).toMatchObject({ event: 'started' });
  expect(lines.filter((l) => l.event === 'state').map((l) => l.state)).toEqual(
    expect.arrayContaining(['RequestApproval', 'Rollback', 'RolledBack']),
  );
  expect(lines.some((l) => l.state === 'FreezeWrites')).toBe(false);
  expect(lines.at(-1)).toMatchObject({
    event: 'end',
    status: 'FAILED',
    error: ERRORS.rejected,
    cause: 'not during the sale',
  });
});

test('end-fallback-window --wait runs that mode on the cutover machine (exit 0); fallback --wait the fallback machine', async () => {
  const closed = await zdm([
    'end-fallback-window',
    '--state-machine',
    MACHINE,
    '--migration-id',
    'orders-close',
    '--wait',
  ]);
  expect(closed.err).toBe('');
  expect(closed.code).toBe(0);
  expect(closed.out).toContain('  EndFallbackWindow\n');
  expect(closed.out).toContain('  FallbackWindowEnded\n');
  expect(closed.out).not.toContain('Preflight');

  const back = await zdm(['fallback', '--state-machine', FALLBACK, '--migration-id', 'orders-back', '--wait']);
  expect(back.err).toBe('');
  expect(back.code).toBe(0);
  expect(back.out).toContain('  ReopenSource\n');
  expect(back.out).toContain('  CloseWayBack\n');
  expect(back.out).toContain('status     SUCCEEDED');
});
