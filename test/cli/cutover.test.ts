/** `zdm cutover`: the deployed state machines from a terminal or CI, with AWS mocked at the SDK client boundary. */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { pendingApproval } from '../../cli/cutover';
import { main } from '../../cli/main';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:MigrationCutover';
const FALLBACK = 'arn:aws:states:eu-west-1:123456789012:stateMachine:MigrationFallback';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:MigrationCutover:orders-execute-1';
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAf-token';

const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(['cutover', ...argv], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    sleep: async () => undefined,
  });
  return { code, out, err };
}

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 21, 0, s));
const entered = (id: number, name: string): HistoryEvent => ({
  id,
  timestamp: at(id),
  type: 'TaskStateEntered',
  stateEnteredEventDetails: { name },
});
const approvalScheduled = (id: number): HistoryEvent => ({
  id,
  timestamp: at(id),
  type: 'TaskScheduled',
  taskScheduledEventDetails: {
    resourceType: 'lambda',
    resource: 'invoke.waitForTaskToken',
    region: 'eu-west-1',
    parameters: JSON.stringify({ FunctionName: 'f', Payload: { step: 'requestApproval', taskToken: TOKEN } }),
  },
});
const exited = (id: number, name: string, output = '{}'): HistoryEvent => ({
  id,
  timestamp: at(id),
  type: 'TaskStateExited',
  stateExitedEventDetails: { name, output },
});

const WAITING: HistoryEvent[] = [
  entered(1, 'Preflight'),
  exited(2, 'Preflight'),
  entered(3, 'WaitForSync'),
  exited(4, 'WaitForSync', '{"results":{"waitForSync":{"lagSeconds":2.5,"inSync":true}}}'),
  entered(5, 'RequestApproval'),
  approvalScheduled(6),
];

beforeEach(() => {
  sfn.reset();
  cfn.reset();
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'Migration',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [
          { OutputKey: 'MigrationCutoverStateMachineArnA1B2C3', OutputValue: MACHINE },
          { OutputKey: 'MigrationFallbackStateMachineArnD4E5F6', OutputValue: FALLBACK },
          { OutputKey: 'MigrationTargetEndpoint', OutputValue: 'x.rds.amazonaws.com' },
        ],
      },
    ],
  });
});

describe('zdm cutover', () => {
  it('starts an execution on the state machine named by the stack outputs, with the input the console takes', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    const r = await run(
      'start',
      '--stack',
      'Migration',
      '--migration-id',
      'orders',
      '--mode',
      'execute',
      '--require-approval',
      '--input',
      '{"lagThresholdSeconds":3}',
      '--json',
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.stateMachineArn).toBe(MACHINE);
    expect(call.name).toMatch(/^orders-execute-\d{8}T\d{6}$/);
    expect(JSON.parse(call.input!)).toEqual({
      lagThresholdSeconds: 3,
      migrationId: 'orders',
      mode: 'execute',
      requireApproval: true,
    });
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, executionArn: EXECUTION });
    // --fallback takes the fallback machine's output.
    await run('start', '--stack', 'Migration', '--fallback', '--migration-id', 'orders', '--mode', 'execute');
    expect(sfn.commandCalls(StartExecutionCommand)[1].args[0].input.stateMachineArn).toBe(FALLBACK);
  });

  it('fallback starts the fallback machine; end-fallback-window the cutover machine in that mode', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    const back = await run(
      'fallback',
      '--stack',
      'Migration',
      '--migration-id',
      'orders',
      '--mode',
      'execute',
      '--json',
    );
    expect(back.err).toBe('');
    expect(back.code).toBe(0);
    const fallback = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(fallback.stateMachineArn).toBe(FALLBACK);
    expect(fallback.name).toMatch(/^orders-fallback-execute-\d{8}T\d{6}$/);
    expect(JSON.parse(fallback.input!)).toEqual({ migrationId: 'orders', mode: 'execute' });
    expect(JSON.parse(back.out)).toMatchObject({ ok: true, stateMachineArn: FALLBACK });

    const close = await run('end-fallback-window', '--stack', 'Migration', '--migration-id', 'orders');
    expect(close.code).toBe(0);
    expect(close.out).toBe(`started ${EXECUTION}\n`);
    const ending = sfn.commandCalls(StartExecutionCommand)[1].args[0].input;
    expect(ending.stateMachineArn).toBe(MACHINE);
    expect(JSON.parse(ending.input!)).toEqual({ migrationId: 'orders', mode: 'end-fallback-window' });
  });

  it('fallback --wait and end-fallback-window --wait exit by the execution outcome', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(1, 'EndFallbackWindow')] });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    const ok = await run('end-fallback-window', '--state-machine', MACHINE, '--migration-id', 'o', '--wait');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('EndFallbackWindow');
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', error: 'ZdmPreflightFailed' } as never);
    const failed = await run('fallback', '--stack', 'Migration', '--migration-id', 'o', '--wait', '--json');
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.out.trim().split('\n').at(-1)!)).toMatchObject({ event: 'end', status: 'FAILED' });
  });

  it('reports status with an exit code by outcome: 4 waiting for approval, 3 running, 0 succeeded, 1 failed', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: WAITING });
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: EXECUTION, status: 'RUNNING', startDate: at(0) } as never);
    const waiting = await run('status', '--execution', EXECUTION, '--json');
    expect(waiting.code).toBe(4);
    expect(JSON.parse(waiting.out)).toMatchObject({
      status: 'RUNNING',
      currentState: 'RequestApproval',
      waitingForApproval: true,
    });
    const text = await run('status', '--execution', EXECUTION);
    expect(text.out).toContain('waiting for approval');

    sfn.on(GetExecutionHistoryCommand).resolves({ events: WAITING.slice(0, 3) });
    expect((await run('status', '--execution', EXECUTION)).code).toBe(3);

    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, status: 'SUCCEEDED' } as never);
    expect((await run('status', '--execution', EXECUTION)).code).toBe(0);

    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION,
      status: 'FAILED',
      error: 'ZdmSyncTimeout',
      cause: 'not in sync after 2 h',
    } as never);
    const failed = await run('status', '--execution', EXECUTION);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain('ZdmSyncTimeout: not in sync after 2 h');
  });

  it('finds the latest execution of a migration by its name', async () => {
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: `${EXECUTION}-old`,
          name: 'orders-dry-run-1',
          stateMachineArn: MACHINE,
          status: 'SUCCEEDED',
          startDate: at(1),
        },
        {
          executionArn: EXECUTION,
          name: 'orders-execute-2',
          stateMachineArn: MACHINE,
          status: 'RUNNING',
          startDate: at(9),
        },
        {
          executionArn: `${EXECUTION}-other`,
          name: 'payments-execute-3',
          stateMachineArn: MACHINE,
          status: 'RUNNING',
          startDate: at(20),
        },
      ],
    });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    sfn.on(GetExecutionHistoryCommand).resolves({ events: WAITING });
    const r = await run('status', '--state-machine', MACHINE, '--migration-id', 'orders', '--json');
    expect(JSON.parse(r.out).executionArn).toBe(EXECUTION);
  });

  it('approves with the pending task token, and rejects with the rejection error', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    sfn.on(GetExecutionHistoryCommand).resolves({ events: WAITING });
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    const approved = await run('approve', '--execution', EXECUTION);
    expect(approved.code).toBe(0);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input).toEqual({
      taskToken: TOKEN,
      output: '{"approved":true}',
    });
    const rejected = await run('reject', '--execution', EXECUTION, '--reason', 'not tonight', '--json');
    expect(rejected.code).toBe(0);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0].args[0].input).toEqual({
      taskToken: TOKEN,
      error: 'ZdmApprovalRejected',
      cause: 'not tonight',
    });
    expect(JSON.parse(rejected.out)).toEqual({ ok: true, executionArn: EXECUTION, answer: 'rejected' });
  });

  it('sends nothing when the execution does not wait for approval', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    sfn
      .on(GetExecutionHistoryCommand)
      .resolves({ events: [...WAITING, exited(7, 'RequestApproval'), entered(8, 'FreezeWrites')] });
    const r = await run('approve', '--execution', EXECUTION);
    expect(r.code).toBe(2);
    expect(r.err).toContain('is not waiting for approval (status RUNNING, state FreezeWrites): nothing was sent');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('watches until the execution ends: each state once, the lag, the approval wait, exit code by outcome', async () => {
    const polls: HistoryEvent[][] = [
      WAITING.slice(0, 2),
      WAITING,
      [
        ...WAITING,
        exited(7, 'RequestApproval'),
        entered(8, 'FreezeWrites'),
        exited(9, 'FreezeWrites'),
        entered(10, 'SwitchTraffic'),
      ],
    ];
    let poll = 0;
    sfn.on(GetExecutionHistoryCommand).callsFake(() => ({ events: polls[Math.min(poll, 2)] }));
    sfn
      .on(DescribeExecutionCommand)
      .callsFake(() => ({ status: poll++ < 2 ? 'RUNNING' : 'FAILED', error: 'ZdmLateWrites' }));
    const r = await run('watch', '--execution', EXECUTION, '--interval', '1');
    expect(r.code).toBe(1);
    expect(r.out.match(/Preflight/g)).toHaveLength(1);
    expect(r.out).toContain('lag 2.5 s');
    expect(r.out).toContain('waiting for approval: zdm cutover approve');
    expect(r.out).toContain('SwitchTraffic');
    expect(r.out).toContain('status     FAILED');

    poll = 0;
    const json = await run('watch', '--execution', EXECUTION, '--json');
    const lines = json.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(lines.map((l) => l.event)).toEqual(expect.arrayContaining(['state', 'lag', 'waiting-for-approval']));
    expect(lines.at(-1)).toMatchObject({ event: 'end', status: 'FAILED', error: 'ZdmLateWrites' });
  });

  it.each([
    [['start', '--stack', 'Migration'], 'zdm cutover start needs --migration-id'],
    [['start', '--migration-id', 'orders'], 'needs --state-machine <arn> or --stack <name>'],
    [['start', '--stack', 'Migration', '--migration-id', 'orders', '--mode', 'exec'], '--mode must be one of'],
    [['start', '--stack', 'Migration', '--migration-id', 'a b'], '--migration-id must be letters'],
    [['start', '--stack', 'Migration', '--migration-id', 'o', '--input', '[1]'], '--input must be a JSON object'],
    [
      ['status', '--execution', 'arn:aws:states:eu-west-1:123456789012:stateMachine:X'],
      '--execution must be a Step Functions execution ARN',
    ],
    [['status'], 'needs --execution <arn> or --migration-id <id>'],
    [['aprove', '--execution', EXECUTION], 'unknown cutover action "aprove" (did you mean approve?)'],
    [['watch', '--execution', EXECUTION, '--interval', '0'], '--interval must be a number of seconds from 1 to 300'],
    [
      ['status', '--execution', EXECUTION, '--wait'],
      '--wait applies to zdm cutover start / fallback / end-fallback-window only',
    ],
    [['falback', '--stack', 'Migration'], 'unknown cutover action "falback" (did you mean fallback?)'],
    [['end-fallback', '--stack', 'Migration'], '(did you mean end-fallback-window?)'],
    [['fallback', '--stack', 'Migration'], 'zdm cutover fallback needs --migration-id'],
    [
      ['fallback', '--stack', 'Migration', '--migration-id', 'orders', '--mode', 'switch-reads'],
      '--mode must be one of dry-run, execute on the fallback state machine, got "switch-reads"',
    ],
    [['end-fallback-window', '--migration-id', 'orders'], 'needs --state-machine <arn> or --stack <name>'],
    [
      ['end-fallback-window', '--stack', 'Migration', '--migration-id', 'orders', '--mode', 'execute'],
      '--mode applies to zdm cutover start / fallback only',
    ],
    [
      ['end-fallback-window', '--stack', 'Migration', '--migration-id', 'orders', '--fallback'],
      '--fallback applies to zdm cutover start / status / watch / approve / reject only',
    ],
    [
      ['fallback', '--execution', EXECUTION],
      '--execution applies to zdm cutover status / watch / approve / reject only',
    ],
  ])('refuses %j (exit 2) without calling AWS', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('names an AWS error (exit 2) and a stack without the output', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'Other', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }],
    });
    const r = await run('start', '--stack', 'Other', '--migration-id', 'orders', '--json');
    expect(r.code).toBe(2);
    expect(r.err).toContain('stack Other has no CutoverStateMachineArn output');
    expect(JSON.parse(r.out)).toMatchObject({ ok: false });
  });

  it('finds no pending approval once the gate was answered', () => {
    expect(pendingApproval(WAITING)).toBe(TOKEN);
    expect(pendingApproval([...WAITING, { id: 7, timestamp: at(7), type: 'TaskSucceeded' }])).toBeUndefined();
  });
});
