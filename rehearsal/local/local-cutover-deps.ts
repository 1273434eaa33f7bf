import {
  type ConnectionSpec,
  type CutoverDeps,
  MemoryStateStore,
  type ReplicationPort,
  type ReverseReplicationPort,
  type TrafficSwitch,
} from '../../lambda/engine';
import type { TableSelection } from '../../contract';
import { ConsoleNotifier, type Notice } from './console-notifier';
import { RecordingAlarmControl } from './recording-alarm-control';

export interface LocalCutoverDepsOptions {
  readonly sourceUrl: ConnectionSpec;
  readonly targetUrl: ConnectionSpec;
  readonly tables: TableSelection;
  /** E.g. `new NativeLogicalReplication({ source, target, subscription })`. */
  readonly replication: ReplicationPort;
  /** @default - no traffic switch (the phase is skipped) */
  readonly traffic?: TrafficSwitch;
  /** The way back (e.g. `new NativeReverseReplication(...)`). @default - none */
  readonly reverse?: ReverseReplicationPort;
  /** @default - no read traffic switch (the read-switch phases are skipped) */
  readonly readTraffic?: TrafficSwitch;
  /** Receives every notice as it is sent. */
  readonly onNotice?: (notice: Notice) => void;
  readonly defaults?: CutoverDeps['defaults'];
  /** Persist the state store to this JSON file (a later process can resume). @default - memory only */
  readonly stateFile?: string;
  readonly now?: () => Date;
  readonly rowsPerRange?: number;
}

/** CutoverDeps plus handles on the local adapters, for assertions and reports. */
export interface LocalCutoverDeps extends CutoverDeps {
  readonly state: MemoryStateStore;
  readonly notifier: ConsoleNotifier;
  readonly alarms: RecordingAlarmControl;
  /** The reverse replication's lag alarms: muted until it starts. */
  readonly reverseAlarms: RecordingAlarmControl;
}

/** Cutover dependencies for the rehearsal and tests: memory state, collected notices, recorded alarm calls. */
export function createLocalCutoverDeps(options: LocalCutoverDepsOptions): LocalCutoverDeps {
  return {
    source: async () => options.sourceUrl,
    target: async () => options.targetUrl,
    tables: options.tables,
    replication: options.replication,
    state: new MemoryStateStore(options.stateFile),
    notifier: new ConsoleNotifier(options.onNotice),
    alarms: new RecordingAlarmControl(),
    reverseAlarms: new RecordingAlarmControl(false),
    ...(options.traffic ? { traffic: options.traffic } : {}),
    ...(options.readTraffic ? { readTraffic: options.readTraffic } : {}),
    ...(options.reverse ? { reverse: options.reverse } : {}),
    ...(options.defaults ? { defaults: options.defaults } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.rowsPerRange ? { rowsPerRange: options.rowsPerRange } : {}),
  };
}

export { ConsoleNotifier, MemoryStateStore, RecordingAlarmControl };
export type { Notice };
