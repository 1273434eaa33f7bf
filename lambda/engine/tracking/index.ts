/**
 * Continuous change-tracked verification: the workflow's own `pgoutput` slot on each side records which rows
 * changed, so only those rows are re-verified and the write freeze does not grow with the database.
 *
 * ```ts
 * startTracking(pool: Pool, spec: StartTrackingSpec): Promise<TrackingStart>
 * readChanges(pool: Pool, spec: TrackingSpec, options?: ReadChangesOptions): Promise<TrackedChanges>
 * advance(pool: Pool, slot: string, lsn: string): Promise<{ lsn: string; moved: boolean }>
 * logRestartPoint(pool: Pool): Promise<boolean>     (lets the slots' restart point follow the reads)
 * flushWal(pool: Pool): Promise<void>               (a read then sees every commit so far; or readChanges' flush)
 * catalogSignature(pool: Pool, publication: string): Promise<string>
 * stopTracking(pool: Pool, spec: TrackingSpec): Promise<TrackingStop>
 * verifyKeys(source: Pool, target: Pool, table: TableName, keys: string[][], options?): Promise<KeyVerification>
 *   (options.catalog: the signatures a read returned, to reuse the table's context while the catalogs are unchanged)
 * mergePending(previous, fresh: FreshChecks[], now: number, recheckDelayMs: number, limits?): { pending, confirmed }
 * (lag: the heartbeat in lambda/engine/cutover/marker.ts)
 * ```
 *
 * Loop: read (source up to the final-sync marker's LSN) → verifyKeys → mergePending → store the pending state →
 * advance. A step that dies before advancing reads the same changes again.
 */
export * from './types';
export { startTracking, stopTracking, advance, logRestartPoint, flushWal } from './tracking-slot';
export { catalogSignature } from './catalog-signature';
export { readChanges, type ReadChangesOptions } from './change-reader';
export { verifyKeys, type VerifyKeysOptions } from './verify-keys';
export { mergePending, EMPTY_PENDING, type FreshChecks, type PendingLimits } from './pending-keys';
export { decodePgOutput, UNCHANGED_TOAST, type PgOutputMessage, type TupleValue } from './pgoutput-decoder';
export { parseLsn, maxLsn } from './lsn';
