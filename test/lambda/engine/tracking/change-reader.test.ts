/**
 * Change tracking on a real PostgreSQL 16: the workflow's own publication and pgoutput slot record which keys
 * changed; reads peek (repeatable until `advance`), are bounded by LSN and by change count.
 */
import { Client } from 'pg';
import {
  advance,
  readChanges,
  startTracking,
  stopTracking,
  type TrackedChanges,
} from '../../../../lambda/engine/tracking';
import { sql } from '../../../support/databases';
import type { Pair } from '../validation/helpers';
import { openTrackingPair } from './helpers';

const spec = { slot: 'zdm_track_reader', publication: 'Track,Pub' };
const tables = ['items', 'pairs', 'Text Keys', 'events', 'nokey'].map((table) => ({ schema: 'public', table }));
const keysOf = (c: TrackedChanges, display: string): string[][] =>
  [...(c.keysByTable[display]?.keys ?? [])].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe('change tracking: slot, read, advance', () => {
  let p: Pair;
  const run = (text: string): Promise<unknown> => sql(p.sourceUrl, text);
  /** Reads everything waiting and consumes it. */
  const drain = async (): Promise<void> => {
    const c = await readChanges(p.source, spec);
    if (c.lastLsn) await advance(p.source, spec.slot, c.lastLsn);
  };

  beforeAll(async () => {
    p = await openTrackingPair('trk_reader');
    await run(`
      CREATE TABLE public.items (id int PRIMARY KEY, v text);
      CREATE TABLE public.pairs (note text, b text NOT NULL, a int NOT NULL, PRIMARY KEY (a, b));
      CREATE TABLE public."Text Keys" (code text PRIMARY KEY, v int);
      CREATE TABLE public.events (day date NOT NULL, id int NOT NULL, v text, PRIMARY KEY (id, day))
        PARTITION BY RANGE (day);
      CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE TABLE public.nokey (v text);
      ALTER TABLE public.nokey REPLICA IDENTITY FULL;
      CREATE TABLE public.untracked (id int PRIMARY KEY);
      INSERT INTO public.items VALUES (1, 'a'), (2, 'b'), (3, 'c');
      INSERT INTO public.pairs VALUES ('n', 'x', 1);
      INSERT INTO public.events VALUES ('2024-05-01', 1, 'e')`);
  });

  afterAll(async () => {
    await stopTracking(p.source, spec);
    await p.close();
  });

  it('creates the publication then the slot, idempotently', async () => {
    const first = await startTracking(p.source, { ...spec, tables });
    expect(first.created).toBe(true);
    expect(first.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const again = await startTracking(p.source, { ...spec, tables });
    expect(again).toEqual({ slot: spec.slot, lsn: first.lsn, created: false });
    const published = await sql<{ t: string }>(
      p.sourceUrl,
      `SELECT tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
      [spec.publication],
    );
    // Partitions publish as themselves (so a TRUNCATE of one is published); the reader maps them to their table.
    expect(published.map((r) => r.t)).toEqual(['Text Keys', 'events_2024', 'events_2025', 'items', 'nokey', 'pairs']);
    const [slot] = await sql(p.sourceUrl, `SELECT plugin FROM pg_replication_slots WHERE slot_name = $1`, [spec.slot]);
    expect(slot).toEqual({ plugin: 'pgoutput' });
  });

  it('resets the table list of a publication left behind without its slot, and refuses bad slot names', async () => {
    const other = { slot: 'zdm_track_other', publication: 'zdm_track_other' };
    await run(`CREATE PUBLICATION zdm_track_other FOR TABLE public.untracked`);
    expect((await startTracking(p.source, { ...other, tables: [tables[0]] })).created).toBe(true);
    const published = await sql(p.sourceUrl, `SELECT tablename FROM pg_publication_tables WHERE pubname = $1`, [
      other.publication,
    ]);
    expect(published).toEqual([{ tablename: 'items' }]);
    expect(await stopTracking(p.source, other)).toEqual({ slot: 'dropped', publication: 'dropped' });
    await expect(startTracking(p.source, { ...other, slot: 'Bad-Name', tables })).rejects.toThrow(/invalid/);
  });

  it('tracks inserted, updated (old and new key), deleted keys; composite, text and partitioned keys', async () => {
    await run(`INSERT INTO public.items VALUES (10, 'new')`);
    await run(`UPDATE public.items SET v = 'changed' WHERE id = 1`);
    await run(`DELETE FROM public.items WHERE id = 2`);
    await run(`UPDATE public.items SET id = 30 WHERE id = 3`);
    await run(`UPDATE public.pairs SET b = 'y' WHERE a = 1`);
    await run(`INSERT INTO public.pairs VALUES ('m', 'z', 2)`);
    await run(`INSERT INTO public."Text Keys" VALUES ('O''Brien, "x"', 1), ('ü (1)', 2)`);
    await run(`INSERT INTO public.events VALUES ('2025-02-01', 2, 'f')`);
    await run(`UPDATE public.events SET day = '2025-03-01' WHERE id = 1`); // moves to another partition
    await run(`INSERT INTO public.untracked VALUES (1)`);
    const c = await readChanges(p.source, spec);
    expect(Object.keys(c.keysByTable).sort()).toEqual([
      'public."Text Keys"',
      'public.events',
      'public.items',
      'public.pairs',
    ]);
    expect(keysOf(c, 'public.items')).toEqual([['1'], ['10'], ['2'], ['3'], ['30']]);
    expect(c.keysByTable['public.pairs'].keyColumns).toEqual(['a', 'b']);
    expect(keysOf(c, 'public.pairs')).toEqual([
      ['1', 'x'],
      ['1', 'y'],
      ['2', 'z'],
    ]);
    expect(keysOf(c, 'public."Text Keys"')).toEqual([['O\'Brien, "x"'], ['ü (1)']]);
    expect(c.keysByTable['public.events']).toMatchObject({ table: { schema: 'public', table: 'events' } });
    expect(keysOf(c, 'public.events')).toEqual([
      ['1', '2024-05-01'],
      ['1', '2025-03-01'],
      ['2', '2025-02-01'],
    ]);
    expect(c.truncated).toEqual([]);
    expect(c.more).toBe(false);
    // 4 items + 2 pairs + 2 text keys + 1 insert and 1 cross-partition update (delete + insert) of events.
    expect(c.changes).toBe(11);
    expect(c.lastLsn).not.toBeNull();
  });

  it('re-reads the same changes until advanced, then no more (advance is idempotent)', async () => {
    const first = await readChanges(p.source, spec);
    const second = await readChanges(p.source, spec);
    expect(second.keysByTable).toEqual(first.keysByTable);
    expect(keysOf(second, 'public.items')).toHaveLength(5);
    const moved = await advance(p.source, spec.slot, first.lastLsn!);
    expect(moved.moved).toBe(true);
    const after = await readChanges(p.source, spec);
    expect(after.keysByTable).toEqual({});
    expect(after.changes).toBe(0);
    expect(await advance(p.source, spec.slot, first.lastLsn!)).toEqual({ lsn: moved.lsn, moved: false });
  });

  it('reports TRUNCATE and flags the table for range re-verification', async () => {
    await drain();
    await run(`INSERT INTO public.items VALUES (40, 'x')`);
    await run(`TRUNCATE public.items`);
    const c = await readChanges(p.source, spec);
    expect(c.truncated).toEqual(['public.items']);
    expect(c.keysByTable['public.items']).toMatchObject({ keys: [], rangeCheck: 'truncated' });
  });

  it('reports a TRUNCATE of one partition as a TRUNCATE of its partitioned table', async () => {
    await drain();
    await run(`TRUNCATE public.events_2024`);
    const c = await readChanges(p.source, spec);
    expect(c.truncated).toEqual(['public.events']);
    expect(Object.keys(c.keysByTable)).toEqual(['public.events']);
    expect(c.keysByTable['public.events'].rangeCheck).toBe('truncated');
  });

  it('flags the partitioned tables for changes in a partition dropped before the read', async () => {
    await drain();
    await run(
      `CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
    );
    await run(`INSERT INTO public.events VALUES ('2026-02-01', 7, 'gone soon')`);
    await run(`DROP TABLE public.events_2026`);
    const c = await readChanges(p.source, spec);
    expect(Object.keys(c.keysByTable)).toEqual(['public.events']);
    expect(c.keysByTable['public.events']).toMatchObject({
      keys: [],
      rangeCheck: expect.stringMatching(/not in the catalog/),
    });
  });

  it('keeps tracking a renamed table (relations are matched by oid)', async () => {
    await drain();
    await run(`ALTER TABLE public.pairs RENAME TO pairs_renamed`);
    await run(`INSERT INTO public.pairs_renamed VALUES ('r', 'w', 5)`);
    const c = await readChanges(p.source, spec);
    expect(keysOf(c, 'public.pairs_renamed')).toEqual([['5', 'w']]);
    await run(`ALTER TABLE public.pairs_renamed RENAME TO pairs`);
  });

  it('flags changes that cannot be keyed, and tables past the key cap', async () => {
    await drain();
    await run(`INSERT INTO public.nokey VALUES ('a')`);
    await run(`INSERT INTO public."Text Keys" SELECT 'k' || g, g FROM generate_series(1, 5) g`);
    const c = await readChanges(p.source, spec, { maxKeysPerTable: 3 });
    expect(c.keysByTable['public.nokey']).toMatchObject({
      keys: [],
      rangeCheck: expect.stringMatching(/no usable key/),
    });
    expect(c.keysByTable['public."Text Keys"']).toMatchObject({ keys: [], rangeCheck: 'more than 3 changed keys' });
    expect(keysOf(await readChanges(p.source, spec), 'public."Text Keys"')).toHaveLength(5);
  });

  it('reads only up to an LSN bound, and advancing to it keeps later changes', async () => {
    await drain();
    await run(`INSERT INTO public.items VALUES (100, 'before')`);
    const [{ lsn }] = await sql<{ lsn: string }>(p.sourceUrl, `SELECT pg_current_wal_lsn()::text AS lsn`);
    await run(`INSERT INTO public.items VALUES (101, 'after')`);
    const bounded = await readChanges(p.source, spec, { uptoLsn: lsn });
    expect(keysOf(bounded, 'public.items')).toEqual([['100']]);
    expect(bounded.more).toBe(false);
    expect(bounded.lastLsn).toBe(lsn);
    await advance(p.source, spec.slot, bounded.lastLsn!);
    expect(keysOf(await readChanges(p.source, spec), 'public.items')).toEqual([['101']]);
  });

  it('says more may be waiting when the bound is beyond the flushed WAL', async () => {
    await drain();
    await run(`INSERT INTO public.items VALUES (200, 'x')`);
    const c = await readChanges(p.source, spec, { uptoLsn: 'FFFF/0' });
    expect(keysOf(c, 'public.items')).toEqual([['200']]);
    expect(c.more).toBe(true);
    // Everything flushed was read: the slot may move up to there, not to the requested bound.
    const [{ flushed }] = await sql<{ flushed: boolean }>(
      p.sourceUrl,
      `SELECT $1::pg_lsn <= pg_current_wal_flush_lsn() AS flushed`,
      [c.lastLsn],
    );
    expect(flushed).toBe(true);
  });

  it('moves past unpublished writes, so a slot over idle tables does not hold WAL back', async () => {
    await drain();
    await run(`INSERT INTO public.untracked SELECT g FROM generate_series(2, 50) g`);
    const c = await readChanges(p.source, spec);
    expect(c.keysByTable).toEqual({});
    expect(c.lastLsn).not.toBeNull();
    const before = await sql<{ at: string }>(
      p.sourceUrl,
      `SELECT confirmed_flush_lsn::text AS at FROM pg_replication_slots WHERE slot_name = $1`,
      [spec.slot],
    );
    expect((await advance(p.source, spec.slot, c.lastLsn!)).moved).toBe(true);
    const [{ behind }] = await sql<{ behind: boolean }>(
      p.sourceUrl,
      `SELECT $1::pg_lsn < confirmed_flush_lsn AS behind FROM pg_replication_slots WHERE slot_name = $2`,
      [before[0].at, spec.slot],
    );
    expect(behind).toBe(true);
  });

  it('reads in bounded batches of whole transactions', async () => {
    await drain();
    for (const g of [300, 310, 320]) await run(`INSERT INTO public.items VALUES (${g}, 'a'), (${g + 1}, 'b')`);
    const seen: string[][][] = [];
    let c: TrackedChanges;
    do {
      c = await readChanges(p.source, spec, { maxChanges: 2, fetchRows: 3 });
      seen.push(keysOf(c, 'public.items'));
      if (c.lastLsn) await advance(p.source, spec.slot, c.lastLsn);
    } while (c.more);
    expect(seen.slice(0, 3)).toEqual([
      [['300'], ['301']],
      [['310'], ['311']],
      [['320'], ['321']],
    ]);
    expect(seen.slice(3).flat()).toEqual([]);
  });

  it('keeps a slot in use, then drops slot and publication, idempotently', async () => {
    const walsender = new Client({ connectionString: p.sourceUrl, replication: 'database' } as never);
    await walsender.connect();
    walsender.on('error', () => undefined);
    void walsender
      .query(`START_REPLICATION SLOT ${spec.slot} LOGICAL 0/0 (proto_version '1', publication_names '"Track,Pub"')`)
      .catch(() => undefined);
    const active = async (): Promise<boolean> =>
      (
        await sql<{ a: boolean }>(p.sourceUrl, `SELECT active AS a FROM pg_replication_slots WHERE slot_name = $1`, [
          spec.slot,
        ])
      )[0].a;
    for (let i = 0; i < 100 && !(await active()); i++) await new Promise((r) => setTimeout(r, 50));
    const busy = await stopTracking(p.source, spec);
    expect(busy).toMatchObject({ slot: 'in-use', publication: 'kept' });
    expect(busy.message).toMatch(/in use by process \d+/);
    await walsender.end().catch(() => undefined);
    for (let i = 0; i < 100 && (await active()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await stopTracking(p.source, spec)).toEqual({ slot: 'dropped', publication: 'dropped' });
    expect(await stopTracking(p.source, spec)).toEqual({ slot: 'absent', publication: 'absent' });
  });
});
