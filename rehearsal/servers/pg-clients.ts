/**
 * The only way rehearsal code opens PostgreSQL connections (a test checks that no other file does). Every client
 * and every pooled client has an 'error' listener for its whole life: a connection that drops while it is
 * checked out (a server restart, a terminated backend, a network cut while a step sleeps) fails the query in
 * flight, never the process.
 */
import { Client, type ClientConfig, type Pool, type PoolClient } from 'pg';
import { connect, type ConnectionSpec, createPool } from '../../lambda/engine';

const ignore = (): void => undefined;

/** A pool whose clients all keep an 'error' listener while checked out (pg-pool only listens while idle). */
export async function openPool(
  spec: ConnectionSpec,
  options: { max?: number; applicationName?: string } = {},
): Promise<Pool> {
  const pool = await createPool(spec, { applicationName: 'zdm-rehearsal', ...options });
  pool.on('error', ignore);
  pool.on('connect', (client: PoolClient) => client.on('error', ignore));
  // createPool checked one connection before the 'connect' listener existed: give the idle ones theirs.
  const idle = await Promise.all(Array.from({ length: pool.idleCount }, () => pool.connect()));
  for (const client of idle) {
    client.on('error', ignore);
    client.release();
  }
  return pool;
}

/** One client (pinned session settings; `connect` gives it its 'error' listener). */
export async function openClient(spec: ConnectionSpec, applicationName = 'zdm-rehearsal'): Promise<Client> {
  const client = await connect(spec, applicationName);
  client.on('error', ignore);
  return client;
}

/**
 * A connection as the application makes it (its own role and password, no pinned settings): the write loads and
 * the "can the application write?" check. `onError` hears about a connection that broke.
 */
export async function openApplicationClient(
  config: ClientConfig,
  onError: (error: Error) => void = ignore,
): Promise<Client> {
  const client = new Client(config);
  client.on('error', onError);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(ignore);
    throw error;
  }
  return client;
}

/** An application connection to the endpoint a traffic switch gave (`postgres://host:port/db`), marked when it broke. */
export interface EndpointConnection {
  readonly client: Client;
  readonly endpoint: string;
  broken: boolean;
}

/** Connects as the application role to `endpoint`; the connection marks itself broken when the server drops it. */
export async function connectToEndpoint(
  endpoint: string,
  login: { readonly role: string; readonly password?: string; readonly applicationName: string },
): Promise<EndpointConnection> {
  const url = new URL(endpoint);
  const state = { broken: false };
  const client = await openApplicationClient(
    {
      host: url.hostname,
      port: Number(url.port || 5432),
      database: decodeURIComponent(url.pathname.replace(/^\//, '')),
      user: login.role,
      ...(login.password !== undefined ? { password: login.password } : {}),
      application_name: login.applicationName,
      connectionTimeoutMillis: 3000,
    },
    () => {
      state.broken = true;
    },
  );
  return {
    client,
    endpoint,
    get broken() {
      return state.broken;
    },
    set broken(value: boolean) {
      state.broken = value;
    },
  };
}

/** Runs `fn` with a fresh client, closed afterwards. */
export async function withAdmin<T>(url: ConnectionSpec, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await openClient(url);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(ignore);
  }
}

/** Runs `fn` with a pool per side, ended afterwards. */
export async function withPools<T>(
  sourceUrl: string,
  targetUrl: string,
  fn: (pools: { source: Pool; target: Pool }) => Promise<T>,
): Promise<T> {
  const source = await openPool(sourceUrl, { max: 2 });
  let target: Pool;
  try {
    target = await openPool(targetUrl, { max: 2 });
  } catch (error) {
    await source.end().catch(ignore);
    throw error;
  }
  try {
    return await fn({ source, target });
  } finally {
    await Promise.all([source.end().catch(ignore), target.end().catch(ignore)]);
  }
}
