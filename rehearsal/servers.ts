import { Client } from 'pg';
import { connect, redactSecrets, redactUrl } from '../lambda/engine/pg/connection';
import { LOGICAL_REPLICATION_SETTINGS, startLocalPostgres, type LocalPostgres } from './local/embedded-postgres';
import {type RehearsalOptions } from './options';
import { UsageError } from '../cli/command-line';
import type { Progress } from './progress';

/** Where the rehearsal runs: embedded servers it started, or the user's (`--source/--target`). */
export interface Servers {
  readonly kind: 'embedded' | 'external';
  readonly sourceUrl: string;
  readonly targetUrl: string;
}

/**
 * What to undo at the end, last in first out. Something registered after the clean-up ran (a server that finished
 * starting after Ctrl-C) is undone at once.
 */
export class Cleanups {
  private readonly items: Array<{ name: string; run: () => Promise<void> }> = [];
  private done = false;

  constructor(private readonly log: (line: string) => void) {}

  push(item: { name: string; run: () => Promise<void> }): void {
    if (this.done) void this.runOne(item);
    else this.items.push(item);
  }

  async runAll(): Promise<void> {
    this.done = true;
    for (const item of this.items.splice(0).reverse()) await this.runOne(item);
  }

  private async runOne(item: { name: string; run: () => Promise<void> }): Promise<void> {
    await item.run().catch((error: Error) => this.log(`cleanup "${item.name}" failed: ${error.message}`));
  }
}

export async function startServers(
  options: RehearsalOptions,
  cleanups: Cleanups,
  progress: Progress,
): Promise<Servers> {
  if (options.sourceUrl && options.targetUrl) {
    for (const [flag, url] of [
      ['--source', options.sourceUrl],
      ['--target', options.targetUrl],
    ] as const) {
      // A server the user named that cannot be reached is a bad option (exit 2), shown without its password.
      const c = await connect(url, 'zdm-rehearsal').catch((error: Error) => {
        throw new UsageError(`${flag}: ${redactSecrets(error.message, url)}`);
      });
      try {
        const { rows } = await c.query<{ wal_level: string; version: string }>(
          `SELECT current_setting('wal_level') AS wal_level, current_setting('server_version_num') AS version`,
        );
        if (flag === '--source' && rows[0].wal_level !== 'logical') {
          throw new UsageError(
            `--source ${redactUrl(url)} has wal_level=${rows[0].wal_level}; logical replication needs wal_level=logical`,
          );
        }
      } finally {
        await c.end().catch(() => undefined);
      }
    }
    return { kind: 'external', sourceUrl: options.sourceUrl, targetUrl: options.targetUrl };
  }
  const results = await Promise.allSettled(
    (['source', 'target'] as const).map(async (name) => {
      const server = await startLocalPostgres({
        name: `rehearsal-${name}`,
        settings: { ...LOGICAL_REPLICATION_SETTINGS },
      });
      cleanups.push({
        name: `stop ${server.name}`,
        run: async () => {
          await server.stop();
          progress.log(`stopped ${server.name} and removed its data directory`);
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
  return { kind: 'embedded', sourceUrl: source.url('shop'), targetUrl: target.url('shop') };
}

export async function withAdmin<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(url, 'zdm-rehearsal');
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Name of the publication / subscription / slot the rehearsal creates. Slot names are per source server, so it
 * includes the database name (two rehearsals on one server, e.g. in tests, do not collide; a re-run reuses it).
 */
export function replicationName(sourceUrl: string): string {
  const db = decodeURIComponent(new URL(sourceUrl).pathname.slice(1))
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  return `zdm_rehearsal_${db}`.slice(0, 63);
}
