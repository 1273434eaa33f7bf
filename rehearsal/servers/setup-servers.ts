/**
 * Part 1 of a rehearsal: the two servers. Embedded ones are started (random superuser passwords, their logs kept
 * for error messages) and removed at the end; the user's (`--source/--target`) are checked before anything is
 * changed: reachable, wal_level=logical on the source, whether both are one server, and their clocks.
 */
import type { Client } from 'pg';
import { redactSecrets, redactUrl } from '../../lambda/engine';
import { UsageError } from '../../cli/command-line';
import { LOGICAL_REPLICATION_SETTINGS, startLocalPostgres, type LocalPostgres } from '../local/embedded-postgres';
import { openClient, withAdmin } from './pg-clients';
import type { RehearsalContext } from '../run-context';
import { newPassword } from '../roles/secrets';

/** The last lines a server logged (embedded servers only: the user's server logs are read with SQL). */
export class LogTail {
  private readonly lines: string[] = [];
  constructor(private readonly max = 300) {}
  push(text: string): void {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }
  recent(): string[] {
    return [...this.lines];
  }
}

/** Where the rehearsal runs: embedded servers it started, or the user's (`--source/--target`). */
export interface Servers {
  readonly kind: 'embedded' | 'external';
  readonly sourceUrl: string;
  readonly targetUrl: string;
  /** Both databases are on one server (one system identifier): roles and the freeze are shared. */
  readonly sameServer: boolean;
  /** Server clock minus this machine's clock, ms (acknowledgement times are compared with the state record's). */
  readonly clockOffsetMs: { readonly source: number; readonly target: number };
  /** The embedded target's log (the initial copy's errors are there). */
  readonly targetLog?: LogTail;
  /** The embedded servers' PostgreSQL majors. */
  readonly majors?: { readonly source: number; readonly target: number };
}

interface ServerFacts {
  readonly walLevel: string;
  readonly systemId: string | null;
  readonly superuser: boolean;
  readonly clockOffsetMs: number;
}

async function serverFacts(client: Client): Promise<ServerFacts> {
  const before = Date.now();
  const { rows } = await client.query<{ wal_level: string; superuser: boolean; now_ms: number }>(
    `SELECT current_setting('wal_level') AS wal_level,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`,
  );
  const after = Date.now();
  const systemId = await client
    .query<{ id: string }>(`SELECT system_identifier::text AS id FROM pg_control_system()`)
    .then((r) => r.rows[0].id)
    .catch(() => null);
  return {
    walLevel: rows[0].wal_level,
    systemId,
    superuser: rows[0].superuser,
    clockOffsetMs: Math.round(rows[0].now_ms - (before + after) / 2),
  };
}

function hostKey(url: string): string {
  const u = new URL(url);
  const host = ['localhost', '[::1]'].includes(u.hostname) ? '127.0.0.1' : u.hostname;
  return `${host}:${u.port || '5432'}`;
}

async function checkExternal(ctx: RehearsalContext, sourceUrl: string, targetUrl: string): Promise<Servers> {
  const facts: Record<'source' | 'target', ServerFacts> = {} as never;
  for (const [side, flag, url] of [
    ['source', '--source', sourceUrl],
    ['target', '--target', targetUrl],
  ] as const) {
    // A server the user named that cannot be reached is a bad option (exit 2), shown without its password.
    const client = await openClient(url).catch((error: Error) => {
      throw new UsageError(`${flag}: ${redactSecrets(error.message, url)}`);
    });
    try {
      facts[side] = await serverFacts(client);
    } finally {
      await client.end().catch(() => undefined);
    }
    if (!facts[side].superuser) {
      throw new UsageError(
        `${flag} ${redactUrl(url)}: the rehearsal needs a superuser (it creates roles and replication); nothing was changed`,
      );
    }
  }
  if (facts.source.walLevel !== 'logical') {
    throw new UsageError(
      `--source ${redactUrl(sourceUrl)} has wal_level=${facts.source.walLevel}; logical replication needs wal_level=logical`,
    );
  }
  const sameServer =
    facts.source.systemId !== null && facts.target.systemId !== null
      ? facts.source.systemId === facts.target.systemId
      : hostKey(sourceUrl) === hostKey(targetUrl);
  if (sameServer && ctx.options.mode === 'execute') {
    throw new UsageError(
      `--source and --target are two databases of one server (${hostKey(sourceUrl)}): roles belong to the server, so ` +
        'the freeze (NOLOGIN on the application role) would lock the application out of the target too, and the ' +
        'write freeze would never end. Use two servers, or --mode dry-run (which freezes nothing); nothing was changed',
    );
  }
  return {
    kind: 'external',
    sourceUrl,
    targetUrl,
    sameServer,
    clockOffsetMs: { source: facts.source.clockOffsetMs, target: facts.target.clockOffsetMs },
  };
}

async function startEmbedded(ctx: RehearsalContext): Promise<Servers> {
  const targetLog = new LogTail();
  const results = await Promise.allSettled(
    (['source', 'target'] as const).map(async (name) => {
      const password = newPassword();
      ctx.secrets.add(password);
      const server = await startLocalPostgres({
        name: `rehearsal-${name}`,
        settings: { ...LOGICAL_REPLICATION_SETTINGS },
        password,
        major: name === 'source' ? ctx.options.sourceVersion : ctx.options.targetVersion,
        ...(name === 'target' ? { onLog: (line: string) => targetLog.push(line) } : {}),
      });
      ctx.ledger.push({
        name: `stop ${server.name}`,
        run: async () => {
          await server.stop();
          ctx.progress.log(`stopped ${server.name} and removed its data directory`);
        },
      });
      return server;
    }),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [source, target] = results.map((r) => (r as PromiseFulfilledResult<LocalPostgres>).value);
  // A dedicated database on each side, as an application would have.
  for (const server of [source, target]) {
    await withAdmin(server.url(), (c) => c.query('CREATE DATABASE shop'));
  }
  return {
    kind: 'embedded',
    sourceUrl: source.url('shop'),
    targetUrl: target.url('shop'),
    sameServer: false,
    clockOffsetMs: { source: 0, target: 0 },
    targetLog,
    majors: { source: source.major, target: target.major },
  };
}

export async function setupServers(ctx: RehearsalContext): Promise<Servers> {
  const { sourceUrl, targetUrl } = ctx.options;
  ctx.secrets.addUrl(sourceUrl);
  ctx.secrets.addUrl(targetUrl);
  return sourceUrl && targetUrl ? checkExternal(ctx, sourceUrl, targetUrl) : startEmbedded(ctx);
}
