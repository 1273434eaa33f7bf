import type { LocalPostgres } from '../../rehearsal/local/embedded-postgres';
import type { SnapshotNudger } from './snapshot-nudger';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __ZDM_NUDGER__?: SnapshotNudger }).__ZDM_NUDGER__?.stop();
  const servers = (globalThis as { __ZDM_SERVERS__?: LocalPostgres[] }).__ZDM_SERVERS__ ?? [];
  await Promise.all(servers.map((s) => s.stop()));
}
