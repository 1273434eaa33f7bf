/**
 * The rehearsal's seams onto the engine: native logical replication (through the same ReplicationPort the DMS
 * adapter implements), the in-memory traffic switch, the local cutover dependencies, the real step handler and
 * the state machine the construct synthesizes, run by aws-local-stepfunctions.
 */
import './local/polyfills';
import type { CutoverInput, StepEvent, TableSelection } from '../contract';
import { createStepHandler, stateKey } from '../lambda/engine/cutover/steps';
import type { ReplicationPort } from '../lambda/engine/ports';
import { NativeLogicalReplication } from '../lambda/engine/replication/native-logical-replication';
import { MemoryTrafficSwitch } from '../lambda/engine/traffic/memory-traffic-switch';
import { createLocalCutoverDeps, type LocalCutoverDeps } from './local/local-cutover-deps';
import { setupNativeReplication, teardownNativeReplication } from './local/native-replication-setup';
import {
  runCutover,
  synthesizeCutoverDefinition,
  type CutoverRunResult,
  type RunCutoverOptions,
} from './local/run-state-machine';

export interface ReplicationHandle {
  readonly name: string;
  /** Replication as the workflow sees it. */
  readonly port: ReplicationPort;
  /** Closes the connections the port keeps. */
  close(): Promise<void>;
}

interface Endpoints {
  readonly sourceUrl: string;
  readonly targetUrl: string;
  /** Publication, subscription and slot name. */
  readonly name: string;
}

export const setUpReplication = {
  /** Publication on the source, subscription on the target (initial copy, then streaming). */
  async start(options: Endpoints & { readonly tables: TableSelection }): Promise<ReplicationHandle> {
    const setup = await setupNativeReplication({
      source: options.sourceUrl,
      target: options.targetUrl,
      tables: options.tables,
      name: options.name,
    });
    const port = new NativeLogicalReplication({
      source: options.sourceUrl,
      target: options.targetUrl,
      subscription: setup.subscription,
    });
    return { name: options.name, port, close: () => port.close() };
  },
  /** Drops the subscription, its slot(s) and the publication. Safe to call when nothing exists. */
  async teardown(options: Endpoints): Promise<void> {
    await teardownNativeReplication({ source: options.sourceUrl, target: options.targetUrl, name: options.name });
  },
};

export function createTrafficSwitch(initialEndpoint: string): MemoryTrafficSwitch {
  return new MemoryTrafficSwitch({ endpoint: initialEndpoint }, 'application endpoint (in memory)');
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
