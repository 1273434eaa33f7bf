/**
 * The rehearsal's seams onto the engine: the in-memory traffic switch, the local cutover dependencies, the real
 * step handler and the state machine the construct synthesizes, run by aws-local-stepfunctions.
 */
import './local/polyfills';
import type { CutoverInput, StepEvent, TableSelection } from '../contract';
import {
  createStepHandler,
  MemoryTrafficSwitch,
  type ReplicationPort,
  type ReverseReplicationPort,
  stateKey,
} from '../lambda/engine';
import {
  createLocalCutoverDeps,
  type LocalCutoverDeps,
  type LocalCutoverDepsOptions,
} from './local/local-cutover-deps';
import {
  runCutover,
  synthesizeCutoverMachine,
  synthesizeWayBackDefinitions,
  type CutoverRunResult,
  type RunCutoverOptions,
} from './local/run-state-machine';
import type { TemplateFunctions } from './local/template-functions';

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
  /**
   * The way back (fallback scenarios): the reverse replication, and the endpoints the cutover and the fallback point
   * the application at (the target's and the source's).
   */
  readonly wayBack?: {
    readonly reverse: ReverseReplicationPort;
    readonly switchTrafficTo: string;
    readonly fallbackTrafficTo: string;
  };
}): RehearsalCutoverDeps {
  const defaults: NonNullable<LocalCutoverDepsOptions['defaults']> = {
    // A read switch, as the construct's `readTrafficSwitch` declares one (switch-reads / revert-reads need it).
    ...(options.readTraffic ? { readTrafficSwitch: true } : {}),
    ...(options.wayBack
      ? { switchTrafficTo: options.wayBack.switchTrafficTo, fallbackTrafficTo: options.wayBack.fallbackTrafficTo }
      : {}),
  };
  const deps = createLocalCutoverDeps({
    sourceUrl: options.sourceUrl,
    targetUrl: options.targetUrl,
    tables: options.tables,
    replication: options.replication,
    traffic: options.traffic,
    ...(options.readTraffic ? { readTraffic: options.readTraffic } : {}),
    ...(options.wayBack ? { reverse: options.wayBack.reverse } : {}),
    ...(Object.keys(defaults).length ? { defaults } : {}),
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
  /** The cutover machine (with the way back: PrepareReverse / ArmReverse / StartReverse). */
  readonly definition: string;
  /** The fallback machine (fallback scenarios only). */
  readonly fallbackDefinition?: string;
  runCutover(options: RunCutoverOptions): Promise<CutoverRunResult>;
}

interface Definitions {
  readonly definition: string;
  readonly fallbackDefinition?: string;
  /** The template's functions: each step runs only as its function could run it in AWS. */
  readonly functions: TemplateFunctions;
}

const definitions: { plain?: Promise<Definitions>; wayBack?: Promise<Definitions> } = {};

/**
 * Synthesizes the state machine of the real CutoverWorkflow construct (once per process: a CDK synth takes a few
 * seconds) and pairs it with the local runner. `wayBack`: the construct with a reverse replication — its cutover
 * machine (which arms the way back) and its fallback machine, from one synth.
 */
export async function loadCutoverRunner(wayBack = false): Promise<CutoverRunner> {
  const kind = wayBack ? 'wayBack' : 'plain';
  let pending = definitions[kind];
  if (!pending) {
    pending = wayBack
      ? synthesizeWayBackDefinitions().then((d) => ({
          definition: d.forward,
          fallbackDefinition: d.fallback,
          functions: d.functions,
        }))
      : synthesizeCutoverMachine().then((d) => ({ definition: d.forward, functions: d.functions }));
    definitions[kind] = pending;
    pending.catch(() => {
      if (definitions[kind] === pending) delete definitions[kind];
    });
  }
  const loaded = await pending;
  return {
    definition: loaded.definition,
    ...(loaded.fallbackDefinition ? { fallbackDefinition: loaded.fallbackDefinition } : {}),
    // Each step first checked the way its function would run it in AWS (its own ALLOWED_STEPS and environment).
    runCutover: (options) => runCutover({ functions: loaded.functions, ...options }),
  };
}
