/**
 * What keeps the in-freeze change proof short without weakening it: catalog data reused across reads and key checks
 * only while the catalog signature is the one it was read under, reads that open in one round trip (also on a pool
 * of one connection), and a restart point that follows the reads.
 */
import { Client, type Pool } from 'pg';
import { createPool } from '../../../../lambda/engine/pg/connection';
import {
  advance,
  catalogSignature,
  logRestartPoint,
  readChanges,
  startTracking,
  stopTracking,
  verifyKeys,
} from '../../../../lambda/engine/tracking';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from '../validation/helpers';
import { openTrackingPair } from './helpers';

const spec = { slot: 'zdm_track_cache', publication: 'zdm_track_cache' };
const table = (name: string) => ({ schema: 'public', table: name });

/** Counts the queries that read `readCatalog`'s column list, on every connection. */
function countCatalogReads(): { count: () => number; restore: () => void } {
  const spy = jest.spyOn(Client.prototype, 'query');
  const isCatalogRead = (args: unknown[]): boolean => {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    return typeof text === 'string' && text.includes('format_type(a.atttypid, NULL) AS cast_type');
  };
  return { count: () => spy.mock.calls.filter((c) => isCatalogRead(c)).length, restore: () => spy.mockRestore() };
}

describe('catalog reuse, one-round-trip reads, restart point', () => {
  let p: Pair;
  const drain = async (pool: Pool = p.source): Promise<void> => {
    const c = await readChanges(pool, spec);
    if (c.lastLsn) await advance(pool, spec.slot, c.lastLsn);
  };

  beforeAll(async () => {
    p = await openTrackingPair('trk_cache');
    await p.both(`
      CREATE TABLE public.accounts (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text);
      INSERT INTO public.accounts SELECT g, 'c' || g, 'v' || g FROM generate_series(1, 5) g`);
    for (const pool of [p.source, p.target]) await startTracking(pool, { ...spec, tables: [table('accounts')] });
  });

  afterAll(async () => {
    for (const pool of [p.source, p.target]) await stopTracking(pool, spec);
    await p.close();
  });

  it('reads the catalog once while it is unchanged, and again at once after a key change', async () => {
    await drain();
    const reads = countCatalogReads();
    try {
      await sql(p.sourceUrl, `UPDATE public.accounts SET v = 'x' WHERE id = 1`);
      const first = await readChanges(p.source, spec);
      expect(first.keysByTable['public.accounts']).toMatchObject({ keyColumns: ['id'], keys: [['1']] });
      expect(first.catalog).toEqual({
        signature: expect.stringMatching(/^[0-9a-f]{32}$/),
        tables: ['public.accounts'],
      });
      const afterFirst = reads.count();
      const again = await readChanges(p.source, spec);
      expect(again.catalog).toEqual(first.catalog);
      expect(reads.count()).toBe(afterFirst); // reused
      await advance(p.source, spec.slot, again.lastLsn!);

      // The validation key is now the unique index: the next read must key its changes by it.
      await sql(
        p.sourceUrl,
        `ALTER TABLE public.accounts DROP CONSTRAINT accounts_pkey;
         ALTER TABLE public.accounts REPLICA IDENTITY USING INDEX accounts_code_key`,
      );
      await sql(p.sourceUrl, `UPDATE public.accounts SET v = 'y' WHERE id = 2`);
      const changed = await readChanges(p.source, spec);
      expect(changed.catalog.signature).not.toBe(first.catalog.signature);
      expect(changed.keysByTable['public.accounts']).toMatchObject({ keyColumns: ['code'], keys: [['c2']] });
      expect(reads.count()).toBeGreaterThan(afterFirst);
      await advance(p.source, spec.slot, changed.lastLsn!);
    } finally {
      reads.restore();
      await sql(p.sourceUrl, `ALTER TABLE public.accounts ADD PRIMARY KEY (id), REPLICA IDENTITY DEFAULT`);
    }
  });

  it('reuses a table context under the same signatures and reads it again under new ones', async () => {
    const signatures = async () => ({
      source: await catalogSignature(p.source, spec.publication),
      target: await catalogSignature(p.target, spec.publication),
    });
    const before = await signatures();
    const keys = [['3']];
    const first = await verifyKeys(p.source, p.target, table('accounts'), keys, { catalog: before });
    expect(first.checked.map((c) => c.status)).toEqual(['equal']);
    // The target gets a column the source does not have: its rows can no longer be compared.
    await sql(p.targetUrl, `ALTER TABLE public.accounts ADD COLUMN extra int DEFAULT 1`);
    try {
      const reads = countCatalogReads();
      try {
        // Under the signatures it was read under, the context is the one stored (no catalog read).
        const reused = await verifyKeys(p.source, p.target, table('accounts'), keys, { catalog: before });
        expect(reused.checked.map((c) => c.status)).toEqual(['equal']);
        expect(reads.count()).toBe(0);
      } finally {
        reads.restore();
      }
      // The signatures read now differ: the context is read again and the difference shows.
      const after = await signatures();
      expect(after.target).not.toBe(before.target);
      expect(after.source).toBe(before.source);
      const fresh = await verifyKeys(p.source, p.target, table('accounts'), keys, { catalog: after });
      expect(fresh.error).toMatch(/column/);
      expect(fresh.checked).toEqual([]);
    } finally {
      await sql(p.targetUrl, `ALTER TABLE public.accounts DROP COLUMN extra`);
    }
  });

  it('reads on a pool of one connection, in one and in several batches', async () => {
    const single = await createPool(p.sourceUrl, { max: 1 });
    try {
      await drain(single);
      await sql(p.sourceUrl, `UPDATE public.accounts SET v = 'z' WHERE id IN (1, 2, 3)`);
      const small = await readChanges(single, spec);
      expect(small.keysByTable['public.accounts'].keys).toHaveLength(3);
      // Several batches, then a read again on the same connection (the first read's cursor is gone by then).
      const batched = await readChanges(single, spec, { fetchRows: 2 });
      expect(batched.keysByTable).toEqual(small.keysByTable);
      const last = await readChanges(single, spec);
      expect(last.keysByTable).toEqual(small.keysByTable);
      await advance(single, spec.slot, last.lastLsn!);
      expect((await readChanges(single, spec)).changes).toBe(0);
    } finally {
      await single.end();
    }
  });

  it('lets the slot restart decoding from the last read once advanced past it', async () => {
    await drain();
    const restartLsn = async (): Promise<string> =>
      (
        await sql<{ r: string }>(
          p.sourceUrl,
          `SELECT restart_lsn::text AS r FROM pg_replication_slots WHERE slot_name = $1`,
          [spec.slot],
        )
      )[0].r;
    await sql(p.sourceUrl, `UPDATE public.accounts SET v = 'w' WHERE id = 4`);
    const [{ lsn }] = await sql<{ lsn: string }>(p.sourceUrl, `SELECT pg_current_wal_insert_lsn()::text AS lsn`);
    const isPast = async (): Promise<boolean> =>
      (
        await sql<{ past: boolean }>(p.sourceUrl, `SELECT $1::pg_lsn >= $2::pg_lsn AS past`, [await restartLsn(), lsn])
      )[0].past;
    // Rounds until the restart point passes the change: a transaction in progress at a restart point (another test
    // file's, on the shared server) holds it back a round, as often as such transactions keep running.
    let past = false;
    for (let round = 0; round < 50 && !past; round++) {
      expect(await logRestartPoint(p.source)).toBe(true);
      const c = await readChanges(p.source, spec);
      // The change is read once, in the first round; later rounds read nothing of this table.
      expect(c.keysByTable['public.accounts']?.keys).toEqual(round === 0 ? [['4']] : undefined);
      await advance(p.source, spec.slot, c.lastLsn!);
      past = await isPast();
    }
    expect(past).toBe(true);
  });
});

describe('a read that flushes first', () => {
  let p: Pair;
  const flushed = { slot: 'zdm_track_flush', publication: 'zdm_track_flush' };

  beforeAll(async () => {
    // Commits are asynchronous here (the test servers' default): decoding sees them only once the WAL is flushed.
    p = await openPair('trk_flush');
    await sql(p.sourceUrl, `CREATE TABLE public.items (id int PRIMARY KEY)`);
    await startTracking(p.source, { ...flushed, tables: [table('items')] });
  });

  afterAll(async () => {
    await stopTracking(p.source, flushed);
    await p.close();
  });

  it('sees every commit made before it', async () => {
    for (let id = 1; id <= 3; id++) {
      await p.source.query(`INSERT INTO public.items VALUES ($1)`, [id]);
      const c = await readChanges(p.source, flushed, { flush: true });
      expect(c.keysByTable['public.items']?.keys).toEqual([[String(id)]]);
      await advance(p.source, flushed.slot, c.lastLsn!);
    }
  });
});
