import type { StepName } from '../contract';
import type { StepHandler } from '../lambda/engine/cutover/steps';
import type { ReplicationPort, ReplicationStatus } from '../lambda/engine/ports';

import type { RehearsalMode, Scenario } from './options';

/** What the rehearsal expects at the end of a scenario (only the fields set are compared). */
export interface Expectation {
  /** Status of the last execution. */
  readonly executionStatus: 'SUCCEEDED' | 'FAILED';
  /** Error name of the last execution, when it fails. */
  readonly error?: string;
  /** Status in the state store. */
  readonly migrationStatus?: 'succeeded' | 'failed' | 'rolled-back';
  /** Whether the source's application role was frozen at some point. */
  readonly froze: boolean;
  /** Whether the application role can log in and write on the source at the end. */
  readonly sourceWritable: boolean;
  /** Whether the traffic switch points at the target at the end. */
  readonly trafficSwitched: boolean;
  /** Whether replication was stopped at the end. */
  readonly replicationStopped: boolean;
  /** resume: the second execution skipped the phases the first had finished. */
  readonly resumedSkippedDonePhases?: boolean;
}

export type Actual = { [K in keyof Expectation]?: Expectation[K] };

export interface ScenarioPlan {
  readonly name: Scenario;
  readonly description: string;
  /** Executions of the state machine with the same migrationId (resume: 2). */
  readonly executions: number;
  /** Replication as the workflow sees it (lag-timeout: lag never converges). */
  wrapReplication(port: ReplicationPort): ReplicationPort;
  /** The step handler of execution `index` (0-based). */
  wrapStepHandler(handler: StepHandler, index: number): StepHandler;
  expected(mode: RehearsalMode): Expectation;
}

/** The error injected by the failure scenarios (not a Lambda service error, so the state machine does not retry it). */
export const INJECTED_ERROR = 'RehearsalInjectedFailure';

export class InjectedFailure extends Error {
  constructor(step: StepName, why: string) {
    super(`rehearsal: injected failure in ${step} (${why})`);
    this.name = INJECTED_ERROR;
  }
}

/** Fails `step` the first time it runs in this handler, then behaves normally. */
function failOnce(handler: StepHandler, step: StepName, why: string): StepHandler {
  let failed = false;
  return async (event) => {
    if (event.step === step && !failed) {
      failed = true;
      throw new InjectedFailure(step, why);
    }
    return handler(event);
  };
}

/** Replication that never converges: the real one keeps running, the workflow sees an hour of lag. */
export function laggingReplication(port: ReplicationPort, lagSeconds = 3600): ReplicationPort {
  return {
    description: `${port.description} (rehearsal: lag held at ${lagSeconds}s)`,
    status: async (): Promise<ReplicationStatus> => {
      const real = await port.status();
      return { ...real, lagSeconds, detail: `rehearsal holds lag at ${lagSeconds}s; real lag ${real.lagSeconds}` };
    },
    stop: () => port.stop(),
  };
}

const same = <T>(x: T): T => x;

export const SCENARIO_PLANS: Record<Scenario, ScenarioPlan> = {
  happy: {
    name: 'happy',
    description: 'cutover under load: freeze, final sync, stop replication, sequences, post-validation, switch',
    executions: 1,
    wrapReplication: same,
    wrapStepHandler: same,
    expected: (mode) =>
      mode === 'execute'
        ? {
            executionStatus: 'SUCCEEDED',
            migrationStatus: 'succeeded',
            froze: true,
            sourceWritable: false,
            trafficSwitched: true,
            replicationStopped: true,
          }
        : {
            executionStatus: 'SUCCEEDED',
            froze: false,
            sourceWritable: true,
            trafficSwitched: false,
            replicationStopped: false,
          },
  },
  'lag-timeout': {
    name: 'lag-timeout',
    description: 'replication lag never converges: the workflow gives up waiting, nothing is frozen',
    executions: 1,
    wrapReplication: (port) => laggingReplication(port),
    wrapStepHandler: same,
    expected: () => ({
      executionStatus: 'FAILED',
      error: 'ZdmSyncTimeout',
      froze: false,
      sourceWritable: true,
      trafficSwitched: false,
      replicationStopped: false,
    }),
  },
  'fail-during-freeze': {
    name: 'fail-during-freeze',
    description: 'final sync fails while writes are frozen: rollback restores the source, the load continues there',
    executions: 1,
    wrapReplication: same,
    wrapStepHandler: (handler) => failOnce(handler, 'finalSync', 'simulated crash while writes are frozen'),
    expected: (mode) => ({
      executionStatus: 'FAILED',
      error: INJECTED_ERROR,
      migrationStatus: 'rolled-back',
      froze: mode === 'execute',
      sourceWritable: true,
      trafficSwitched: false,
      replicationStopped: false,
    }),
  },
  resume: {
    name: 'resume',
    description:
      'the first execution fails after replication stopped (no rollback possible); a second execution with the same migrationId resumes and completes',
    executions: 2,
    wrapReplication: same,
    wrapStepHandler: (handler, index) =>
      index === 0 ? failOnce(handler, 'syncSequences', 'simulated crash after replication stopped') : handler,
    expected: () => ({
      executionStatus: 'SUCCEEDED',
      migrationStatus: 'succeeded',
      froze: true,
      sourceWritable: false,
      trafficSwitched: true,
      replicationStopped: true,
      resumedSkippedDonePhases: true,
    }),
  },
};

/** Fields where actual differs from expected, as `field: expected X, got Y`. */
export function compareOutcome(expected: Expectation, actual: Actual): string[] {
  const mismatches: string[] = [];
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key as keyof Expectation];
    if (want !== undefined && got !== want) {
      mismatches.push(`${key}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got ?? null)}`);
    }
  }
  return mismatches;
}
