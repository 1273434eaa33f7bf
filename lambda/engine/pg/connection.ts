import { Client, Pool, type ClientConfig, type PoolClient, type PoolConfig } from 'pg';

/**
 * Session settings pinned on every connection, so text forms of values are identical on both sides
 * (checksums compare them) whatever the server or role defaults are.
 */
export const PINNED_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
  client_encoding: 'UTF8',
  lc_monetary: 'C',
};

/** Where and how to connect: a URL or a node-postgres config (as read from a Secrets Manager secret). */
export type ConnectionSpec = string | ClientConfig;

function pinnedOptions(): string {
  return Object.entries(PINNED_SESSION_SETTINGS)
    .map(([k, v]) => `-c ${k}=${v.replace(/ /g, '\\ ')}`)
    .join(' ');
}

function toConfig(spec: ConnectionSpec, applicationName: string): ClientConfig {
  const base: ClientConfig = typeof spec === 'string' ? { connectionString: spec } : { ...spec };
  return {
    ...base,
    application_name: applicationName,
    options: [pinnedOptions(), base.options].filter(Boolean).join(' '),
    connectionTimeoutMillis: base.connectionTimeoutMillis ?? 15_000,
  };
}

/** A printable description of a connection: host, port and database, never the password. */
export function describeConnection(spec: ConnectionSpec): string {
  if (typeof spec === 'string') return redactUrl(spec);
  return `postgres://${spec.user ?? ''}@${spec.host ?? 'localhost'}:${spec.port ?? 5432}/${spec.database ?? ''}`;
}

/** Replaces the password in a postgres URL (and anything that looks like one) with `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.searchParams.forEach((_v, k) => {
      if (/pass|secret|token/i.test(k)) u.searchParams.set(k, '***');
    });
    return u.toString();
  } catch {
    return url.replace(/:\/\/([^:/@]*):[^@]*@/, '://$1:***@');
  }
}

/** Removes every occurrence of the connection's password from a message. */
export function redactSecrets(message: string, spec: ConnectionSpec): string {
  const password =
    typeof spec === 'string' ? safePasswordFromUrl(spec) : typeof spec.password === 'string' ? spec.password : '';
  let out = message;
  if (password) out = out.split(password).join('***');
  if (typeof spec === 'string') out = out.split(spec).join(redactUrl(spec));
  return out;
}

function safePasswordFromUrl(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/** Error raised when a database cannot be reached; its message names where, never with the password. */
export class ConnectionError extends Error {
  constructor(
    readonly where: string,
    cause: string,
  ) {
    super(`cannot connect to ${where}: ${cause}`);
    this.name = 'ConnectionError';
  }
}

/** Opens one client with pinned session settings. */
export async function connect(spec: ConnectionSpec, applicationName = 'zdm'): Promise<Client> {
  const client = new Client(toConfig(spec, applicationName));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new ConnectionError(describeConnection(spec), redactSecrets((error as Error).message, spec));
  }
  watchConnection(client);
  return client;
}

/** The error that ended each client's connection (set by the error listener every client gets). */
const lostConnections = new WeakMap<object, Error>();

/**
 * Gives a client an 'error' listener for its whole life. Without one, a connection that dies while the client
 * is idle — checked out between two queries of a step, or pooled — (server restart, `pg_terminate_backend`,
 * 57P01 admin shutdown, a dropped socket) emits an unhandled 'error' event, which crashes the process. With it,
 * the client just becomes unusable: its next query rejects and `withPooledClient` reports the lost connection.
 */
function watchConnection(client: Client | PoolClient): void {
  client.on('error', (error: Error) => {
    if (!lostConnections.has(client)) lostConnections.set(client, error);
  });
}

/** The error that ended this client's connection, if it was lost. */
export function connectionLost(client: object): Error | undefined {
  return lostConnections.get(client);
}

/** A step's database connection died under it (the caller retries the step or rolls back). */
export class ConnectionLostError extends Error {
  /** The PostgreSQL error code of the loss (57P01 when the backend was terminated), if the server sent one. */
  readonly code?: string;
  constructor(cause: Error) {
    const code = (cause as { code?: unknown }).code;
    super(
      `the database connection was lost (${cause.message}${typeof code === 'string' ? `, ${code}` : ''}); ` +
        `the work in progress did not finish and can be retried`,
    );
    this.name = 'ConnectionLostError';
    if (typeof code === 'string') this.code = code;
  }
}

/** A pool whose connections all carry the pinned session settings. Checks one connection first. */
export async function createPool(
  spec: ConnectionSpec,
  options: {
    max?: number;
    applicationName?: string;
    /** Idle connections are closed after this long. @default 10000 (node-postgres) */
    idleTimeoutMillis?: number;
    /** Idle connections do not keep the process alive. @default false */
    allowExitOnIdle?: boolean;
  } = {},
): Promise<Pool> {
  const config: PoolConfig = {
    ...toConfig(spec, options.applicationName ?? 'zdm'),
    max: options.max ?? 4,
    ...(options.idleTimeoutMillis !== undefined ? { idleTimeoutMillis: options.idleTimeoutMillis } : {}),
    ...(options.allowExitOnIdle ? { allowExitOnIdle: true } : {}),
  };
  const pool = new Pool(config);
  // An idle pooled connection that dies is removed by the pool, which then emits 'error' on the pool.
  pool.on('error', () => undefined);
  // A checked-out connection has no pool listener: every connection gets its own for its whole life.
  pool.on('connect', (client) => watchConnection(client));
  try {
    const c = await pool.connect();
    c.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new ConnectionError(describeConnection(spec), redactSecrets((error as Error).message, spec));
  }
  return pool;
}

/** Pings one checked-out connection; destroys it (the pool opens a new one when needed) when it is dead. */
async function ping(client: PoolClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('pooled connection did not answer')), timeoutMs);
      }),
    ]);
    client.release();
  } catch (error) {
    client.release(error instanceof Error ? error : true);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks every idle connection of a pool at once (one `SELECT 1` round trip, bounded by `timeoutMs`); dead ones
 * are destroyed, so the pool opens fresh ones instead of handing out a connection that died while idle.
 */
export async function checkIdleConnections(pool: Pool, timeoutMs = 2_000): Promise<void> {
  const idle = pool.idleCount;
  if (idle === 0) return;
  const clients = await Promise.all(Array.from({ length: idle }, () => pool.connect().catch(() => undefined)));
  await Promise.all(clients.map((c) => (c ? ping(c, timeoutMs) : undefined)));
}

/**
 * Runs `fn` with one client from `pool`. A client whose work failed is destroyed, not returned, so no
 * half-finished transaction or broken socket is handed out again.
 */
export async function withPooledClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const result = await fn(client);
    // A connection lost after the last query is not handed out again: the pool drops clients that are not queryable.
    client.release();
    return result;
  } catch (error) {
    client.release(true);
    const lost = connectionLost(client);
    throw lost ? new ConnectionLostError(lost) : error;
  }
}
