import type { CutoverDefaults, CutoverDependency } from '../../../contract';
import type { ConnectionSpec } from '../pg/connection';
import type {
  AlarmControl,
  CutoverMetricsReader,
  Notifier,
  ReplicationPort,
  ReverseReplicationPort,
  StateStore,
  TrafficSwitch,
} from '../ports';
import type { TableSelection } from '../../../contract';

/**
 * Everything a cutover step needs. The Lambda entry points build this from environment variables and AWS
 * SDK clients; the rehearsal and tests build it from local servers and in-memory adapters.
 */
export interface CutoverDeps {
  /** Source database (credentials resolved lazily: Secrets Manager in Lambda, cached). */
  readonly source: () => Promise<ConnectionSpec>;
  /** Target database. */
  readonly target: () => Promise<ConnectionSpec>;
  /** The one table selection (the marker table is added by the engine). */
  readonly tables: TableSelection;
  readonly replication: ReplicationPort;
  readonly state: StateStore;
  readonly notifier: Notifier;
  /** @default - no alarm actions are touched */
  readonly alarms?: AlarmControl;
  /** @default - no traffic switch; the switch-traffic phase is skipped */
  readonly traffic?: TrafficSwitch;
  /** @default - no reverse replication: no way back after the switch, no fallback */
  readonly reverse?: ReverseReplicationPort;
  /** The reverse replication's lag alarms (muted until it starts). @default - none are touched */
  readonly reverseAlarms?: AlarmControl;
  /** @default - no read traffic switch; reads move with the writes and the read-switch steps are skipped */
  readonly readTraffic?: TrafficSwitch;
  /** Defaults for execution input fields the operator leaves out, and the state machine's limits (from the construct). */
  readonly defaults?: CutoverDefaults;
  /** The cutover steps' metrics, read back (the progress digest's verification backlog). @default - not known */
  readonly cutoverMetrics?: CutoverMetricsReader;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Target rows per validation range. @default engine default */
  readonly rowsPerRange?: number;
  /**
   * How long one stopReplication invocation waits for the engine to report stopped before returning
   * `stopped: false` (the state machine waits and calls again). @default STOP_WAIT_MS (60 s)
   */
  readonly stopWaitMs?: number;
}

/** The contract's dependency names are exactly the fields of CutoverDeps (test-only knobs aside): checked here. */
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const DEPENDENCIES_MATCH: Exactly<Exclude<keyof CutoverDeps, 'now' | 'stopWaitMs'>, CutoverDependency> = true;
void DEPENDENCIES_MATCH;
