import { Client } from 'pg';
import { LOCAL_SUPERUSER, LOCAL_SUPERUSER_PASSWORD } from '../../rehearsal/local/embedded-postgres';
import { quoteIdent } from '../../lambda/engine/pg/identifiers';

/** The two servers started by the global setup. */
export function serverPort(side: 'source' | 'target'): number {
  const port = Number(side === 'source' ? process.env.ZDM_TEST_SOURCE_PORT : process.env.ZDM_TEST_TARGET_PORT);
  if (!port) throw new Error('test PostgreSQL servers are not running (jest globalSetup did not run)');
  return port;
}

export function serverUrl(side: 'source' | 'target', database = 'postgres'): string {
  return `postgres://${LOCAL_SUPERUSER}:${LOCAL_SUPERUSER_PASSWORD}@127.0.0.1:${serverPort(side)}/${encodeURIComponent(database)}`;
}

/** The major versions the global setup started (16 unless `ZDM_TEST_SOURCE_MAJOR` / `ZDM_TEST_TARGET_MAJOR` said otherwise). */
export function serverMajor(side: 'source' | 'target'): number {
  return Number((side === 'source' ? process.env.ZDM_TEST_SOURCE_MAJOR : process.env.ZDM_TEST_TARGET_MAJOR) || 16);
}

/** Drops a database, ending its sessions first (`WITH (FORCE)` is PostgreSQL 13+). */
async function dropDatabase(c: Client, name: string): Promise<void> {
  const [{ v }] = (await c.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`)).rows;
  if (v >= 130000) {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    return;
  }
  await c.query(`ALTER DATABASE ${quoteIdent(name)} ALLOW_CONNECTIONS false`).catch(() => undefined);
  await c.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [name],
  );
  await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
}

let counter = 0;

/** A fresh database with the same name on both servers; returns their URLs. Drop it with `dropPair`. */
export async function createDatabasePair(prefix: string): Promise<{ name: string; source: string; target: string }> {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${++counter}`;
  for (const side of ['source', 'target'] as const) {
    const c = new Client(serverUrl(side));
    await c.connect();
    try {
      await dropDatabase(c, name);
      await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } finally {
      await c.end();
    }
  }
  return { name, source: serverUrl('source', name), target: serverUrl('target', name) };
}

export async function dropPair(name: string): Promise<void> {
  for (const side of ['target', 'source'] as const) {
    const c = new Client(serverUrl(side));
    await c.connect();
    try {
      if (side === 'target') {
        // Subscriptions must let go of their slots before the database can go.
        await c.query(`SELECT 1`);
      }
      await dropDatabase(c, name);
    } finally {
      await c.end();
    }
  }
}

/** Runs SQL against a URL and returns the rows. */
export async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new Client(url);
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** A role's login settings on a server (what the freeze changes and rollback restores). */
export async function roleSettings(url: string, role: string): Promise<{ canLogin: boolean; connectionLimit: number }> {
  const [r] = await sql<{ rolcanlogin: boolean; rolconnlimit: number }>(
    url,
    `SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  if (!r) throw new Error(`role ${role} does not exist`);
  return { canLogin: r.rolcanlogin, connectionLimit: r.rolconnlimit };
}

/** Whether a native logical replication subscription is enabled on the target. */
export async function subscriptionEnabled(url: string, subscription: string): Promise<boolean> {
  const [r] = await sql<{ subenabled: boolean }>(url, `SELECT subenabled FROM pg_subscription WHERE subname = $1`, [
    subscription,
  ]);
  if (!r) throw new Error(`subscription ${subscription} does not exist`);
  return r.subenabled;
}

/** The workflow's change-tracking slots left in a pair's databases, source then target. */
export async function trackingSlots(pair: { readonly source: string; readonly target: string }): Promise<string[]> {
  const slots: string[] = [];
  for (const url of [pair.source, pair.target]) {
    const rows = await sql<{ slot_name: string }>(
      url,
      `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'zdm\\_trk\\_%' AND database = current_database()`,
    );
    slots.push(...rows.map((r) => r.slot_name));
  }
  return slots;
}
