/**
 * The rehearsal's scenarios: for each, how many executions of which state machine, the faults it injects and the
 * outcome it expects (`SCENARIO_PLANS`), and the comparison of that expectation with what happened.
 */
import {
  FREEZE_PHASES,
  PHASES,
  STATES,
  type ExecutionMode,
  type PhaseName,
  type StepEvent,
  type StepName,
} from '../../contract';
import type { MigrationRecord, ReplicationPort, ReplicationStatus, StepHandler } from '../../lambda/engine';

import type { RehearsalMode, RehearsalOptions, Scenario } from '../options';

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
  /**
   * Whether the reads have a switch of their own (read-first) and it points at the target at the end. false in
   * the other scenarios: there the application's reads follow the write endpoint, they have no switch to move.
   */
  readonly readsSwitched?: boolean;
  /**
   * read-first: the application's reads were answered by the target before any of its writes was (or while every
   * write stayed on the source) — measured from the reads, not from the switch.
   */
  readonly readsOnTargetFirst?: boolean;
  /** resume: the second execution skipped the phases the first had finished. */
  readonly resumedSkippedDonePhases?: boolean;
  /** The state the last execution ended in (its Succeed or Fail state, e.g. `FallbackSucceeded`, `RolledBack`). */
  readonly lastState?: string;
  /** fallback scenarios: whether the writer can log in and write on the target at the end. */
  readonly targetWritable?: boolean;
  /** fallback scenarios: whether the reverse replication (target → source) is running at the end. */
  readonly reverseRunning?: boolean;
  /**
   * way-back-broken: the watch of the open way back named the row written on the old source (its table and key)
   * before the fallback started.
   */
  readonly wayBackBreakReported?: boolean;
}

export type Actual = { [K in keyof Expectation]?: Expectation[K] };

export interface ScenarioPlan {
  readonly name: Scenario;
  readonly description: string;
  /** Executions of the state machine with the same migrationId (resume, read-first: 2). */
  readonly executions: number;
  /** The execution input's `mode` of execution `index` (0-based), for the rehearsal's `--mode`. */
  executionMode(index: number, mode: RehearsalMode): ExecutionMode;
  /** Whether a failed execution is followed by the next one (resume: yes, that is the point; read-first: no). */
  readonly continueAfterFailure: boolean;
  /**
   * The application's reads have a read switch of their own, which the workflow moves (`switchReadsTo` = the
   * target: locally there is no replica, the target itself is the "reader endpoint"). Otherwise the reads follow
   * the write endpoint.
   */
  readonly readSwitch: boolean;
  /** After this execution (0-based) the reads run on the target for `--observe-reads` seconds. */
  readonly observeReadsAfter?: number;
  /**
   * The way back (fallback scenarios): the cutover machine arms the reverse replication, and execution 1 is the
   * fallback machine's. After the cutover the application writes on the target for `--on-target` seconds.
   */
  readonly wayBack: boolean;
  /**
   * way-back-broken: while the application is on the target, another session writes a row on the old source (a
   * forgotten writer); the way back's break is then expected, not a failure of the rehearsal.
   */
  readonly writeOnOldSource?: boolean;
  /** Which state machine runs execution `index`: the cutover's, or the fallback's (the way back). */
  machine(index: number): 'cutover' | 'fallback';
  /** Replication as the workflow sees it (lag-timeout: lag never converges). */
  wrapReplication(port: ReplicationPort): ReplicationPort;
  /** The step handler of execution `index` (0-based); `record` reads the execution's state record. */
  wrapStepHandler(handler: StepHandler, index: number, record: RecordReader): StepHandler;
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

/** Reads the state record an event's execution writes (undefined before validateInput created it). */
export type RecordReader = (event: StepEvent) => Promise<MigrationRecord | undefined>;

/**
 * Fails the first step that runs after `phase` succeeded (whatever step the workflow runs next), once. Phases
 * and steps are named by the engine and may change; the scenarios only name the phases they are about.
 */
function failAfterPhase(handler: StepHandler, phase: PhaseName, why: string, record: RecordReader): StepHandler {
  let failed = false;
  return async (event) => {
    if (!failed && event.step !== 'validateInput' && (event.step as string) !== 'watchdog' && event.input) {
      const r = await record(event);
      if (r?.phases[phase]?.status === 'succeeded') {
        failed = true;
        throw new InjectedFailure(event.step, `${why}, the first step after ${phase}`);
      }
    }
    return handler(event);
  };
}

/** The first phase after which the workflow cannot roll back: whichever of stopping replication and switching traffic comes first. */
export function pointOfNoReturn(): PhaseName {
  const candidates = (['stopReplication', 'switchTraffic'] as const).filter((p) =>
    (PHASES as readonly string[]).includes(p),
  );
  return candidates.sort((a, b) => PHASES.indexOf(a) - PHASES.indexOf(b))[0] ?? PHASES[PHASES.length - 2];
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
const rehearsalMode = (_index: number, mode: RehearsalMode): ExecutionMode => mode;

const cutoverOnly = (): 'cutover' => 'cutover';

/** Every scenario but read-first: one kind of execution, reads follow the writes. */
const WRITES_ONLY = {
  executionMode: rehearsalMode,
  continueAfterFailure: true,
  readSwitch: false,
  wayBack: false,
  machine: cutoverOnly,
} as const;

/** The fallback scenarios: the cutover (with the way back), the application on the target, the fallback. */
const WAY_BACK = {
  executions: 2,
  executionMode: (): ExecutionMode => 'execute',
  // A cutover that failed leaves nothing to fall back from.
  continueAfterFailure: false,
  readSwitch: false,
  wayBack: true,
  machine: (index: number): 'cutover' | 'fallback' => (index === 0 ? 'cutover' : 'fallback'),
  wrapReplication: same,
} as const;

/** A fallback that did not move the application: still on the target, writable there, the way back running. */
const STILL_ON_TARGET = {
  sourceWritable: false,
  targetWritable: true,
  trafficSwitched: true,
  replicationStopped: true,
  reverseRunning: true,
  readsSwitched: false,
} as const;

export const SCENARIO_PLANS: Record<Scenario, ScenarioPlan> = {
  happy: {
    name: 'happy',
    ...WRITES_ONLY,
    description: `cutover under load: ${FREEZE_PHASES.join(' → ')} while writes wait, then the rest on the target`,
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
            readsSwitched: false,
          }
        : {
            executionStatus: 'SUCCEEDED',
            froze: false,
            sourceWritable: true,
            trafficSwitched: false,
            replicationStopped: false,
            readsSwitched: false,
          },
  },
  'lag-timeout': {
    name: 'lag-timeout',
    ...WRITES_ONLY,
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
      readsSwitched: false,
    }),
  },
  'fail-during-freeze': {
    name: 'fail-during-freeze',
    ...WRITES_ONLY,
    description:
      'the step after the freeze fails while writes are frozen: rollback restores the source, the load continues there',
    executions: 1,
    wrapReplication: same,
    wrapStepHandler: (handler, _index, record) =>
      failAfterPhase(handler, 'freezeWrites', 'simulated crash while writes are frozen', record),
    expected: (mode) => ({
      executionStatus: 'FAILED',
      error: INJECTED_ERROR,
      migrationStatus: 'rolled-back',
      froze: mode === 'execute',
      sourceWritable: true,
      trafficSwitched: false,
      replicationStopped: false,
      readsSwitched: false,
    }),
  },
  resume: {
    name: 'resume',
    ...WRITES_ONLY,
    description:
      'the first execution fails past the point of no return (no rollback possible); a second execution with the same migrationId resumes and completes',
    executions: 2,
    wrapReplication: same,
    wrapStepHandler: (handler, index, record) =>
      index === 0
        ? failAfterPhase(handler, pointOfNoReturn(), 'simulated crash past the point of no return', record)
        : handler,
    expected: () => ({
      executionStatus: 'SUCCEEDED',
      migrationStatus: 'succeeded',
      froze: true,
      sourceWritable: false,
      trafficSwitched: true,
      replicationStopped: true,
      readsSwitched: false,
      resumedSkippedDonePhases: true,
    }),
  },
  'read-first': {
    name: 'read-first',
    description:
      "reads first: a switch-reads execution moves the application's reads to the target while the writes stay on the source; then the cutover moves the writes",
    executions: 2,
    executionMode: (index, mode) => (index === 0 ? 'switch-reads' : mode),
    continueAfterFailure: false,
    readSwitch: true,
    wayBack: false,
    machine: cutoverOnly,
    observeReadsAfter: 0,
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
            readsSwitched: true,
            readsOnTargetFirst: true,
          }
        : {
            executionStatus: 'SUCCEEDED',
            froze: false,
            sourceWritable: true,
            trafficSwitched: false,
            replicationStopped: false,
            readsSwitched: true,
            readsOnTargetFirst: true,
          },
  },
  fallback: {
    name: 'fallback',
    ...WAY_BACK,
    description:
      'the way back: the cutover arms the reverse replication, the application writes on the target, then the fallback moves it back to the source with every write',
    wrapStepHandler: same,
    expected: () => ({
      executionStatus: 'SUCCEEDED',
      migrationStatus: 'succeeded',
      lastState: STATES.fellBack,
      froze: true,
      sourceWritable: true,
      targetWritable: false,
      trafficSwitched: false,
      replicationStopped: true,
      reverseRunning: false,
      readsSwitched: false,
    }),
  },
  'fallback-rollback': {
    name: 'fallback-rollback',
    ...WAY_BACK,
    description:
      "the fallback fails inside its freeze: it rolls back to where it started — the application on the target, the target's roles writable, the reverse replication running",
    wrapStepHandler: (handler, index, record) =>
      index === 1
        ? failAfterPhase(handler, 'finalSync', "simulated crash inside the fallback's freeze", record)
        : handler,
    expected: () => ({
      executionStatus: 'FAILED',
      error: INJECTED_ERROR,
      migrationStatus: 'rolled-back',
      lastState: STATES.rolledBack,
      froze: true,
      ...STILL_ON_TARGET,
    }),
  },
  'way-back-broken': {
    name: 'way-back-broken',
    ...WAY_BACK,
    writeOnOldSource: true,
    description:
      'the way back broken: while the application is on the target, another session writes a row on the old source; the watch names it at once (table, key, writer), the fallback refuses in its preflight and nothing moves; then the operator undoes the write and the copies match',
    wrapStepHandler: same,
    expected: () => ({
      executionStatus: 'FAILED',
      error: 'ZdmPreflightFailed',
      migrationStatus: 'rolled-back',
      lastState: STATES.rolledBack,
      // the fallback's record: it refused before freezing anything
      froze: false,
      ...STILL_ON_TARGET,
      wayBackBreakReported: true,
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

/**
 * What the rehearsal expects of a run with these options: the scenario's expectation and, when the cutover armed the
 * way back (the construct's default) in a scenario without a fallback, the reverse replication running at the end
 * exactly when the traffic was switched.
 */
export function expectationFor(plan: ScenarioPlan, options: Pick<RehearsalOptions, 'mode' | 'wayBack'>): Expectation {
  const base = plan.expected(options.mode);
  if (plan.wayBack || !options.wayBack) return base;
  return { ...base, reverseRunning: base.trafficSwitched };
}
