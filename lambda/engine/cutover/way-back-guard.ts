/**
 * The way back's guard: while the application is on Aurora, the old source must receive writes from the reverse
 * replication only. Any other write to a selected table there (a superuser's fix, a cron job, a forgotten writer) is
 * not on Aurora and would be lost by a fallback, or make the reverse replication stop at a conflict. The guard makes
 * each one known at once, with its table, key and writer.
 *
 * How: StartReverse puts an `AFTER INSERT OR UPDATE OR DELETE` row trigger (and an `AFTER TRUNCATE` one) on each
 * selected table of the old source, calling `zdm_cutover.way_back_write()`, which records the write in
 * `zdm_cutover.way_back_writes` in the writer's own transaction. Replication never fires it: an ordinary trigger fires
 * only in sessions with `session_replication_role = origin`, and both appliers run as `replica` — PostgreSQL's apply
 * workers always, the reverse DMS task through its target endpoint's `AfterConnectScript`
 * (`SET session_replication_role = 'replica'`, as the DMS PostgreSQL target documentation gives it). The function is
 * `SECURITY DEFINER` (its owner records the write; the writer needs no rights on `zdm_cutover`) with a fixed
 * `search_path`. Removed (one `DROP FUNCTION … CASCADE`, which drops its triggers) before the fallback reopens the old
 * source, and when the fallback window ends.
 *
 * In AWS the way back's watch (./watch-way-back.ts, on a schedule) sends a notice of each write once: it marks what it
 * reported (`reported_at`) in the same record, which goes when the guard does.
 *
 * By hand: `SELECT * FROM zdm_cutover.way_back_writes ORDER BY id;` to read it, and
 * `DROP FUNCTION zdm_cutover.way_back_write() CASCADE; DROP TABLE zdm_cutover.way_back_writes;` to remove it.
 */
import type { ClientBase, Pool } from 'pg';
import { WAY_BACK_WRITES_TABLE, ZDM_SCHEMA } from '../../../contract';
import { readCatalog } from '../catalog';
import { qualify, quoteIdent, quoteLiteral } from '../pg/identifiers';
import type { TableSelection } from '../../../contract';

type Queryable = Pick<Pool | ClientBase, 'query'>;

/** `"zdm_cutover"."way_back_writes"` */
export const WAY_BACK_WRITES_SQL = qualify({ schema: ZDM_SCHEMA, table: WAY_BACK_WRITES_TABLE });
const FUNCTION_NAME = `${quoteIdent(ZDM_SCHEMA)}.way_back_write`;
const FUNCTION_SQL = `${FUNCTION_NAME}()`;
/** The guard's function called by a trigger with these (literal) arguments. */
const guardCall = (args: readonly string[]): string => `${FUNCTION_NAME}(${args.map(quoteLiteral).join(', ')})`;
const ROW_TRIGGER = 'zdm_way_back_guard';
const TRUNCATE_TRIGGER = 'zdm_way_back_guard_truncate';
/** How long installing or removing the guard waits for a table's lock before it gives up (and says so). */
const LOCK_TIMEOUT = '10s';
/** Writes listed by name in a description; the count covers the rest. */
export const LISTED_WRITES = 5;

/** One write recorded by the guard. */
export interface GuardedWrite {
  readonly table: string;
  readonly operation: string;
  /** The row's key (`{"id": 5}`); absent for TRUNCATE. */
  readonly key?: string;
  /** The session's user, and its `application_name` and client address when it had them. */
  readonly writer: string;
  readonly at: string;
}

/** What the guard recorded: every write's count, the first ones by name. */
export interface GuardedWrites {
  readonly count: number;
  readonly first: readonly GuardedWrite[];
}

const TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${WAY_BACK_WRITES_SQL} (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  table_name text NOT NULL,
  operation text NOT NULL,
  key jsonb,
  writer text NOT NULL DEFAULT session_user,
  application text DEFAULT current_setting('application_name'),
  client text DEFAULT inet_client_addr()::text,
  reported_at timestamptz
)`;

// TG_ARGV[0] is the selected table's name (a partition's write is named by its table), the rest its key columns.
const FUNCTION_DDL = `CREATE OR REPLACE FUNCTION ${FUNCTION_SQL} RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $zdm$
DECLARE
  row_data jsonb;
  row_key jsonb;
BEGIN
  IF TG_OP <> 'TRUNCATE' THEN
    IF TG_OP = 'DELETE' THEN row_data := to_jsonb(OLD); ELSE row_data := to_jsonb(NEW); END IF;
    row_key := '{}'::jsonb;
    FOR i IN 1 .. TG_NARGS - 1 LOOP
      row_key := row_key || jsonb_build_object(TG_ARGV[i], row_data -> TG_ARGV[i]);
    END LOOP;
  END IF;
  INSERT INTO ${WAY_BACK_WRITES_SQL} (table_name, operation, key) VALUES (TG_ARGV[0], TG_OP, row_key);
  RETURN NULL;
END
$zdm$`;

/** Whether the guard is in place (its record table exists). */
async function guardExists(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    WAY_BACK_WRITES_SQL,
  ]);
  return rows[0].exists;
}

/**
 * Puts the guard on every selected table of the old source (idempotent: a table guarded already is left as it is),
 * in one transaction. Returns the tables guarded.
 */
export async function installWayBackGuard(pool: Pool, tables: TableSelection): Promise<string[]> {
  const catalog = await readCatalog(pool, tables);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(ZDM_SCHEMA)}`);
    await client.query(TABLE_DDL);
    await client.query(FUNCTION_DDL);
    const { rows } = await client.query<{ oid: number }>(
      `SELECT DISTINCT tgrelid::int AS oid FROM pg_trigger WHERE tgname = $1 AND tgrelid = ANY($2::oid[])`,
      [ROW_TRIGGER, catalog.tables.map((t) => t.oid)],
    );
    const guarded = new Set(rows.map((r) => r.oid));
    for (const t of catalog.tables) {
      if (guarded.has(t.oid)) continue;
      const table = qualify(t.name);
      await client.query(
        `CREATE TRIGGER ${ROW_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${guardCall([t.display, ...t.keyColumns])}`,
      );
      await client.query(
        `CREATE TRIGGER ${TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${guardCall([t.display])}`,
      );
    }
    await client.query('COMMIT');
    return catalog.tables.map((t) => t.display);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

interface WriteRow {
  table_name: string | null;
  operation: string | null;
  key: string | null;
  writer: string | null;
  application: string | null;
  client: string | null;
  at: string | null;
}

/** The first `LISTED_WRITES` recorded writes matching `where`, in order, as `w.*` columns of a one-row left join. */
const listedWritesSql = (where: string): string =>
  `(SELECT * FROM ${WAY_BACK_WRITES_SQL} WHERE ${where} ORDER BY id LIMIT ${LISTED_WRITES}) w`;
const WRITE_COLUMNS = `w.table_name, w.operation, w.key::text AS key, w.writer, w.application, w.client,
            to_char(w.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`;

function guardedWritesOf(rows: readonly WriteRow[]): GuardedWrite[] {
  return rows
    .filter((r) => r.table_name !== null)
    .map((r) => ({
      table: r.table_name!,
      operation: r.operation!,
      ...(r.key && r.key !== 'null' ? { key: r.key } : {}),
      writer: [
        r.writer!,
        r.application ? `application ${JSON.stringify(r.application)}` : '',
        r.client ? `from ${r.client}` : '',
      ]
        .filter(Boolean)
        .join(', '),
      at: r.at!,
    }));
}

/** What the guard recorded so far; undefined when there is no guard. */
export async function readGuardedWrites(db: Queryable): Promise<GuardedWrites | undefined> {
  if (!(await guardExists(db))) return undefined;
  const { rows } = await db.query<WriteRow & { count: string }>(
    `SELECT (SELECT count(*) FROM ${WAY_BACK_WRITES_SQL})::text AS count, ${WRITE_COLUMNS}
       FROM (SELECT 1) one LEFT JOIN ${listedWritesSql('true')} ON true`,
  );
  return { count: Number(rows[0].count), first: guardedWritesOf(rows) };
}

/** The writes the watch has not reported yet (`count`, the first by name) and every write recorded (`total`). */
export interface UnreportedWrites extends GuardedWrites {
  readonly total: number;
}

/** What reporting found: no guard, another watch reporting already, or the writes it reported (maybe none). */
export type ReportOutcome =
  | { readonly guarded: false }
  | { readonly guarded: true; readonly busy: true }
  | { readonly guarded: true; readonly busy?: undefined; readonly reported: number; readonly total: number };

/** One watch at a time reports (a transaction-level advisory lock on this key: the guard's own name). */
const REPORT_LOCK_SQL = `pg_try_advisory_xact_lock(hashtext('zdm_cutover.way_back_writes'))`;

/**
 * Reports each recorded write once: in one REPEATABLE READ transaction (one snapshot: exactly the writes it read
 * are marked, never one committed meanwhile), reads those not reported yet, calls `report` with them when there are
 * any, and marks them reported only once `report` succeeded (a failed report is repeated by the next watch). A watch
 * that finds another one reporting (the advisory lock held) leaves it to that one. Never blocks a writer: the
 * record's rows are only read and updated, never locked as a table.
 */
export async function reportUnreportedWrites(
  pool: Pool,
  report: (writes: UnreportedWrites) => Promise<void>,
): Promise<ReportOutcome> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    const outcome = await reportIn(client, report);
    await client.query('COMMIT');
    return outcome;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function reportIn(
  client: ClientBase,
  report: (writes: UnreportedWrites) => Promise<void>,
): Promise<ReportOutcome> {
  const { rows: found } = await client.query<{ exists: boolean; locked: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS exists, ${REPORT_LOCK_SQL} AS locked`,
    [WAY_BACK_WRITES_SQL],
  );
  if (!found[0].exists) return { guarded: false };
  if (!found[0].locked) return { guarded: true, busy: true };
  const { rows } = await client.query<WriteRow & { count: string; total: string }>(
    `SELECT (SELECT count(*) FROM ${WAY_BACK_WRITES_SQL} WHERE reported_at IS NULL)::text AS count,
            (SELECT count(*) FROM ${WAY_BACK_WRITES_SQL})::text AS total, ${WRITE_COLUMNS}
       FROM (SELECT 1) one LEFT JOIN ${listedWritesSql('reported_at IS NULL')} ON true`,
  );
  const writes = { count: Number(rows[0].count), total: Number(rows[0].total), first: guardedWritesOf(rows) };
  if (writes.count > 0) {
    await report(writes);
    await client.query(`UPDATE ${WAY_BACK_WRITES_SQL} SET reported_at = clock_timestamp() WHERE reported_at IS NULL`);
  }
  return { guarded: true, reported: writes.count, total: writes.total };
}

/**
 * `the way back is broken here: <the writes>` when the guard on `db` recorded a write; undefined without a guard or
 * without a write. What the watch, the fallback's preflight and its ReopenSource say alike.
 */
export async function guardedBreak(db: Queryable): Promise<string | undefined> {
  const writes = await readGuardedWrites(db);
  return writes?.count ? `the way back is broken here: ${describeGuardedWrites(writes)}` : undefined;
}

/** `2 write(s) on the old source outside the way back: public.items INSERT {"id": 5} by … at …; …` */
export function describeGuardedWrites(writes: GuardedWrites): string {
  const listed = writes.first.map(
    (w) => `${w.table} ${w.operation}${w.key ? ` ${w.key.slice(0, 200)}` : ''} by ${w.writer} at ${w.at}`,
  );
  const more = writes.count > listed.length ? `; and ${writes.count - listed.length} more` : '';
  return (
    `${writes.count} write(s) on the old source outside the way back, not on Aurora (a fallback would lose them, ` +
    `or the reverse replication stops at them): ${listed.join('; ')}${more}`
  );
}

/** Removes the guard: its function with its triggers, and its record, in one transaction. Idempotent. */
export async function removeWayBackGuard(db: Queryable): Promise<boolean> {
  const existed = await guardExists(db);
  // One simple-protocol query: its statements run as one implicit transaction on one connection (from a pool too),
  // all or nothing, and the lock timeout ends with it.
  await db.query(
    `SELECT set_config('lock_timeout', '${LOCK_TIMEOUT}', true); DROP FUNCTION IF EXISTS ${FUNCTION_SQL} CASCADE; ` +
      `DROP TABLE IF EXISTS ${WAY_BACK_WRITES_SQL}`,
  );
  return existed;
}
