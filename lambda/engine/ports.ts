/**
 * The ports the cutover engine talks through. Production adapters use AWS (DMS, CloudWatch, DynamoDB, SNS,
 * SSM / Secrets Manager / Route 53); the rehearsal and tests use native PostgreSQL logical replication and
 * local stores. Handlers never know which one they have.
 */
import type { ConfirmedTable, PendingState } from './tracking/types';
import type { SchemaDifference } from './validation/types';

/** Replication engine state, normalised across DMS and native logical replication. */
export type ReplicationState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' | 'unknown';

export interface ReplicationStatus {
  readonly state: ReplicationState;
  /** True once the initial copy (DMS full load, native table sync) has finished for every table. */
  readonly fullLoadComplete: boolean;
  /** Current replication lag in seconds, or null when the engine cannot tell yet. */
  readonly lagSeconds: number | null;
  /** Free-form detail for notices and the state store (DMS status, stop reason, ...). */
  readonly detail?: string;
}

/** How the engine carries large values: DMS limited LOB mode fails its task on a LOB-typed value over `lobMaxSizeKiB`. */
export interface LobSettings {
  readonly fullLobMode: boolean;
  /** `LobMaxSize` (KiB) of limited LOB mode. */
  readonly lobMaxSizeKiB: number;
}

export interface ReplicationPort {
  /** A short human name: "AWS DMS task arn:...", "native logical replication subscription zdm_sub". */
  readonly description: string;
  status(): Promise<ReplicationStatus>;
  /**
   * The engine's limit on large values, as deployed (DMS: the task's `TargetMetadata`); undefined when it has none or
   * cannot tell (native logical replication carries any value). @default - none
   */
  lobSettings?(): Promise<LobSettings | undefined>;
  /** Asks the engine to stop applying changes. Idempotent: a stopped engine is left as it is. */
  stop(): Promise<void>;
  /**
   * The initial copy's progress, overall and per table (DMS: the task's statistics and DescribeTableStatistics), for
   * the progress digest. @default - not known (the digest says "unknown")
   */
  progress?(): Promise<ReplicationProgress>;
}

/** One table's initial copy, as the engine reports it. */
export interface TableLoadProgress {
  readonly schema: string;
  readonly table: string;
  /** The engine's own words: DMS `Table completed`, `Full load`, `Before load`, `Table error`... */
  readonly state: string;
  /** Rows copied so far. */
  readonly rows: number;
  /** Rows the engine failed to copy (DMS FullLoadErrorRows). */
  readonly errorRows: number;
}

/** The initial copy's progress. */
export interface ReplicationProgress {
  /** 0-100. */
  readonly fullLoadPercent: number;
  readonly fullLoadComplete: boolean;
  /** When the initial copy started. @default - not known */
  readonly fullLoadStartedAt?: Date;
  readonly tables: readonly TableLoadProgress[];
}

/** The cutover steps' own metrics (contract/metrics.ts), read back (CloudWatch in production). */
export interface CutoverMetricsReader {
  /** The latest verification backlog (changed keys awaiting re-verification) of each migration reporting one lately. */
  verificationBacklog(): Promise<ReadonlyArray<{ readonly migrationId: string; readonly keys: number }>>;
}

/**
 * The replication target → source, the way back after the switch. Its slot on the target is created by the cutover
 * just before the freeze; inside the freeze the cutover records the target's position (from there on every change
 * is the application's), and once forward replication has stopped the slot is advanced to that position and the
 * replication started from it: DMS (a CDC-only task, `CdcStartPosition`), or native logical replication (a
 * subscription on the source with `copy_data = false, origin = none`).
 */
export interface ReverseReplicationPort extends ReplicationPort {
  /** The logical slot on the target the engine reads. */
  readonly slotName: string;
  /** Its output plugin (`test_decoding` for DMS, `pgoutput` natively). */
  readonly slotPlugin: string;
  /** Whatever the target needs before the slot is created (native: the publication). Idempotent. @default none */
  prepare?(): Promise<void>;
  /** Starts applying the target's changes on the source from `fromLsn` (the slot's position). Idempotent. */
  start(fromLsn: string): Promise<void>;
}

import type { PhaseName } from '../../contract';

export { PHASES, type PhaseName } from '../../contract';

export type PhaseStatus = 'running' | 'succeeded' | 'failed' | 'skipped';

export interface PhaseRecord {
  readonly status: PhaseStatus;
  readonly startedAt: string;
  readonly endedAt?: string;
  /** Small JSON summary (counts, first few keys), never megabytes. */
  readonly summary?: Record<string, unknown>;
  readonly error?: string;
}

/** What the freeze changed on the source, saved before the change so rollback restores exactly that. */
export interface SavedRoleSettings {
  readonly role: string;
  readonly canLogin: boolean;
  readonly connectionLimit: number;
}

export interface FreezeRecord {
  readonly roles: readonly SavedRoleSettings[];
  readonly frozenAt: string;
  /** Set when rollback restored the roles. */
  readonly restoredAt?: string;
}

/** The point after which the workflow never rolls back by itself: a fact, recorded when it happened. */
export interface PointOfNoReturn {
  readonly at: string;
  /** What happened: `traffic-switched` (the application now writes to the target) or `handed-over` (no switch configured). */
  readonly what: 'traffic-switched' | 'handed-over';
}

/** One side's change-tracking slot. */
export interface TrackingSide {
  readonly slot: string;
  readonly publication: string;
  /** Where tracking started (the slot's consistent point). */
  readonly startLsn: string;
}

/** Change-tracked verification state: the slots, keys still in flight and confirmed differences. */
export interface TrackingRecord {
  readonly source: TrackingSide;
  readonly target: TrackingSide;
  /** Keys still differing (maybe in flight), and tables flagged for a range re-verification (TRUNCATE, too many keys). */
  readonly pending: PendingState;
  readonly confirmed: ConfirmedTable[];
  /** Keys re-verified so far, and tracked changes read. */
  readonly keysVerified: number;
  readonly changesRead: number;
  /** The final-sync marker's position on the source (the change proof reads up to it). */
  readonly markerLsn?: string;
  /** Set when the slots were dropped. */
  readonly droppedAt?: string;
  /**
   * The selected tables' catalog signatures last seen on each side, and the blocking schema differences found when
   * they last changed (see cutover/schema-watch.ts).
   */
  readonly schema?: {
    readonly source: string;
    readonly target: string;
    readonly differences: readonly SchemaDifference[];
    /** When (ms since the epoch) the differences were first seen. */
    readonly since?: number;
  };
}

/**
 * Where the read path pointed before the read switch and where it points now. Kept on its own record
 * (readSwitchKey) because a `switch-reads` execution, the later write cutover and `revert-reads` all share it.
 */
export interface ReadSwitchRecord {
  /** The read switch (its description). */
  readonly target: string;
  /** What it pointed at before the first switch (null: it was unset). */
  readonly from: string | null;
  readonly to: string;
  readonly switchedAt: string;
  /** State key of the execution that switched. */
  readonly switchedBy: string;
  /** Set when the reads were pointed back at `from`. */
  readonly revertedAt?: string;
  readonly revertedBy?: string;
}

/**
 * The way back, on the cutover's record: the reverse slot (created just before the freeze), the position armed inside
 * the freeze, and when replication started.
 */
export interface ReverseRecord {
  readonly slot: string;
  /** Where the slot was created (PrepareReverse, before the freeze; or ArmReverse when nothing prepared it). */
  readonly createdLsn?: string;
  readonly preparedAt?: string;
  /**
   * The target's WAL position inside the freeze, before the switch: from there on every change on the target is the
   * application's. The slot is advanced to it and the reverse replication starts there (`CdcStartPosition`).
   * Absent until ArmReverse.
   */
  readonly lsn?: string;
  readonly armedAt?: string;
  readonly startedAt?: string;
  /** Set when the way back was closed (reverse replication stopped, slot dropped). */
  readonly endedAt?: string;
  readonly endedBy?: string;
}

export type MigrationStatus = 'running' | 'succeeded' | 'failed' | 'rolled-back';

export interface MigrationRecord {
  readonly migrationId: string;
  readonly mode: 'dry-run' | 'execute';
  readonly status: MigrationStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly phases: Partial<Record<PhaseName, PhaseRecord>>;
  readonly freeze?: FreezeRecord;
  /** Marker token written on the source during final sync (so a resumed run waits for the same one). */
  readonly markerToken?: string;
  readonly error?: string;
  readonly pointOfNoReturn?: PointOfNoReturn;
  readonly tracking?: TrackingRecord;
  /** Only on the read-switch record (readSwitchKey). */
  readonly readSwitch?: ReadSwitchRecord;
  /** Only on an executed cutover's record: the way back. */
  readonly reverse?: ReverseRecord;
}

/** Durable state of every migration, keyed by migrationId (DynamoDB in production). */
export interface StateStore {
  get(migrationId: string): Promise<MigrationRecord | undefined>;
  /** Creates the record if it does not exist; returns the stored record either way. */
  ensure(migrationId: string, mode: MigrationRecord['mode'], now: string): Promise<MigrationRecord>;
  /**
   * Replaces a rolled-back record with a new one (a fallback rolled back before its switch starts over). Returns the
   * stored record: unchanged when it was not rolled back.
   */
  restart(migrationId: string, mode: MigrationRecord['mode'], now: string): Promise<MigrationRecord>;
  putPhase(migrationId: string, phase: PhaseName, record: PhaseRecord): Promise<void>;
  /** Saves freeze state only if none is saved yet (a resumed run must not overwrite the original settings). */
  saveFreezeIfAbsent(migrationId: string, freeze: FreezeRecord): Promise<FreezeRecord>;
  markFreezeRestored(migrationId: string, restoredAt: string): Promise<void>;
  setMarkerTokenIfAbsent(migrationId: string, token: string): Promise<string>;
  setStatus(migrationId: string, status: MigrationStatus, now: string, error?: string): Promise<void>;
  /** Records the point of no return once; returns the stored one. */
  setPointOfNoReturnIfAbsent(migrationId: string, point: PointOfNoReturn): Promise<PointOfNoReturn>;
  /** Replaces the change-tracking state. */
  putTracking(migrationId: string, tracking: TrackingRecord): Promise<void>;
  /** Replaces the read-switch state. */
  putReadSwitch(migrationId: string, readSwitch: ReadSwitchRecord): Promise<void>;
  /** Replaces the way-back state. */
  putReverse(migrationId: string, reverse: ReverseRecord): Promise<void>;
}

/** Operator notices (SNS in production). */
export interface Notifier {
  notify(subject: string, message: string, attributes?: Record<string, string>): Promise<void>;
}

/**
 * Turns alarm actions off while replication is stopped on purpose (CloudWatch in production). Nothing turns them
 * back on: after the stop the operator finishes forward or falls back by hand (see reportFailureAfterSwitch).
 */
export interface AlarmControl {
  disable(): Promise<void>;
  /** Turns the actions back on (the reverse lag alarms, when the reverse replication starts). */
  enable(): Promise<void>;
}

/** Where the application reads its database endpoint from (SSM parameter, secret, DNS record, or local). */
export interface TrafficSwitch {
  readonly description: string;
  current(): Promise<string | undefined>;
  /** Points the application at `endpoint`. Idempotent. */
  switchTo(endpoint: string): Promise<void>;
}
