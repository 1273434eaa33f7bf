/**
 * Source readiness for DMS full-load-and-cdc, like DMS premigration assessments: settings, capacity for one more
 * replication slot and WAL sender, open transactions, and per-table findings (keys, column types DMS handles
 * poorly, partitioned tables, generated columns).
 */
import type { Pool } from 'pg';
import { readCatalog } from './catalog';
import type { TableSelection } from '../../contract';
import type { PreflightFinding, PreflightOptions, PreflightReport } from './validation/types';

/** Types DMS migrates as text or with known problems for PostgreSQL → PostgreSQL. */
const TRICKY_BUILTIN: Record<string, string> = {
  inet: 'network address',
  cidr: 'network address',
  macaddr: 'MAC address',
  macaddr8: 'MAC address',
  tsvector: 'text search vector',
  tsquery: 'text search query',
  money: 'money (locale-dependent)',
  xml: 'XML',
  point: 'geometric',
  line: 'geometric',
  lseg: 'geometric',
  box: 'geometric',
  path: 'geometric',
  polygon: 'geometric',
  circle: 'geometric',
  bit: 'bit string',
  varbit: 'bit string',
  pg_lsn: 'LSN',
  txid_snapshot: 'snapshot',
  pg_snapshot: 'snapshot',
};
const KIND_LABEL: Record<string, string> = { e: 'enum', r: 'range', m: 'multirange', c: 'composite', d: 'domain' };

export async function preflight(
  source: Pool,
  selection: TableSelection,
  options: PreflightOptions = {},
): Promise<PreflightReport> {
  const findings: PreflightFinding[] = [];
  const add = (f: PreflightFinding): void => void findings.push(f);
  const s = (
    await source.query<Record<string, string>>(
      `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS version_num,
              current_setting('wal_level') AS wal_level,
              current_setting('max_replication_slots') AS max_slots,
              (SELECT count(*) FROM pg_replication_slots)::text AS used_slots,
              current_setting('max_wal_senders') AS max_senders,
              (SELECT count(*) FROM pg_stat_replication)::text AS used_senders,
              current_setting('wal_sender_timeout') AS wal_sender_timeout,
              (SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout') AS wal_sender_timeout_ms,
              coalesce((SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'), '-1') AS keep_mb`,
    )
  ).rows[0];
  if (Number(s.version_num) < 120000) {
    add({
      severity: 'error',
      code: 'server-version',
      object: 'server_version',
      message: `PostgreSQL ${s.version} is older than 12`,
      action: 'Upgrade the source to PostgreSQL 12 or later before migrating.',
    });
  }
  if (s.wal_level !== 'logical') {
    add({
      severity: 'error',
      code: 'wal-level',
      object: 'wal_level',
      message: `wal_level is ${s.wal_level}; change data capture needs logical`,
      action: 'Set wal_level = logical (on RDS: rds.logical_replication = 1) and restart the server.',
    });
  }
  if (Number(s.max_slots) - Number(s.used_slots) < 1) {
    add({
      severity: 'error',
      code: 'replication-slots',
      object: 'max_replication_slots',
      message: `no free replication slot (${s.used_slots} of ${s.max_slots} in use)`,
      action: 'Raise max_replication_slots (restart needed) or drop an unused slot.',
    });
  }
  if (Number(s.max_senders) - Number(s.used_senders) < 1) {
    add({
      severity: 'error',
      code: 'wal-senders',
      object: 'max_wal_senders',
      message: `no free WAL sender (${s.used_senders} of ${s.max_senders} in use)`,
      action: 'Raise max_wal_senders (restart needed).',
    });
  }
  const timeoutMs = Number(s.wal_sender_timeout_ms);
  if (timeoutMs !== 0 && timeoutMs < 10_000) {
    add({
      severity: 'error',
      code: 'wal-sender-timeout',
      object: 'wal_sender_timeout',
      message: `wal_sender_timeout is ${s.wal_sender_timeout}; DMS needs 0 or at least 10s`,
      action: 'Set wal_sender_timeout to 0 or at least 10000 (ms) and reload.',
    });
  }
  const keepMb = Number(s.keep_mb);
  if (keepMb >= 0 && keepMb < 10 * 1024) {
    add({
      severity: 'warning',
      code: 'max-slot-wal-keep-size',
      object: 'max_slot_wal_keep_size',
      message: `max_slot_wal_keep_size is ${keepMb} MB: a slot that falls further behind is invalidated and the task must reload`,
      action: 'Raise max_slot_wal_keep_size (or -1) for the migration, and watch free disk space instead.',
    });
  }

  const longSeconds = options.longTransactionSeconds ?? 300;
  const long = await source.query<{ pid: number; age: number; state: string; app: string }>(
    `SELECT pid, extract(epoch FROM now() - xact_start)::int AS age, state, application_name AS app
       FROM pg_stat_activity
      WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        AND now() - xact_start > make_interval(secs => $1)`,
    [longSeconds],
  );
  for (const t of long.rows) {
    add({
      severity: 'warning',
      code: 'long-transaction',
      object: `pid ${t.pid}`,
      message: `transaction open for ${t.age}s (${t.state}${t.app ? `, ${t.app}` : ''}): it delays the initial snapshot and inflates CDC latency`,
      action: 'Let it finish or end it before starting the task.',
    });
  }
  const prepared = await source.query<{ gid: string; age: number }>(
    `SELECT gid, extract(epoch FROM now() - prepared)::int AS age FROM pg_prepared_xacts`,
  );
  for (const p of prepared.rows) {
    add({
      severity: 'warning',
      code: 'prepared-transaction',
      object: `prepared transaction ${p.gid}`,
      message: `prepared transaction open for ${p.age}s holds back WAL and the xmin horizon`,
      action: 'COMMIT PREPARED or ROLLBACK PREPARED it.',
    });
  }
  const retainBytes = options.slotRetainedWalBytes ?? 1024 ** 3;
  const slots = await source.query<{ slot_name: string; active: boolean; retained: string | null }>(
    `SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained
       FROM pg_replication_slots`,
  );
  for (const sl of slots.rows) {
    const retained = Number(sl.retained ?? 0);
    if (retained > retainBytes || !sl.active) {
      add({
        severity: 'warning',
        code: 'replication-slot-retains-wal',
        object: `slot ${sl.slot_name}`,
        message: `${sl.active ? 'active' : 'inactive'} slot retains ${(retained / 1024 ** 2).toFixed(0)} MB of WAL`,
        action:
          'Drop the slot if nothing uses it (SELECT pg_drop_replication_slot(...)); otherwise make its consumer catch up.',
      });
    }
  }

  const catalog = await readCatalog(source, selection);
  if (catalog.tables.length === 0) {
    add({
      severity: 'error',
      code: 'no-tables',
      object: 'selection',
      message: 'the table selection matches no table on the source',
      action: 'Check the include/exclude rules (names are case-sensitive; % is the wildcard).',
    });
  }
  for (const t of catalog.tables) {
    if (t.keySource !== 'primary-key') {
      const full = t.replicaIdentity === 'f';
      const accepted = full && options.allowReplicaIdentityFull;
      add({
        severity: accepted ? 'warning' : 'error',
        code: 'no-primary-key',
        object: t.display,
        message: accepted
          ? 'no primary key; REPLICA IDENTITY FULL accepted: updates and deletes replicate slowly'
          : `no primary key${full ? ' (REPLICA IDENTITY FULL needs the explicit opt-in)' : ''}: DMS ignores its UPDATEs and DELETEs and cannot validate it`,
        action: full
          ? 'Add a primary key, or opt in to REPLICA IDENTITY FULL (allowReplicaIdentityFull / --allow-replica-identity-full).'
          : 'Add a primary key (ALTER TABLE ... ADD PRIMARY KEY), or set REPLICA IDENTITY FULL and opt in.',
      });
    }
    if (t.kind === 'p') {
      add({
        severity: 'warning',
        code: 'partitioned-table',
        object: t.display,
        message: 'partitioned table: DMS replicates its partitions as separate tables',
        action:
          'Create the same partitioning on the target before the full load and include the partitions in the selection.',
      });
    }
    for (const c of t.columns) {
      const obj = `${t.display}.${c.name}`;
      if (c.generated) {
        add({
          severity: 'warning',
          code: 'generated-column',
          object: obj,
          message: 'generated column: DMS tries to write it and the load fails on the target',
          action:
            'Define it as generated on the target too and leave it out of the task (transformation rule remove-column).',
        });
      }
      const kind = c.typeKind;
      const elemKind = c.elementTypeKind;
      const label =
        KIND_LABEL[kind] ??
        (elemKind ? KIND_LABEL[elemKind] : undefined) ??
        (c.builtinType
          ? (TRICKY_BUILTIN[c.typeName] ?? (c.elementTypeName ? TRICKY_BUILTIN[c.elementTypeName] : undefined))
          : 'user-defined');
      if (label) {
        add({
          severity: 'warning',
          code: 'unsupported-type',
          object: obj,
          message: `column type ${c.type} (${label}${c.typeCategory === 'A' ? ' array' : ''}) is migrated by DMS as text or not at all`,
          action:
            'Create the target table with the same type before the full load (DMS in do-nothing mode) and validate this column.',
        });
      }
      if (c.typeCategory === 'A' && t.keySource !== 'primary-key') {
        add({
          severity: 'warning',
          code: 'array-without-key',
          object: obj,
          message: 'array column in a table without a primary key: DMS cannot apply its changes',
          action: 'Add a primary key.',
        });
      }
    }
  }
  return {
    ok: !findings.some((f) => f.severity === 'error'),
    serverVersion: s.version,
    tablesChecked: catalog.tables.length,
    findings,
  };
}
