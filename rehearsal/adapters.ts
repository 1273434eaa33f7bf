/**
 * The rehearsal's seams onto the engine: the in-memory traffic switch, the local cutover dependencies, the real
 * step handler and the state machine the construct synthesizes, run by aws-local-stepfunctions.
 */
import './local/polyfills';
import type { CutoverInput, StepEvent, TableSelection } from '../contract';
import { createStepHandler, stateKey } from '../lambda/engine/cutover/steps';
import type { ReplicationPort } from '../lambda/engine/ports';
import { MemoryTrafficSwitch } from '../lambda/engine/traffic/memory-traffic-switch';
import { createLocalCutoverDeps, type LocalCutoverDeps } from './local/local-cutover-deps';
import {
  runCutover,
  synthesizeCutoverDefinition,
  type CutoverRunResult,
  type RunCutoverOptions,
} from './local/run-state-machine';

/** Where the application connects (its writes; its reads too, unless they have a read switch of their own). */
export function createTrafficSwitch(
  initialEndpoint: string,
  name = 'application endpoint (in memory)',
): MemoryTrafficSwitch {
  return new MemoryTrafficSwitch({ endpoint: initialEndpoint }, name);
}

export interface RehearsalCutoverDeps {
  readonly deps: LocalCutoverDeps;
  readonly state: LocalCutoverDeps['state'];
}

export function createCutoverDeps(options: {
  readonly sourceUrl: string;
  readonly targetUrl: string;
  readonly tables: TableSelection;
  readonly replication: ReplicationPort;
  readonly traffic: MemoryTrafficSwitch;
  /** The application's read endpoint, when its reads have a switch of their own (read-first). */
  readonly readTraffic?: MemoryTrafficSwitch;
  readonly onNotice?: (subject: string, message: string) => void;
  /** Rows per validation range (Map item). @default engine default */
  readonly rowsPerRange?: number;
}): RehearsalCutoverDeps {
  const deps = createLocalCutoverDeps({
    sourceUrl: options.sourceUrl,
    targetUrl: options.targetUrl,
    tables: options.tables,
    replication: options.replication,
    traffic: options.traffic,
    // A read switch, as the construct's `readTrafficSwitch` declares one (switch-reads / revert-reads need it).
    ...(options.readTraffic ? { readTraffic: options.readTraffic, defaults: { readTrafficSwitch: true } } : {}),
    onNotice: (n) => options.onNotice?.(n.subject, n.message),
    ...(options.rowsPerRange ? { rowsPerRange: options.rowsPerRange } : {}),
  });
  return { deps, state: deps.state };
}

/** The real step handler, remembering the validated input it sees (to find the state record afterwards). */
export function createStepHandlerFor(
  deps: LocalCutoverDeps,
  onInput?: (input: CutoverInput) => void,
): (event: StepEvent) => Promise<unknown> {
  const handler = createStepHandler(deps);
  return async (event) => {
    if (event.step !== 'validateInput' && event.input && typeof event.input === 'object') onInput?.(event.input);
    return handler(event);
  };
}

export { stateKey };

export interface CutoverRunner {
  readonly definition: string;
  runCutover(options: RunCutoverOptions): Promise<CutoverRunResult>;
}

let definition: Promise<string> | undefined;

/**
 * Synthesizes the state machine of the real CutoverWorkflow construct (once per process: a CDK synth takes a few
 * seconds) and pairs it with the local runner.
 */
export async function loadCutoverRunner(): Promise<CutoverRunner> {
  definition ??= synthesizeCutoverDefinition();
  definition.catch(() => (definition = undefined));
  return { definition: await definition, runCutover };
}
