/**
 * Creating a logical replication slot (every fixture's subscription copy, every cutover's tracking and reverse slots)
 * waits for a record of the server's running transactions in which every earlier one has ended. PostgreSQL logs one
 * every 15 s when the server is busy (the background writer), so on servers shared by two test files at once, each
 * writing all the time, one slot could take 15-45 s: a loaded CI run timed a test out that takes 5 s alone. From
 * PostgreSQL 16, `pg_log_standby_snapshot()` logs that record on demand (a WAL record, nothing else): asked every
 * 200 ms for the whole run, a slot is ready in a fraction of a second. Older majors (the version matrix) go without.
 */
import { Client } from 'pg';

export interface SnapshotNudger {
  stop(): Promise<void>;
}

const EVERY_MS = 200;

export async function startSnapshotNudger(urls: readonly string[]): Promise<SnapshotNudger> {
  const clients: Client[] = [];
  for (const url of urls) {
    const client = new Client({ connectionString: url, application_name: 'zdm test: snapshot nudger' });
    client.on('error', () => undefined);
    await client.connect();
    const ok = await client.query('SELECT pg_log_standby_snapshot()').then(
      () => true,
      () => false,
    );
    if (ok) clients.push(client);
    else await client.end();
  }
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void Promise.all(clients.map((c) => c.query('SELECT pg_log_standby_snapshot()').catch(() => undefined))).finally(
      () => (busy = false),
    );
  }, EVERY_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    },
  };
}
