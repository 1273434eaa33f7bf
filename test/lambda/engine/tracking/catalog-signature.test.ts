/**
 * The catalog signature that lets the tracking reads and key checks reuse catalog data across rounds: unchanged by
 * writes and statistics, changed by anything `readCatalog` would read differently, and for good (a change undone
 * still counts: row versions never go back).
 */
import { createPool } from '../../../../lambda/engine/pg/connection';
import { catalogSignature } from '../../../../lambda/engine/tracking';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from '../validation/helpers';

describe('catalogSignature', () => {
  let p: Pair;
  const pub = 'Sig,Pub';
  const signature = (): Promise<string> => catalogSignature(p.source, pub);
  const run = (text: string): Promise<unknown> => sql(p.sourceUrl, text);
  /** Asserts that `statement` changes the signature, and returns the new one. */
  const changes = async (statement: string): Promise<string> => {
    const before = await signature();
    await run(statement);
    const after = await signature();
    expect(after).not.toBe(before);
    return after;
  };

  beforeAll(async () => {
    p = await openPair('trk_signature');
    await run(`
      CREATE TYPE public.mood AS ENUM ('ok', 'meh');
      CREATE TABLE public.items (id int PRIMARY KEY, v text, m public.mood, tags text[]);
      CREATE TABLE public.events (day date NOT NULL, id int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
      CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE public.other (id int PRIMARY KEY);
      CREATE PUBLICATION "Sig,Pub" FOR TABLE public.items, public.events WITH (publish_via_partition_root = false);
      INSERT INTO public.items SELECT g, 'v' || g, 'ok', '{a}' FROM generate_series(1, 50) g`);
  });

  afterAll(async () => {
    await p.close();
  });

  it('stays the same through writes, VACUUM and ANALYZE, and on another connection', async () => {
    const first = await signature();
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    await run(`UPDATE public.items SET v = v || '!'; INSERT INTO public.events VALUES ('2024-03-01', 1)`);
    await run(`VACUUM ANALYZE public.items`);
    await run(`ANALYZE public.events`);
    // a table outside the publication is not covered
    await run(`ALTER TABLE public.other ADD COLUMN extra int`);
    expect(await signature()).toBe(first);
    const other = await createPool(p.sourceUrl, { max: 1 });
    try {
      expect(await catalogSignature(other, pub)).toBe(first);
    } finally {
      await other.end();
    }
  });

  it('changes with every column, key, index, name or type change of a published table', async () => {
    await changes(`ALTER TABLE public.items ADD COLUMN n int`);
    await changes(`ALTER TABLE public.items ALTER COLUMN n TYPE bigint`);
    await changes(`ALTER TABLE public.items ALTER COLUMN v SET NOT NULL`);
    await changes(`ALTER TABLE public.items ALTER COLUMN v TYPE text COLLATE "C"`);
    await changes(`CREATE UNIQUE INDEX items_v ON public.items (v)`);
    await changes(`ALTER TABLE public.items DROP CONSTRAINT items_pkey`);
    await changes(`ALTER TABLE public.items ADD PRIMARY KEY (v)`);
    await changes(`ALTER TABLE public.items RENAME COLUMN n TO n2`);
    await changes(`ALTER TABLE public.items DROP COLUMN n2`);
    await changes(`ALTER TYPE public.mood RENAME TO feeling`);
    await changes(`ALTER TABLE public.items RENAME TO items2`);
    await changes(`ALTER TABLE public.items2 RENAME TO items`);
  });

  it('changes with the partitions and the publication', async () => {
    await changes(
      `CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
    );
    await changes(`ALTER TABLE public.events DETACH PARTITION public.events_2025`);
    await changes(`ALTER PUBLICATION "Sig,Pub" ADD TABLE public.other`);
    await changes(`ALTER PUBLICATION "Sig,Pub" DROP TABLE public.other`);
    await changes(`ALTER PUBLICATION "Sig,Pub" SET (publish_via_partition_root = true)`);
  });

  it('never comes back to an earlier value when a change is undone', async () => {
    const before = await signature();
    await run(`ALTER TABLE public.items ALTER COLUMN tags TYPE varchar[]`);
    await run(`ALTER TABLE public.items ALTER COLUMN tags TYPE text[]`);
    await run(`ALTER PUBLICATION "Sig,Pub" DROP TABLE public.events`);
    await run(`ALTER PUBLICATION "Sig,Pub" ADD TABLE public.events`);
    expect(await signature()).not.toBe(before);
  });
});
