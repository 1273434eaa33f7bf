/**
 * Part 5 of a rehearsal: native logical replication of the rehearsed tables, the marker and probe tables — the
 * slot first, then the subscription on it (two databases of one server work too), logging in to the source as
 * the rehearsal's replication role — and the initial copy, which fails fast with the real reason (the
 * subscription's error counters, the server log when it can be read, what the target tables hold) instead of
 * retrying forever.
 */
import type { Client } from 'pg';
import { formatTableName } from '../../contract';
import { NativeLogicalReplication, qualify, readSubscription, type ReplicationPort, sleep } from '../../lambda/engine';
import { setupNativeReplication, teardownNativeReplication } from '../local/native-replication-setup';
import { PROBE_TABLE, replicationName } from '../names';
import { openClient, withAdmin } from './pg-clients';
import type { RehearsalRoles } from '../roles/rehearsal-roles';
import { restoreSequences, type RehearsedTables } from '../tables/rehearsed-tables';
import type { RehearsalContext } from '../run-context';
import type { LogTail, Servers } from './setup-servers';

export interface ReplicationHandle {
  /** Publication, subscription and slot name. */
  readonly name: string;
  /** Replication as the workflow sees it. */
  readonly port: ReplicationPort;
  close(): Promise<void>;
}

/** How the target server logs in to the source: the replication role, never the URL's user. */
export function subscriptionConnInfo(sourceUrl: string, role: { name: string; password?: string }): string {
  const u = new URL(sourceUrl);
  const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const parts: Array<[string, string | undefined]> = [
    ['host', u.hostname.replace(/^\[(.*)\]$/, '$1')],
    ['port', u.port || '5432'],
    ['dbname', decodeURIComponent(u.pathname.slice(1))],
    ['user', role.name],
    ['password', role.password],
    ['sslmode', u.searchParams.get('sslmode') ?? undefined],
    ['application_name', 'zdm_rehearsal_subscription'],
  ];
  return parts
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${quote(v as string)}`)
    .join(' ');
}

/** Empties the tables the initial copy filled and puts the target's sequences back (user tables). */
async function emptyCopiedTables(ctx: RehearsalContext, servers: Servers, tables: RehearsedTables): Promise<void> {
  await withAdmin(servers.targetUrl, async (c) => {
    await c.query(`TRUNCATE ${tables.tables.map(qualify).join(', ')}`);
    const reset = await restoreSequences(c, tables.targetSequences);
    ctx.progress.log(
      `  emptied ${tables.tables.length} target table(s) the copy filled${reset.length ? `; reset ${reset.length} sequence(s): ${reset.slice(0, 5).join(', ')}${reset.length > 5 ? ', …' : ''}` : ''}`,
    );
  });
}

export async function startReplication(
  ctx: RehearsalContext,
  servers: Servers,
  tables: RehearsedTables,
  roles: RehearsalRoles,
): Promise<ReplicationHandle> {
  const { sourceUrl, targetUrl } = servers;
  const name = replicationName(sourceUrl);
  const keep = ctx.options.keepReplication;
  if (!keep && tables.kind === 'user') {
    ctx.ledger.push({
      name: 'empty the target tables the copy filled, reset the target sequences',
      run: () => emptyCopiedTables(ctx, servers, tables),
    });
  }
  if (!keep) {
    ctx.ledger.push({
      name: `remove replication ${name} (subscription, slots, publication)`,
      run: () => teardownNativeReplication({ source: sourceUrl, target: targetUrl, name }),
    });
  }
  await setupNativeReplication({
    source: sourceUrl,
    target: targetUrl,
    tables: tables.selection,
    name,
    sourceConnInfo: subscriptionConnInfo(sourceUrl, roles.replication),
    extraTables: [PROBE_TABLE],
  });
  const port = new NativeLogicalReplication({ source: sourceUrl, target: targetUrl, subscription: name });
  ctx.ledger.push({ name: 'close replication connections', run: () => port.close() });
  return { name, port, close: () => port.close() };
}

interface CopyHealth {
  /** Errors the subscription counts; undefined on PostgreSQL < 15, which has no such counters. */
  readonly errors: number | undefined;
  readonly notReady: string[];
}

async function copyHealth(client: Client, name: string): Promise<CopyHealth> {
  // pg_stat_subscription_stats is PostgreSQL 15+: older targets fail the copy by the timeouts, with the server log.
  const [{ v }] = (await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`)).rows;
  const errors =
    v < 150000
      ? undefined
      : await client
          .query<{ n: number }>(
            `SELECT (sync_error_count + apply_error_count)::int AS n FROM pg_stat_subscription_stats WHERE subname = $1`,
            [name],
          )
          .then((r) => r.rows[0]?.n ?? 0);
  const { rows } = await client.query<{ rel: string }>(
    `SELECT r.srrelid::regclass::text AS rel FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
      WHERE s.subname = $1 AND r.srsubstate <> 'r' ORDER BY 1`,
    [name],
  );
  return { errors, notReady: rows.map((r) => r.rel) };
}

/** Recent ERROR lines of the target server's log about replication: the embedded log, or pg_read_file. */
async function serverErrors(client: Client, log: LogTail | undefined): Promise<string[] | undefined> {
  // An ERROR of a replication worker is followed (within a few lines) by the worker's exit.
  const pick = (lines: string[]): string[] =>
    lines
      .map((line, i) => ({ line, i }))
      .filter(
        ({ line, i }) =>
          /\b(ERROR|FATAL):/.test(line) &&
          lines.slice(i, i + 5).some((l) => /logical replication|synchroniz|publisher/i.test(l)),
      )
      .slice(-3)
      .map(({ line }) => line.replace(/^.*?\b(ERROR|FATAL):\s*/, '$1: ').slice(0, 400));
  if (log) return pick(log.recent());
  try {
    const { rows } = await client.query<{ text: string | null }>(
      `SELECT pg_read_file(f, greatest(0, (pg_stat_file(f)).size - 65536), 65536) AS text
         FROM (SELECT pg_current_logfile() AS f) x WHERE f IS NOT NULL`,
    );
    return rows[0]?.text ? pick(rows[0].text.split('\n')) : undefined;
  } catch {
    return undefined;
  }
}

async function targetRowsOf(client: Client, tables: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables.slice(0, 10)) {
    const { rows } = await client
      .query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${t} LIMIT 1000001) x`)
      .catch(() => ({ rows: [{ n: 0 }] }));
    if (rows[0].n > 0) out.push(`${t} holds ${rows[0].n > 1_000_000 ? 'over 1000000' : rows[0].n} row(s)`);
  }
  return out;
}

async function explainFailure(client: Client, name: string, health: CopyHealth, log?: LogTail): Promise<string> {
  const errors = await serverErrors(client, log);
  const rows = await targetRowsOf(client, health.notReady);
  return [
    health.notReady.length ? `tables not copied: ${health.notReady.slice(0, 10).join(', ')}` : '',
    errors?.length
      ? `the target server says: ${errors.join(' | ')}`
      : errors
        ? ''
        : "the reason is in the target server's log (it cannot be read from here: no superuser access or no logging_collector)",
    rows.length ? `on the target, ${rows.join(', ')} (rows the copy collides with?)` : '',
    health.errors === undefined
      ? `no error count for subscription ${name} (pg_stat_subscription_stats is PostgreSQL 15+)`
      : `pg_stat_subscription_stats counts ${health.errors} error(s) for subscription ${name}`,
  ]
    .filter(Boolean)
    .join('; ');
}

/**
 * Waits until every table is copied and the apply worker streams. Fails after the second error the subscription
 * counts (PostgreSQL retries a failed table copy every 5 s, forever), when its worker cannot start for
 * `startTimeoutMs`, or after `timeoutMs`, each time with the reason.
 */
export async function waitForInitialCopy(
  port: ReplicationPort,
  target: string,
  name: string,
  options: {
    signal?: AbortSignal;
    timeoutMs: number;
    log?: LogTail;
    startTimeoutMs?: number;
    maxErrors?: number;
    /** The source (superuser): nudged while tables are copied, see `SnapshotNudge`. */
    source?: string;
  },
): Promise<string> {
  const started = Date.now();
  const maxErrors = options.maxErrors ?? 2;
  const nudge = options.source ? await SnapshotNudge.open(options.source) : undefined;
  try {
    return await watchCopy(port, target, name, options, started, maxErrors, nudge);
  } finally {
    await nudge?.close();
  }
}

/**
 * Each table's copy creates a logical slot on the source, and a slot is ready only after the source has logged its
 * running transactions a few times — every 15 s on a busy server (`LOG_SNAPSHOT_INTERVAL_MS`), so under write load a
 * schema of 300 tables took over an hour to copy. PostgreSQL 16+ logs them on request
 * (`pg_log_standby_snapshot()`, a WAL record, nothing else): asked every 200 ms while tables are still copying.
 * Older majors (or a user without the right to call it) go without.
 */
class SnapshotNudge {
  private last = 0;
  private constructor(private readonly client: Client) {}

  static async open(source: string): Promise<SnapshotNudge | undefined> {
    const client = await openClient(source).catch(() => undefined);
    if (!client) return undefined;
    const { rows } = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
    if ((rows[0]?.v ?? 0) < 160_000) {
      await client.end().catch(() => undefined);
      return undefined;
    }
    return new SnapshotNudge(client);
  }

  async maybe(): Promise<void> {
    if (Date.now() - this.last < 200) return;
    this.last = Date.now();
    await this.client.query('SELECT pg_log_standby_snapshot()').catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

async function watchCopy(
  port: ReplicationPort,
  target: string,
  name: string,
  options: { signal?: AbortSignal; timeoutMs: number; log?: LogTail; startTimeoutMs?: number },
  started: number,
  maxErrors: number,
  nudge: SnapshotNudge | undefined,
): Promise<string> {
  return withAdmin(target, async (client) => {
    const baseline = (await copyHealth(client, name)).errors;
    let lastCheck = 0;
    for (;;) {
      await nudge?.maybe();
      if (options.signal?.aborted) throw new Error('rehearsal interrupted');
      const status = await port.status();
      if (status.state === 'failed') throw new Error(`replication failed: ${status.detail ?? ''}`);
      if (status.fullLoadComplete && status.state === 'running') {
        return `all tables copied; lag ${status.lagSeconds === null ? 'unknown' : `${status.lagSeconds.toFixed(2)}s`}`;
      }
      if (Date.now() - lastCheck >= 500) {
        lastCheck = Date.now();
        const health = await copyHealth(client, name);
        const elapsed = Date.now() - started;
        if (health.errors !== undefined && health.errors - (baseline ?? 0) >= maxErrors) {
          throw new Error(`the initial copy is failing: ${await explainFailure(client, name, health, options.log)}`);
        }
        const sub = await readSubscription(client, name);
        if (sub && sub.enabled && sub.apply_workers === 0 && elapsed > (options.startTimeoutMs ?? 30_000)) {
          throw new Error(
            `the subscription's worker did not start in ${Math.round(elapsed / 1000)} s (can the target reach the ` +
              `source as the replication role?): ${await explainFailure(client, name, health, options.log)}`,
          );
        }
        if (elapsed > options.timeoutMs) {
          throw new Error(
            `the initial copy did not finish in ${Math.round(options.timeoutMs / 1000)} s (--copy-timeout): ` +
              `${status.detail ?? ''}; ${await explainFailure(client, name, health, options.log)}`,
          );
        }
      }
      await sleep(100);
    }
  });
}

/** Describes the tables a rehearsal replicates, for the log. */
export function describeTables(tables: RehearsedTables): string {
  const total = Object.values(tables.rows).reduce((a, b) => a + b, 0);
  const names = tables.tables.map(formatTableName);
  return `${names.length} table(s)${names.length <= 6 ? ` (${names.join(', ')})` : ''}, ${
    tables.rowsAreEstimates ? '≈' : ''
  }${total} rows`;
}
