/** JSON-serializable shapes of change tracking (they cross Lambda payloads and the state store). */
import type { TableName } from '../../../contract';
import type { DifferenceKind } from '../validation/types';

export interface TrackingSpec {
  /** Logical replication slot name: lower-case letters, digits and `_`, at most 63 characters. */
  readonly slot: string;
  /** The workflow's own publication of the tracked tables. */
  readonly publication: string;
}

export interface StartTrackingSpec extends TrackingSpec {
  /** Selected tables (plain and partitioned; a partitioned table's changes are reported under its own name). */
  readonly tables: readonly TableName[];
}

export interface TrackingStart {
  readonly slot: string;
  /** Where reading starts: the slot's consistent point when created, its confirmed position when it existed. */
  readonly lsn: string;
  readonly created: boolean;
}

export interface TrackingStop {
  readonly slot: 'dropped' | 'absent' | 'in-use';
  /** Kept while the slot is in use (its reader still needs it). */
  readonly publication: 'dropped' | 'absent' | 'kept';
  readonly message?: string;
}

/** The changed keys of one table. */
export interface TableChanges {
  readonly table: TableName;
  /** Key columns in key order (the validation engine's key: primary key, else first unique NOT NULL index). */
  readonly keyColumns: string[];
  /** Distinct keys inserted, updated (old and new key) or deleted, as text in key-column order. */
  readonly keys: string[][];
  /** Why the keys alone cannot cover the table's changes (verify it by ranges instead): truncated, cap, key unreadable. */
  readonly rangeCheck?: string;
}

export interface TrackedChanges {
  /** By display name (`schema.table`). */
  readonly keysByTable: Record<string, TableChanges>;
  /** Display names of the tables TRUNCATEd. */
  readonly truncated: string[];
  /** Row changes (inserts, updates, deletes) read. */
  readonly changes: number;
  /**
   * Where the slot may be advanced once these keys are verified or stored: the end of the last whole transaction
   * read or, when everything up to the read's bound (at most the flushed WAL) was read, that bound, so a slot over
   * idle tables still moves. Null when the read was cut short before a whole transaction.
   */
  readonly lastLsn: string | null;
  /**
   * More changes may be waiting before the bound: the read stopped at its change budget, or the requested bound is
   * not flushed yet (read again).
   */
  readonly more: boolean;
  /**
   * The catalog signature of the publication's tables, read at the start of the read (before any catalog data used),
   * and the tables (display names) it covers: pass it to `verifyKeys` for those tables to reuse their context.
   */
  readonly catalog: CatalogSignature;
}

/** See `catalog-signature.ts`. */
export interface CatalogSignature {
  readonly signature: string;
  /** Display names of the tables whose catalog entries the signature covers. */
  readonly tables: string[];
}

export type KeyStatus = 'equal' | DifferenceKind;

export interface KeyCheck {
  readonly key: string[];
  /** `equal` (same row hash, or absent on both sides), `missing`/`extra` on the target, or `changed`. */
  readonly status: KeyStatus;
}

export interface KeyVerification {
  readonly table: TableName;
  readonly display: string;
  readonly keyColumns: string[];
  readonly checked: KeyCheck[];
  /** The table could not be compared (missing, no key, columns differ): verify it as a whole. */
  readonly error?: string;
}

export interface PendingKey {
  readonly key: string[];
  readonly kind: DifferenceKind;
  /** When (ms since the epoch) the key was first seen differing. */
  readonly since: number;
  /**
   * Found by a validation (not by a tracked change): the row may never change again, so "in sync" waits until it is
   * re-verified equal, or confirmed different after the recheck delay.
   */
  readonly seeded?: boolean;
}

export interface PendingTable {
  readonly table: TableName;
  readonly keyColumns: string[];
  readonly keys: PendingKey[];
  /** Set when the table must be re-verified by ranges; its keys are then no longer kept. */
  readonly rangeCheck?: string;
  /**
   * When (ms since the epoch) a validation found this table differing without listing every key: the keys its range
   * check finds are seeded keys first seen then, and a table that still needs ranges after the recheck delay differs.
   */
  readonly seededSince?: number;
}

/** Keys that differed and are waiting for a recheck, by display name. Bounded in size. */
export interface PendingState {
  readonly tables: Record<string, PendingTable>;
}

export interface ConfirmedTable {
  readonly table: TableName;
  readonly display: string;
  readonly keyColumns: string[];
  /** Listed differences (at most the per-table cap). */
  readonly differences: PendingKey[];
  /** All confirmed differences, listed or not. */
  readonly count: number;
  /** Set when the keys are not listed (the table is re-verified by ranges): what its last range check found. */
  readonly reason?: string;
}
