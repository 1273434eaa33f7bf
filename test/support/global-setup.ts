import { localPostgresMajor, startLocalPostgres, type LocalPostgres } from '../../rehearsal/local/embedded-postgres';
import { startSnapshotNudger, type SnapshotNudger } from './snapshot-nudger';

/**
 * Starts two real PostgreSQL servers (source and target, wal_level=logical) for the whole run: 16 unless
 * `ZDM_TEST_SOURCE_MAJOR` / `ZDM_TEST_TARGET_MAJOR` (or `ZDM_PG_MAJOR` for both) name other majors (`npm run
 * test:versions` runs the engine's tests that way). Test files create their own databases on them (see
 * `test/support/databases.ts`), so they never share data.
 */
export default async function globalSetup(): Promise<void> {
  const fast = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
  // Every test file's fixtures hold slots (forward, tracking, reverse) and workers on these two servers at once, and
  // an initial copy needs a temporary slot and a sync worker of its own: room for all of them, so a fixture's copy
  // never waits for another file's teardown.
  const shared = {
    // Every test file's fixtures keep pools open until their afterAll, and two files run at once: room for all of
    // them, so a loaded run never fails on "sorry, too many clients already".
    max_connections: 400,
    max_replication_slots: 64,
    max_wal_senders: 64,
    max_worker_processes: 64,
    max_logical_replication_workers: 48,
  };
  const sourceMajor = localPostgresMajor(process.env.ZDM_TEST_SOURCE_MAJOR || undefined);
  const targetMajor = localPostgresMajor(process.env.ZDM_TEST_TARGET_MAJOR || undefined);
  // PostgreSQL 18 counts the replication origins subscriptions use apart from slots (`max_active_replication_origins`,
  // default 10): every fixture's subscription on a server holds one until its file ends, as many as the slots.
  const origins = (major: number): Record<string, number> =>
    major >= 18 ? { max_active_replication_origins: shared.max_replication_slots } : {};
  const [source, target] = await Promise.all([
    startLocalPostgres({
      name: 'test-source',
      major: sourceMajor,
      settings: { ...fast, ...shared, ...origins(sourceMajor) },
    }),
    startLocalPostgres({
      name: 'test-target',
      major: targetMajor,
      settings: { ...fast, ...shared, ...origins(targetMajor) },
    }),
  ]);
  (globalThis as { __ZDM_SERVERS__?: LocalPostgres[] }).__ZDM_SERVERS__ = [source, target];
  // Slots are created in a fraction of a second however busy the shared servers are (see snapshot-nudger.ts).
  (globalThis as { __ZDM_NUDGER__?: SnapshotNudger }).__ZDM_NUDGER__ = await startSnapshotNudger([
    source.url(),
    target.url(),
  ]);
  process.env.ZDM_TEST_SOURCE_PORT = String(source.port);
  process.env.ZDM_TEST_TARGET_PORT = String(target.port);
  process.env.ZDM_TEST_SOURCE_MAJOR = String(source.major);
  process.env.ZDM_TEST_TARGET_MAJOR = String(target.major);
}
