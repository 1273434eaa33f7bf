import { startLocalPostgres, type LocalPostgres } from '../../rehearsal/local/embedded-postgres';

/**
 * Starts two real PostgreSQL 16 servers (source and target, wal_level=logical) for the whole run.
 * Test files create their own databases on them (see `test/support/databases.ts`), so they never share data.
 */
export default async function globalSetup(): Promise<void> {
  const fast = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
  const [source, target] = await Promise.all([
    startLocalPostgres({ name: 'test-source', settings: fast }),
    startLocalPostgres({ name: 'test-target', settings: fast }),
  ]);
  (globalThis as { __ZDM_SERVERS__?: LocalPostgres[] }).__ZDM_SERVERS__ = [source, target];
  process.env.ZDM_TEST_SOURCE_PORT = String(source.port);
  process.env.ZDM_TEST_TARGET_PORT = String(target.port);
}
