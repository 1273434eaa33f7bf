/** Every preflight check, in report order. One rule per file; the file name is the finding code. */
import type { PreflightCheck } from '../types';
import { applicationRoles } from './application-roles';
import { arrayWithoutKey } from './array-without-key';
import { generatedColumn } from './generated-column';
import { lobOverMaxSize } from './lob-over-max-size';
import { longTransaction } from './long-transaction';
import { maxSlotWalKeepSize } from './max-slot-wal-keep-size';
import { noPrimaryKey } from './no-primary-key';
import { noTables } from './no-tables';
import { partitionSelected } from './partition-selected';
import { partitionedTable } from './partitioned-table';
import { preparedTransaction } from './prepared-transaction';
import { replicationSlotRetainsWal } from './replication-slot-retains-wal';
import { replicationSlots } from './replication-slots';
import { reverseTargetPrivileges } from './reverse-target-privileges';
import { sequenceColumnUnindexed } from './sequence-column-unindexed';
import { serverVersion } from './server-version';
import { targetLogicalDecoding } from './target-logical-decoding';
import { targetReplicationSlots } from './target-replication-slots';
import { unfrozenWriters } from './unfrozen-writers';
import { unsupportedType } from './unsupported-type';
import { walLevel } from './wal-level';
import { wayBackUnguarded } from './way-back-unguarded';
import { walSenderTimeout } from './wal-sender-timeout';
import { walSenders } from './wal-senders';
import { writesOutsideWayBack } from './writes-outside-way-back';

/** Checks of the source, in report order. */
export const SOURCE_CHECKS: readonly PreflightCheck[] = [
  serverVersion,
  walLevel,
  replicationSlots,
  walSenders,
  walSenderTimeout,
  maxSlotWalKeepSize,
  longTransaction,
  preparedTransaction,
  replicationSlotRetainsWal,
  applicationRoles,
  noTables,
  unfrozenWriters,
  partitionSelected,
  noPrimaryKey,
  partitionedTable,
  generatedColumn,
  unsupportedType,
  arrayWithoutKey,
  sequenceColumnUnindexed,
  reverseTargetPrivileges,
  wayBackUnguarded,
  lobOverMaxSize,
];

/** Checks of the target (run when `target` is given). */
export const TARGET_CHECKS: readonly PreflightCheck[] = [
  targetLogicalDecoding,
  targetReplicationSlots,
  writesOutsideWayBack,
];

export const ALL_CHECKS: readonly PreflightCheck[] = [...SOURCE_CHECKS, ...TARGET_CHECKS];

export {
  applicationRoles,
  arrayWithoutKey,
  generatedColumn,
  longTransaction,
  maxSlotWalKeepSize,
  noPrimaryKey,
  noTables,
  partitionSelected,
  partitionedTable,
  preparedTransaction,
  replicationSlotRetainsWal,
  replicationSlots,
  reverseTargetPrivileges,
  sequenceColumnUnindexed,
  serverVersion,
  targetLogicalDecoding,
  targetReplicationSlots,
  unfrozenWriters,
  unsupportedType,
  walLevel,
  walSenderTimeout,
  walSenders,
  wayBackUnguarded,
  writesOutsideWayBack,
};
