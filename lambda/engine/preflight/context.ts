import type { Pool } from 'pg';
import { readCatalog, type Catalog } from '../catalog';
import type { PreflightFinding, Severity } from '../validation/types';
import type { TableSelection } from '../../../contract';
import type { PreflightCheck, PreflightContext, PreflightRunOptions, PreflightSide, ServerSettings } from './types';

function memo<T>(read: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= read());
}

/** Reads the settings every server-level check needs, in one round trip. */
export async function readServerSettings(db: Pool): Promise<ServerSettings> {
  const { rows } = await db.query<{
    version: string;
    version_num: number;
    wal_level: string;
    rds_logical: string | null;
    max_slots: number;
    used_slots: number;
    max_senders: number;
    used_senders: number;
    wal_sender_timeout: string;
    wal_sender_timeout_ms: number;
    keep_mb: number;
  }>(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS version_num,
            current_setting('wal_level') AS wal_level,
            current_setting('rds.logical_replication', true) AS rds_logical,
            current_setting('max_replication_slots')::int AS max_slots,
            (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
            current_setting('max_wal_senders')::int AS max_senders,
            (SELECT count(*) FROM pg_stat_replication)::int AS used_senders,
            current_setting('wal_sender_timeout') AS wal_sender_timeout,
            (SELECT setting::int FROM pg_settings WHERE name = 'wal_sender_timeout') AS wal_sender_timeout_ms,
            coalesce((SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'), '-1')::float8 AS keep_mb`,
  );
  const s = rows[0];
  return {
    version: s.version,
    versionNum: s.version_num,
    walLevel: s.wal_level,
    rdsLogicalReplication: s.rds_logical || null,
    maxReplicationSlots: s.max_slots,
    usedReplicationSlots: s.used_slots,
    maxWalSenders: s.max_senders,
    usedWalSenders: s.used_senders,
    walSenderTimeout: s.wal_sender_timeout,
    walSenderTimeoutMs: s.wal_sender_timeout_ms,
    maxSlotWalKeepSizeMb: s.keep_mb,
  };
}

export function createPreflightContext(
  side: PreflightSide,
  db: Pool,
  selection: TableSelection,
  options: PreflightRunOptions = {},
): PreflightContext {
  return {
    side,
    db,
    selection,
    options,
    settings: memo(() => readServerSettings(db)),
    catalog: memo((): Promise<Catalog> => readCatalog(db, selection)),
  };
}

/** A finding of `check` (its code, severity and fix unless given). */
export function finding(
  check: Pick<PreflightCheck, 'code' | 'severity' | 'fix'>,
  object: string,
  message: string,
  overrides: { readonly severity?: Severity; readonly action?: string } = {},
): PreflightFinding {
  return {
    severity: overrides.severity ?? check.severity,
    code: check.code,
    object,
    message,
    action: overrides.action ?? check.fix,
  };
}

/** A whole non-negative number option, or its default. */
export function count(value: number | undefined, fallback: number): number {
  return value === undefined || !Number.isFinite(value) || value < 0 ? fallback : Math.floor(value);
}
