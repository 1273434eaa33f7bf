/**
 * Writers in flight: after the application roles are frozen, a transaction that is already writing a selected table
 * (any role: a superuser's long UPDATE, a batch job) would commit after the final-sync marker, and its rows would
 * never reach the target. The freeze waits for such transactions to end, bounded, and otherwise rolls back naming
 * them. One query per look, whatever the schema's size: the server's lock table, filtered by lock mode.
 */
import type { ClientBase } from 'pg';
import { isSelected, type TableName, type TableSelection } from '../../../contract';
import { sleep } from '../helpers';
import { redactQuery } from '../pg/redact-query';

type Queryable = Pick<ClientBase, 'query'>;

export interface WriterInFlight {
  readonly pid: number;
  readonly role: string | null;
  readonly backendType: string;
  readonly state: string | null;
  /** Age of its transaction, ms (null: not in a transaction block). */
  readonly transactionAgeMs: number | null;
  /** Selected tables it holds a write lock on (`schema.table`; partitions under their root). */
  readonly tables: string[];
  /** What it runs, with literals blanked (they may hold data or secrets), bounded. */
  readonly query: string;
}

/**
 * Other sessions holding a write lock (ROW EXCLUSIVE or stronger) on a selected table of this database: never this
 * session, the workflow's own connections (`zdm-*` of the same user), WAL senders or replication workers.
 */
export async function writersInFlight(client: Queryable, selection: TableSelection): Promise<WriterInFlight[]> {
  const { rows } = await client.query<{
    pid: number;
    role: string | null;
    backend_type: string;
    state: string | null;
    age_ms: number | null;
    query: string | null;
    tables: TableName[];
  }>(
    `SELECT a.pid, r.rolname AS role, a.backend_type, a.state,
            (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8 AS age_ms, a.query,
            json_agg(DISTINCT jsonb_build_object('schema', n.nspname, 'table', c.relname)) AS tables
       FROM pg_locks l
       JOIN pg_stat_activity a ON a.pid = l.pid
       LEFT JOIN pg_roles r ON r.oid = a.usesysid
       JOIN pg_class c ON c.oid = coalesce(pg_partition_root(l.relation), l.relation)
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE l.locktype = 'relation'
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
        AND c.relkind IN ('r', 'p')
        AND l.pid <> pg_backend_pid()
        AND a.backend_type <> 'walsender' AND a.backend_type NOT LIKE 'logical replication%'
        AND NOT (a.usesysid = (SELECT oid FROM pg_roles WHERE rolname = session_user)
                 AND a.application_name LIKE 'zdm-%')
      GROUP BY a.pid, r.rolname, a.backend_type, a.state, a.xact_start, a.query
      ORDER BY a.pid`,
  );
  return rows.flatMap((w) => {
    const tables = w.tables.filter((t) => isSelected(selection, t)).map((t) => `${t.schema}.${t.table}`);
    if (tables.length === 0) return [];
    return [
      {
        pid: w.pid,
        role: w.role,
        backendType: w.backend_type,
        state: w.state,
        transactionAgeMs: w.age_ms === null ? null : Math.round(w.age_ms),
        tables: tables.slice(0, 10),
        query: redactQuery(w.query),
      },
    ];
  });
}

/** `pid 123 (role "batch", transaction 4.2 s old, idle in transaction) on public.orders: UPDATE …` */
export function describeWriter(w: WriterInFlight): string {
  const age =
    w.transactionAgeMs === null
      ? 'no transaction block'
      : `transaction ${(w.transactionAgeMs / 1000).toFixed(1)} s old`;
  return `pid ${w.pid} (role ${JSON.stringify(w.role ?? '?')}, ${age}, ${w.state ?? w.backendType}) on ${w.tables.join(', ')}${
    w.query ? `: ${w.query}` : ''
  }`;
}

/** Polls until no writer is in flight or `waitMs` passed; returns those left (empty when all ended). */
export async function waitForWritersInFlight(
  client: Queryable,
  selection: TableSelection,
  waitMs: number,
  pollMs = 20,
): Promise<{ left: WriterInFlight[]; waitedMs: number; seen: number }> {
  const started = Date.now();
  const seen = new Set<number>();
  for (;;) {
    const writers = await writersInFlight(client, selection);
    writers.forEach((w) => seen.add(w.pid));
    const waitedMs = Date.now() - started;
    if (writers.length === 0 || waitedMs >= waitMs) return { left: writers, waitedMs, seen: seen.size };
    await sleep(Math.min(pollMs, Math.max(1, waitMs - waitedMs)));
  }
}
