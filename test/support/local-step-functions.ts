/**
 * Step Functions at the SDK boundary, backed by real local executions: an aws-sdk-client-mock of SFNClient whose
 * StartExecution runs the synthesized definition on aws-local-stepfunctions (rehearsal/local/run-state-machine.ts),
 * whose DescribeExecution / GetExecutionHistory / ListExecutions report what that execution did (its state events,
 * as Step Functions words them), and whose SendTaskSuccess / SendTaskFailure answer the approval gate's task token.
 * The Lambda steps are the caller's (`stepHandler`): real, stubbed, or both.
 */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  type ExecutionStatus,
  type HistoryEvent,
  type HistoryEventType,
} from '@aws-sdk/client-sfn';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { TASK_TOKEN_STATES, type StepEvent } from '../../contract';
import {
  runCutover,
  type ApprovalDecision,
  type ApprovalRequest,
  type CutoverStateEvent,
} from '../../rehearsal/local/run-state-machine';

type SfnMock = AwsClientStub<SFNClient>;

export interface LocalMachine {
  /** The ARN the CLI is given (or finds in the stack's outputs). */
  readonly arn: string;
  /** ASL JSON text: the synthesized definition. */
  readonly definition: string;
}

interface LocalExecution {
  readonly arn: string;
  readonly name: string;
  readonly machineArn: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  error?: string;
  cause?: string;
  readonly events: HistoryEvent[];
  /** The approval gate's answer, while it waits for one. */
  pending?: { readonly token: string; readonly answer: (decision: ApprovalDecision) => void };
}

/** Step Functions' own error for a token no execution waits with. */
class TaskDoesNotExist extends Error {
  override readonly name = 'TaskDoesNotExist';
}

/** Local executions of `machines` behind the SFN mock `sfn`; `stepHandler` runs every Lambda step. */
export class LocalStepFunctions {
  private readonly executions = new Map<string, LocalExecution>();
  private readonly runs: Promise<unknown>[] = [];
  private version = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly sfn: SfnMock,
    private readonly machines: readonly LocalMachine[],
    private readonly stepHandler: (event: StepEvent) => Promise<unknown>,
  ) {
    this.install();
  }

  /** Every execution started so far has ended (for the end of a test). */
  async drain(): Promise<void> {
    await Promise.allSettled(this.runs);
  }

  /**
   * A sleep for `zdm cutover watch`: resolves once the executions changed since this sleeper last woke (at once the
   * first time). No timers: the watch polls exactly when there is something new to see.
   */
  sleeper(): () => Promise<void> {
    let seen = -1;
    return async () => {
      await this.until(() => this.version > seen);
      seen = this.version;
    };
  }

  /** Resolves once `condition` holds (checked after each change). */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** The execution, by ARN (for conditions). */
  execution(arn: string): Readonly<LocalExecution> {
    const execution = this.executions.get(arn);
    if (!execution) throw new Error(`no local execution ${arn}`);
    return execution;
  }

  private changed(): void {
    this.version += 1;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private record(execution: LocalExecution, event: Omit<HistoryEvent, 'id' | 'timestamp' | 'previousEventId'>): void {
    const id = execution.events.length + 1;
    execution.events.push({ id, previousEventId: id - 1, timestamp: new Date(), ...event } as HistoryEvent);
    this.changed();
  }

  private install(): void {
    this.sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string; input: string }) => {
      const machine = this.machines.find((m) => m.arn === input.stateMachineArn);
      if (!machine)
        throw Object.assign(new Error(`State Machine Does Not Exist: '${input.stateMachineArn}'`), {
          name: 'StateMachineDoesNotExist',
        });
      const arn = `${machine.arn.replace(':stateMachine:', ':execution:')}:${input.name}`;
      const execution: LocalExecution = {
        arn,
        name: input.name,
        machineArn: machine.arn,
        startDate: new Date(),
        status: 'RUNNING',
        events: [],
      };
      this.executions.set(arn, execution);
      this.record(execution, {
        type: 'ExecutionStarted',
        executionStartedEventDetails: { input: input.input, roleArn: 'arn:aws:iam::123456789012:role/local' },
      });
      this.runs.push(this.run(machine, execution, JSON.parse(input.input) as unknown));
      return { executionArn: arn, startDate: execution.startDate };
    });
    this.sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => {
      const e = this.execution(input.executionArn);
      return {
        executionArn: e.arn,
        stateMachineArn: e.machineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate,
        ...(e.stopDate ? { stopDate: e.stopDate } : {}),
        ...(e.error ? { error: e.error } : {}),
        ...(e.cause ? { cause: e.cause } : {}),
      };
    });
    this.sfn.on(GetExecutionHistoryCommand).callsFake((input: { executionArn: string }) => ({
      events: [...this.execution(input.executionArn).events],
    }));
    this.sfn.on(ListExecutionsCommand).callsFake((input: { stateMachineArn: string }) => ({
      executions: [...this.executions.values()]
        .filter((e) => e.machineArn === input.stateMachineArn)
        .map((e) => ({
          executionArn: e.arn,
          stateMachineArn: e.machineArn,
          name: e.name,
          status: e.status,
          startDate: e.startDate,
        })),
    }));
    this.sfn.on(SendTaskSuccessCommand).callsFake((input: { taskToken: string; output: string }) => {
      JSON.parse(input.output); // Step Functions refuses output that is not JSON
      this.answer(input.taskToken, 'approve');
      return {};
    });
    this.sfn.on(SendTaskFailureCommand).callsFake((input: { taskToken: string; error?: string; cause?: string }) => {
      this.answer(input.taskToken, { error: input.error ?? '', ...(input.cause ? { cause: input.cause } : {}) });
      return {};
    });
  }

  private answer(token: string, decision: ApprovalDecision): void {
    const waiting = [...this.executions.values()].find((e) => e.pending?.token === token);
    if (!waiting) throw new TaskDoesNotExist('Task Timed Out or does not exist');
    const { answer } = waiting.pending!;
    waiting.pending = undefined;
    answer(decision);
  }

  private async run(machine: LocalMachine, execution: LocalExecution, input: unknown): Promise<void> {
    const types = statesOf(JSON.parse(machine.definition) as StatesContainer);
    const result = await runCutover({
      definition: machine.definition,
      stepHandler: this.stepHandler,
      input,
      watchdog: false,
      onStateEvent: (event) => this.onStateEvent(execution, event, types),
      approve: (request) => this.waitForAnswer(execution, request, types),
    });
    execution.status = result.status;
    execution.stopDate = new Date();
    if (result.error) execution.error = result.error;
    if (result.cause) execution.cause = result.cause;
    this.record(execution, {
      type: `Execution${result.status === 'SUCCEEDED' ? 'Succeeded' : result.status === 'FAILED' ? 'Failed' : result.status === 'TIMED_OUT' ? 'TimedOut' : 'Aborted'}` as HistoryEventType,
    });
  }

  /** The state events as Step Functions records them (`TaskStateEntered`, `ChoiceStateExited`, `TaskFailed`...). */
  private onStateEvent(execution: LocalExecution, event: CutoverStateEvent, states: Map<string, StateInfo>): void {
    const type = event.stateType ?? states.get(event.state)?.type ?? 'Task';
    switch (event.type) {
      case 'StateEntered':
        this.record(execution, {
          type: `${type}StateEntered` as HistoryEventType,
          stateEnteredEventDetails: { name: event.state },
        });
        break;
      case 'StateExited':
        this.record(execution, {
          type: `${type}StateExited` as HistoryEventType,
          stateExitedEventDetails: { name: event.state, output: JSON.stringify(event.output ?? null) },
        });
        break;
      case 'StateFailed':
        if (type === 'Task') {
          this.record(execution, {
            type: 'TaskFailed',
            taskFailedEventDetails: {
              resourceType: 'lambda',
              resource: 'invoke',
              ...(event.error ? { error: event.error } : {}),
              ...(event.cause ? { cause: event.cause } : {}),
            },
          });
        }
        break;
      default:
        break;
    }
  }

  /**
   * The approval gate: schedules its task (the history shows the task token in its parameters, as Step Functions'
   * does) once the state was entered, then waits for SendTaskSuccess / SendTaskFailure.
   */
  private async waitForAnswer(
    execution: LocalExecution,
    request: ApprovalRequest,
    states: Map<string, StateInfo>,
  ): Promise<ApprovalDecision> {
    const state = TASK_TOKEN_STATES.find((name) => states.has(name))!;
    await this.until(() =>
      execution.events.some((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === state),
    );
    // `arn:aws:states:::lambda:invoke.waitForTaskToken`: Step Functions records `lambda` and `invoke.waitForTaskToken`.
    const [resourceType, resource] = (states.get(state)?.resource ?? '').replace(/^arn:[^:]+:states:::/, '').split(':');
    return new Promise<ApprovalDecision>((answer) => {
      execution.pending = { token: request.taskToken, answer };
      this.record(execution, {
        type: 'TaskScheduled',
        taskScheduledEventDetails: {
          resourceType,
          resource,
          region: 'eu-west-1',
          parameters: JSON.stringify(request.parameters),
        },
      });
    });
  }
}

interface StatesContainer {
  readonly States?: Record<
    string,
    { Type?: string; Resource?: string; ItemProcessor?: StatesContainer; Iterator?: StatesContainer }
  >;
}

interface StateInfo {
  readonly type: string;
  readonly resource?: string;
}

/** Each state's type and resource, by name (Map item processors included). */
function statesOf(definition: StatesContainer, into = new Map<string, StateInfo>()): Map<string, StateInfo> {
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    if (state.Type) into.set(name, { type: state.Type, ...(state.Resource ? { resource: state.Resource } : {}) });
    for (const inner of [state.ItemProcessor, state.Iterator]) if (inner) statesOf(inner, into);
  }
  return into;
}
