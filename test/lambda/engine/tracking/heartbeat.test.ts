/** Heartbeat lag: unknown (null) until the heartbeat reaches the target; then grows while the target is stale. */
import { HEARTBEAT_TABLE_SQL, heartbeatLag } from '../../../../lambda/engine/tracking';
import { sql } from '../../../support/databases';
import type { Pair } from '../validation/helpers';
import { openTrackingPair } from './helpers';

describe('heartbeatLag', () => {
  let p: Pair;
  /** Stands in for replication: copies the source's heartbeat row to the target. */
  const replicate = async (): Promise<void> => {
    const [row] = await sql<{ migration_id: string; beat: string }>(
      p.sourceUrl,
      `SELECT migration_id, beat_at::text AS beat FROM ${HEARTBEAT_TABLE_SQL}`,
    );
    await sql(
      p.targetUrl,
      `INSERT INTO ${HEARTBEAT_TABLE_SQL} VALUES ($1, $2::timestamptz)
       ON CONFLICT (migration_id) DO UPDATE SET beat_at = excluded.beat_at`,
      [row.migration_id, row.beat],
    );
  };

  beforeAll(async () => {
    p = await openTrackingPair('trk_heartbeat');
  });
  afterAll(() => p.close());

  it('is null while the heartbeat table or row has not reached the target', async () => {
    expect(await heartbeatLag(p.source, p.target, 'm1')).toBeNull();
    const [row] = await sql(p.sourceUrl, `SELECT migration_id FROM ${HEARTBEAT_TABLE_SQL}`);
    expect(row).toEqual({ migration_id: 'm1' });
    await sql(
      p.targetUrl,
      `CREATE SCHEMA zdm_cutover;
       CREATE TABLE ${HEARTBEAT_TABLE_SQL} (migration_id text PRIMARY KEY, beat_at timestamptz NOT NULL)`,
    );
    expect(await heartbeatLag(p.source, p.target, 'm1')).toBeNull();
  });

  it('is a number once replicated, and keeps growing while the target does not catch up', async () => {
    await replicate();
    const first = await heartbeatLag(p.source, p.target, 'm1');
    expect(typeof first).toBe('number');
    expect(first).toBeGreaterThanOrEqual(0);
    await new Promise((r) => setTimeout(r, 300));
    // The source wrote a new heartbeat; the target still has the old one.
    const stale = await heartbeatLag(p.source, p.target, 'm1');
    expect(stale).toBeGreaterThanOrEqual(300 + first!);
    await replicate();
    expect(await heartbeatLag(p.source, p.target, 'm1')).toBeLessThan(stale!);
  });

  it('reads no clock on the target: a target clock an hour ahead does not change the lag', async () => {
    await replicate();
    // As unqualified SQL sees them, the target's clock functions run an hour ahead.
    await sql(
      p.targetUrl,
      `CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
         AS $$SELECT pg_catalog.now() + interval '1 hour'$$;
       CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE sql
         AS $$SELECT pg_catalog.clock_timestamp() + interval '1 hour'$$;
       ALTER DATABASE ${JSON.stringify(p.name)} SET search_path = public, pg_catalog`,
    );
    await p.reconnect();
    const [{ ahead }] = await sql<{ ahead: boolean }>(
      p.targetUrl,
      `SELECT now() > pg_catalog.now() + interval '59 minutes' AS ahead`,
    );
    expect(ahead).toBe(true);
    const lag = await heartbeatLag(p.source, p.target, 'm1');
    expect(lag).toBeLessThan(60_000);
  });
});
