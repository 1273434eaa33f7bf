/**
 * `zdm cutover`: start, follow, approve and reject cutover executions of the deployed state machines from a terminal
 * or CI, as the AWS CLI would (`--json`, exit codes by outcome). The state machine is given by ARN or found in the
 * stack's outputs (`CutoverStateMachineArn`, `FallbackStateMachineArn`, added by the construct).
 */
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
import { ERRORS, EXECUTION_MODES, MIGRATION_ID_PATTERN, type TaskStateName } from '../contract';
import { parseCommandLine, showValue, UsageError } from './command-line';
import { didYouMean } from './suggest';

/** The state that waits for the operator's answer (a task token). */
const APPROVAL_STATE: TaskStateName = 'RequestApproval';

export const CUTOVER_ACTIONS = [
  'start',
  'status',
  'watch',
  'approve',
  'reject',
  'fallback',
  'end-fallback-window',
] as const;
export type CutoverAction = (typeof CUTOVER_ACTIONS)[number];

/** The actions that start an execution. */
const STARTING_ACTIONS: readonly CutoverAction[] = ['start', 'fallback', 'end-fallback-window'];
/** The actions that act on an execution already started. */
const EXECUTION_ACTIONS: readonly CutoverAction[] = ['status', 'watch', 'approve', 'reject'];
/** The modes the fallback machine takes (its ValidateInput refuses the others). */
const FALLBACK_MODES = ['dry-run', 'execute'] as const;

/** Exit codes of `zdm cutover`, by outcome. */
export const CUTOVER_EXIT = {
  succeeded: 0,
  failed: 1,
  usage: 2,
  running: 3,
  waitingForApproval: 4,
} as const;

export const CUTOVER_USAGE = `Usage: zdm cutover <start|status|watch|approve|reject|fallback|end-fallback-window> [options]

  start     start an execution: --migration-id <id> [--mode dry-run|execute|switch-reads|revert-reads|
            end-fallback-window] [--require-approval] [--input '<json object>'] [--fallback] [--wait]
  status    the execution's status, current state and whether it waits for approval
  watch     print each state as the execution enters it (and the lag the sync checks report) until it ends
  approve   answer the approval gate: the freeze goes ahead (SendTaskSuccess with the pending task token)
  reject    answer the approval gate: nothing is changed, the execution rolls back [--reason <text>]
  fallback  start the way back (Aurora to the source) on the fallback state machine: --migration-id <the
            cutover's id> [--mode dry-run|execute] [--require-approval] [--input '<json object>'] [--wait]
  end-fallback-window
            close the way back on the cutover state machine (mode end-fallback-window: stops the reverse
            replication, drops its slot): --migration-id <id> [--wait]

Which state machine (start, fallback, end-fallback-window, and status/watch/approve/reject with --migration-id):
  --state-machine <arn>     the state machine's ARN, or
  --stack <name>            the CloudFormation stack: its CutoverStateMachineArn output (fallback, and
                            --fallback: FallbackStateMachineArn)
  --region <region>         AWS region (default: the AWS SDK's: AWS_REGION, the profile)
Which execution (status, watch, approve, reject):
  --execution <arn>         the execution's ARN, or
  --migration-id <id>       the latest execution of that migration on the state machine (started by zdm: its name
                            starts with the migration id); --fallback: on the fallback state machine
Other options:
  --wait                    start, fallback, end-fallback-window: then watch until the execution ends (exit code
                            by its outcome)
  --interval <seconds>      watch, --wait: seconds between polls, 1 to 300 (default 10)
  --json                    one JSON document (watch, --wait: one JSON object per line, the last one the outcome)

Exit codes: 0 succeeded (start, fallback, end-fallback-window without --wait: started; approve/reject: answered),
1 failed, timed out or aborted, 2 usage or AWS error, 3 still running (status), 4 waiting for approval (status).
`;

export interface CutoverIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Waits between polls (tests make it instant). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

interface CutoverOptions {
  readonly action: CutoverAction;
  readonly stateMachine?: string;
  readonly stack?: string;
  readonly region?: string;
  readonly execution?: string;
  readonly migrationId?: string;
  readonly mode: string;
  readonly requireApproval: boolean;
  readonly input: Record<string, unknown>;
  readonly fallback: boolean;
  readonly wait: boolean;
  readonly intervalMs: number;
  readonly reason?: string;
  readonly json: boolean;
}

const ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(stateMachine|execution):[A-Za-z0-9_:.-]+$/;

function parseCutover(argv: readonly string[]): CutoverOptions | 'help' {
  const parsed = parseCommandLine(
    argv,
    {
      'state-machine': { type: 'string' },
      stack: { type: 'string' },
      region: { type: 'string' },
      execution: { type: 'string' },
      'migration-id': { type: 'string' },
      mode: { type: 'string' },
      'require-approval': { type: 'boolean' },
      input: { type: 'string' },
      fallback: { type: 'boolean' },
      wait: { type: 'boolean' },
      interval: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return 'help';
  const [action, ...rest] = parsed.positionals;
  if (!action) throw new UsageError(`zdm cutover needs an action: one of ${CUTOVER_ACTIONS.join(', ')}`);
  if (!(CUTOVER_ACTIONS as readonly string[]).includes(action)) {
    const hint = didYouMean(action, CUTOVER_ACTIONS);
    throw new UsageError(
      `unknown cutover action ${showValue(action)}${hint ? ` (did you mean ${hint}?)` : ''}: one of ${CUTOVER_ACTIONS.join(', ')}`,
    );
  }
  if (rest.length) throw new UsageError(`unexpected argument ${showValue(rest[0])}`);
  const str = (name: string): string | undefined => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
  const stateMachine = str('state-machine');
  const execution = str('execution');
  for (const [flag, arn, kind] of [
    ['--state-machine', stateMachine, 'stateMachine'],
    ['--execution', execution, 'execution'],
  ] as const) {
    if (arn !== undefined && (!ARN.test(arn) || !arn.includes(`:${kind}:`))) {
      throw new UsageError(`${flag} must be a Step Functions ${kind} ARN, got ${showValue(arn)}`);
    }
  }
  if (stateMachine && str('stack')) throw new UsageError('give --state-machine or --stack, not both');
  const stack = str('stack');
  if (stack !== undefined && !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stack)) {
    throw new UsageError(`--stack must be a CloudFormation stack name, got ${showValue(stack)}`);
  }
  const region = str('region');
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    throw new UsageError(`--region must be an AWS region such as eu-west-1, got ${showValue(region)}`);
  }
  const migrationId = str('migration-id');
  if (migrationId !== undefined && !MIGRATION_ID_PATTERN.test(migrationId)) {
    throw new UsageError(
      `--migration-id must be letters, digits, ".", "_" or "-" (at most 128, starting with a letter or digit), got ${showValue(migrationId)}`,
    );
  }
  // The fallback machine takes dry-run and execute only; end-fallback-window is its own mode.
  const modes: readonly string[] = action === 'fallback' ? FALLBACK_MODES : EXECUTION_MODES;
  const mode = action === 'end-fallback-window' ? 'end-fallback-window' : (str('mode') ?? 'dry-run');
  if (!modes.includes(mode)) {
    const hint = didYouMean(mode, modes);
    throw new UsageError(
      `--mode must be one of ${modes.join(', ')}${action === 'fallback' ? ' on the fallback state machine' : ''}, got ${showValue(mode)}${hint ? ` (did you mean ${hint}?)` : ''}`,
    );
  }
  let input: Record<string, unknown> = {};
  const inputText = str('input');
  if (inputText !== undefined) {
    try {
      input = JSON.parse(inputText) as Record<string, unknown>;
    } catch {
      throw new UsageError(`--input must be a JSON object, got ${showValue(inputText)}`);
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new UsageError(`--input must be a JSON object, got ${showValue(inputText)}`);
    }
  }
  const interval = str('interval') ?? '10';
  if (!/^\d+$/.test(interval) || Number(interval) < 1 || Number(interval) > 300) {
    throw new UsageError(`--interval must be a number of seconds from 1 to 300, got ${showValue(interval)}`);
  }
  const only = (flag: string, allowed: readonly CutoverAction[], given: boolean): void => {
    if (given && !allowed.includes(action as CutoverAction)) {
      throw new UsageError(`${flag} applies to zdm cutover ${allowed.join(' / ')} only`);
    }
  };
  only('--mode', ['start', 'fallback'], str('mode') !== undefined);
  only('--require-approval', ['start', 'fallback'], Boolean(v['require-approval']));
  only('--input', ['start', 'fallback'], inputText !== undefined);
  only('--wait', STARTING_ACTIONS, Boolean(v.wait));
  only('--execution', EXECUTION_ACTIONS, execution !== undefined);
  only('--reason', ['reject'], str('reason') !== undefined);
  // `fallback` is the fallback machine, `end-fallback-window` the cutover machine: the flag would contradict them.
  only('--fallback', ['start', ...EXECUTION_ACTIONS], Boolean(v.fallback));
  if (STARTING_ACTIONS.includes(action as CutoverAction)) {
    if (!migrationId) throw new UsageError(`zdm cutover ${action} needs --migration-id <id>`);
    if (!stateMachine && !stack)
      throw new UsageError(`zdm cutover ${action} needs --state-machine <arn> or --stack <name>`);
  } else if (!execution) {
    if (!migrationId) throw new UsageError(`zdm cutover ${action} needs --execution <arn> or --migration-id <id>`);
    if (!stateMachine && !stack) {
      throw new UsageError(`--migration-id needs the state machine: --state-machine <arn> or --stack <name>`);
    }
  }
  const reason = str('reason');
  if (reason !== undefined && reason.length > 256) {
    throw new UsageError(`--reason must be at most 256 characters, got ${reason.length}`);
  }
  return {
    action: action as CutoverAction,
    ...(stateMachine ? { stateMachine } : {}),
    ...(stack ? { stack } : {}),
    ...(region ? { region } : {}),
    ...(execution ? { execution } : {}),
    ...(migrationId ? { migrationId } : {}),
    mode,
    requireApproval: Boolean(v['require-approval']),
    input,
    fallback: action === 'fallback' || Boolean(v.fallback),
    wait: Boolean(v.wait),
    intervalMs: Number(interval) * 1000,
    ...(reason !== undefined ? { reason } : {}),
    json: Boolean(v.json),
  };
}

/** The state machine: the ARN given, or the stack's output. */
async function stateMachineArn(opts: CutoverOptions): Promise<string> {
  if (opts.stateMachine) return opts.stateMachine;
  const cfn = new CloudFormationClient(opts.region ? { region: opts.region } : {});
  const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: opts.stack }));
  const wanted = opts.fallback ? 'FallbackStateMachineArn' : 'CutoverStateMachineArn';
  const outputs = (Stacks?.[0]?.Outputs ?? []).filter((o) => o.OutputKey?.includes(wanted) && o.OutputValue);
  if (outputs.length === 0) {
    throw new Error(
      `stack ${opts.stack} has no ${wanted} output${opts.fallback ? ' (is the fallback enabled?)' : ''}: give --state-machine <arn>`,
    );
  }
  if (outputs.length > 1) {
    throw new Error(
      `stack ${opts.stack} has ${outputs.length} ${wanted} outputs (${outputs.map((o) => o.OutputKey).join(', ')}): give --state-machine <arn>`,
    );
  }
  return outputs[0].OutputValue!;
}

/** The execution: the ARN given, or the latest one zdm started for the migration. */
async function executionArn(sfn: SFNClient, opts: CutoverOptions): Promise<string> {
  if (opts.execution) return opts.execution;
  const machine = await stateMachineArn(opts);
  const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine, maxResults: 100 }));
  const mine = (executions ?? [])
    .filter((e) => e.name?.startsWith(`${opts.migrationId}-`))
    .sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
  if (!mine.length) {
    throw new Error(
      `no execution of migration ${opts.migrationId} among the latest 100 of ${machine}: give --execution`,
    );
  }
  return mine[0].executionArn!;
}

async function history(sfn: SFNClient, arn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000, includeExecutionData: true, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** The task token of the approval gate the execution waits at, if it waits at one. */
export function pendingApproval(events: readonly HistoryEvent[]): string | undefined {
  let token: string | undefined;
  for (const e of events) {
    if (e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === APPROVAL_STATE) {
      token = undefined;
    }
    const scheduled = e.taskScheduledEventDetails;
    if (e.type === 'TaskScheduled' && scheduled?.resource?.endsWith('.waitForTaskToken')) {
      try {
        const params = JSON.parse(scheduled.parameters ?? '{}') as { Payload?: { taskToken?: unknown } };
        if (typeof params.Payload?.taskToken === 'string') token = params.Payload.taskToken;
      } catch {
        // Not the approval gate's payload.
      }
    }
    if (
      (e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === APPROVAL_STATE) ||
      e.type === 'TaskSucceeded' ||
      e.type === 'TaskFailed' ||
      e.type === 'TaskTimedOut'
    ) {
      token = undefined;
    }
  }
  return token;
}

interface ExecutionStatus {
  readonly executionArn: string;
  readonly status: string;
  readonly currentState?: string;
  readonly waitingForApproval: boolean;
  readonly startDate?: string;
  readonly stopDate?: string;
  readonly error?: string;
  readonly cause?: string;
}

async function describe(sfn: SFNClient, arn: string): Promise<{ status: ExecutionStatus; events: HistoryEvent[] }> {
  const [d, events] = await Promise.all([
    sfn.send(new DescribeExecutionCommand({ executionArn: arn })),
    history(sfn, arn),
  ]);
  const entered = events.filter((e) => e.stateEnteredEventDetails?.name).at(-1)?.stateEnteredEventDetails?.name;
  const status: ExecutionStatus = {
    executionArn: arn,
    status: d.status ?? 'UNKNOWN',
    ...(entered ? { currentState: entered } : {}),
    waitingForApproval: d.status === 'RUNNING' && pendingApproval(events) !== undefined,
    ...(d.startDate ? { startDate: d.startDate.toISOString() } : {}),
    ...(d.stopDate ? { stopDate: d.stopDate.toISOString() } : {}),
    ...(d.error ? { error: d.error } : {}),
    ...(d.cause ? { cause: d.cause.slice(0, 2000) } : {}),
  };
  return { status, events };
}

function exitFor(s: ExecutionStatus): number {
  if (s.status === 'SUCCEEDED') return CUTOVER_EXIT.succeeded;
  if (s.status === 'RUNNING' || s.status === 'PENDING_REDRIVE') {
    return s.waitingForApproval ? CUTOVER_EXIT.waitingForApproval : CUTOVER_EXIT.running;
  }
  return CUTOVER_EXIT.failed;
}

function describeText(s: ExecutionStatus): string {
  return (
    [
      `execution  ${s.executionArn}`,
      `status     ${s.status}${s.waitingForApproval ? ' (waiting for approval: zdm cutover approve | reject)' : ''}`,
      s.currentState ? `state      ${s.currentState}` : '',
      s.startDate ? `started    ${s.startDate}` : '',
      s.stopDate ? `stopped    ${s.stopDate}` : '',
      s.error ? `error      ${s.error}${s.cause ? `: ${s.cause}` : ''}` : '',
    ]
      .filter(Boolean)
      .join('\n') + '\n'
  );
}

/** A number named like lag in a state's output (the sync checks report it), for the watch line. */
function lagOf(output: string | undefined): number | undefined {
  const m = /"(?:lagSeconds|lag)"\s*:\s*(-?\d+(?:\.\d+)?)/.exec(output ?? '');
  return m ? Number(m[1]) : undefined;
}

async function watch(sfn: SFNClient, arn: string, opts: CutoverOptions, io: CutoverIo): Promise<number> {
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const seen = new Set<number>();
  let approvalAnnounced = false;
  for (;;) {
    const { status, events } = await describe(sfn, arn);
    for (const e of events) {
      if (e.id === undefined || seen.has(e.id)) continue;
      seen.add(e.id);
      const time = e.timestamp?.toISOString();
      if (e.stateEnteredEventDetails?.name) {
        const state = e.stateEnteredEventDetails.name;
        io.stdout(opts.json ? `${JSON.stringify({ event: 'state', time, state })}\n` : `${time}  ${state}\n`);
      }
      const lag = lagOf(e.stateExitedEventDetails?.output);
      if (lag !== undefined) {
        const state = e.stateExitedEventDetails?.name;
        io.stdout(
          opts.json
            ? `${JSON.stringify({ event: 'lag', time, state, lagSeconds: lag })}\n`
            : `${time}    lag ${lag} s\n`,
        );
      }
    }
    if (status.waitingForApproval && !approvalAnnounced) {
      approvalAnnounced = true;
      io.stdout(
        opts.json
          ? `${JSON.stringify({ event: 'waiting-for-approval', executionArn: arn })}\n`
          : `waiting for approval: zdm cutover approve --execution ${arn}  (or reject)\n`,
      );
    }
    if (!['RUNNING', 'PENDING_REDRIVE'].includes(status.status)) {
      io.stdout(opts.json ? `${JSON.stringify({ event: 'end', ...status })}\n` : `\n${describeText(status)}`);
      return exitFor(status);
    }
    await sleep(opts.intervalMs);
  }
}

/** Starts an execution (start, fallback, end-fallback-window); with --wait, watches it to its end. */
async function start(sfn: SFNClient, opts: CutoverOptions, io: CutoverIo): Promise<number> {
  const machine = await stateMachineArn(opts);
  const input = {
    ...opts.input,
    migrationId: opts.migrationId,
    mode: opts.mode,
    ...(opts.requireApproval ? { requireApproval: true } : {}),
  };
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const name = `${opts.migrationId}-${opts.fallback ? 'fallback-' : ''}${opts.mode}-${stamp}`.slice(0, 80);
  const r = await sfn.send(new StartExecutionCommand({ stateMachineArn: machine, name, input: JSON.stringify(input) }));
  const started = { ok: true, executionArn: r.executionArn, stateMachineArn: machine, name, input };
  if (!opts.wait) {
    io.stdout(opts.json ? `${JSON.stringify(started, null, 2)}\n` : `started ${r.executionArn}\n`);
    return CUTOVER_EXIT.succeeded;
  }
  if (!opts.json) io.stdout(`started ${r.executionArn}\n`);
  else io.stdout(`${JSON.stringify({ event: 'started', ...started })}\n`);
  return watch(sfn, r.executionArn!, opts, io);
}

/** Runs `zdm cutover ...` (argv after "cutover"). */
export async function cutoverMain(argv: readonly string[], io: CutoverIo): Promise<number> {
  let opts: CutoverOptions | 'help';
  try {
    opts = parseCutover(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (argv.includes('--json')) io.stdout(`${JSON.stringify({ ok: false, error: error.message })}\n`);
    io.stderr(`zdm: ${error.message}\nRun "zdm cutover --help" for usage.\n`);
    return CUTOVER_EXIT.usage;
  }
  if (opts === 'help') {
    io.stdout(CUTOVER_USAGE);
    return 0;
  }
  const sfn = new SFNClient(opts.region ? { region: opts.region } : {});
  try {
    switch (opts.action) {
      case 'start':
      case 'fallback':
      case 'end-fallback-window':
        return await start(sfn, opts, io);
      case 'status': {
        const { status } = await describe(sfn, await executionArn(sfn, opts));
        io.stdout(opts.json ? `${JSON.stringify(status, null, 2)}\n` : describeText(status));
        return exitFor(status);
      }
      case 'watch':
        return await watch(sfn, await executionArn(sfn, opts), opts, io);
      case 'approve':
      case 'reject': {
        const arn = await executionArn(sfn, opts);
        const { status, events } = await describe(sfn, arn);
        const token = status.status === 'RUNNING' ? pendingApproval(events) : undefined;
        if (!token) {
          throw new Error(
            `execution ${arn} is not waiting for approval (status ${status.status}${status.currentState ? `, state ${status.currentState}` : ''}): nothing was sent`,
          );
        }
        if (opts.action === 'approve') {
          await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ approved: true }) }));
        } else {
          await sfn.send(
            new SendTaskFailureCommand({
              taskToken: token,
              error: ERRORS.rejected,
              cause: opts.reason ?? `rejected by operator for ${opts.migrationId ?? arn}`,
            }),
          );
        }
        const done = { ok: true, executionArn: arn, answer: opts.action === 'approve' ? 'approved' : 'rejected' };
        io.stdout(opts.json ? `${JSON.stringify(done, null, 2)}\n` : `${done.answer}: ${arn}\n`);
        return CUTOVER_EXIT.succeeded;
      }
    }
  } catch (error) {
    const message = (
      error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)
    ).slice(0, 1000);
    if (opts.json) io.stdout(`${JSON.stringify({ ok: false, command: `cutover ${opts.action}`, error: message })}\n`);
    io.stderr(`zdm: ${message}\n`);
    return CUTOVER_EXIT.usage;
  } finally {
    sfn.destroy();
  }
}
