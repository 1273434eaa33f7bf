import type { LocalPostgres } from '../../rehearsal/local/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const servers = (globalThis as { __ZDM_SERVERS__?: LocalPostgres[] }).__ZDM_SERVERS__ ?? [];
  await Promise.all(servers.map((s) => s.stop()));
}
