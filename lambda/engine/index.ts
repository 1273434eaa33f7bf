/**
 * The engine as the CLI (cli/) and the local rehearsal (rehearsal/) see it: the one module they import from
 * lambda/engine (a dependency-cruiser rule keeps it so). The Lambda handlers (lambda/handlers) use the engine's
 * modules directly; what is here is what a runner outside Lambda needs.
 */

// Connections and SQL text.
export { connect, createPool, redactSecrets, redactUrl, type ConnectionSpec } from './pg/connection';
export { qualify, quoteIdent, quoteLiteral } from './pg/identifiers';
export { publicationMembers } from './pg/publication';
export { sleep } from './helpers';

// Checks and validation (zdm preflight / validate / sequences / schema).
export { PARTITION_SELECTION_RULE, partitionSelectedMessage, preflight, selectedPartitions } from './preflight';
export { recheck, validate } from './validation';
export { readCatalog } from './catalog';
export type {
  ColumnRef,
  PreflightReport,
  Progress,
  RowDifference,
  RowFilter,
  TableValidation,
  SchemaDifference,
  SchemaReport,
  SequenceReport,
  ValidationReport,
} from './validation/types';
export { compareSequences, syncSequences } from './sequences';
export { diffSchema } from './schema';

// The cutover: its step handler, the dependencies it runs with, and what the rehearsal reads or prepares.
export { createStepHandler, type StepHandler } from './cutover/steps';
export type { CutoverDeps } from './cutover/deps';
export { closeSharedPools } from './cutover/connections';
export { depsFor } from './cutover/directions';
export { readSwitchKey, stateKey } from './cutover/state-keys';
export { trackingNames } from './cutover/change-tracking';
export { ensureMarkerTable, MARKER_TABLE_SQL } from './cutover/marker';
export { forgetFreezeRecord, restoreFromFreezeRecord } from './cutover/freeze-record';
export { restoreAfterAbort, type WatchdogReport } from './cutover/watchdog';
export { wayBackBreak } from './cutover/way-back';
export { readGuardedWrites, removeWayBackGuard, WAY_BACK_WRITES_SQL } from './cutover/way-back-guard';
export type {
  AlarmControl,
  MigrationRecord,
  Notifier,
  ReadSwitchRecord,
  ReplicationPort,
  ReplicationStatus,
  ReverseReplicationPort,
  TrafficSwitch,
} from './ports';

// Local adapters: in-memory state and traffic switch, native logical replication.
export { MemoryStateStore } from './state/memory-state-store';
export { MemoryTrafficSwitch } from './traffic/memory-traffic-switch';
export { NativeLogicalReplication, readSubscription } from './replication/native-logical-replication';
