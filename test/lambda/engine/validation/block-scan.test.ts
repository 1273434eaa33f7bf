import { blockRanges, blockScanPossible } from '../../../../lambda/engine/validation/block-scan';
import { validate, type TableValidation, type ValidationReport } from '../../../../lambda/engine/validation';
import type { Catalog } from '../../../../lambda/engine/catalog';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from './helpers';

const tableOf = (r: ValidationReport, display: string): TableValidation => {
  const t = r.tables.find((x) => x.table === display);
  if (!t) throw new Error(`no ${display} in report: ${r.tables.map((x) => x.table).join(', ')}`);
  return t;
};
const keyRanges = (t: TableValidation): number => t.rangesChecked - (t.blockRangesChecked ?? 0);

describe('block ranges', () => {
  it('cut [0, blocks) into contiguous ranges, open below the first and above the last', () => {
    const ranges = blockRanges({ maxBlocks: 100, totalBlocks: 100, heapsOnly: true }, 10_000, 2_500);
    expect(ranges).toEqual([{ upper: 25 }, { lower: 25, upper: 50 }, { lower: 50, upper: 75 }, { lower: 75 }]);
  });

  it('read a small or empty table in one range without bounds', () => {
    expect(blockRanges({ maxBlocks: 3, totalBlocks: 3, heapsOnly: true }, 100, 2_500)).toEqual([{}]);
    expect(blockRanges({ maxBlocks: 0, totalBlocks: 0, heapsOnly: true }, -1, 1)).toEqual([{}]);
  });

  it('never cut more ranges than there are blocks, and guess rows for a table never analyzed', () => {
    expect(blockRanges({ maxBlocks: 2, totalBlocks: 2, heapsOnly: true }, 1_000_000, 10)).toHaveLength(2);
    // -1 rows (never analyzed): 40 blocks are taken for 4,000 rows.
    expect(blockRanges({ maxBlocks: 40, totalBlocks: 40, heapsOnly: true }, -1, 1_000)).toHaveLength(4);
  });

  it('are used only when both sides are PostgreSQL 14 or later', () => {
    const at = (v: number): Catalog => ({ serverVersionNum: v }) as Catalog;
    expect(blockScanPossible(at(140000), at(160004))).toBe(true);
    expect(blockScanPossible(at(130012), at(160004))).toBe(false);
    expect(blockScanPossible(at(160004), at(130012))).toBe(false);
  });
});

describe('full validation: block pass first, key ranges where it differs', () => {
  let p: Pair;
  const small = { rangeRows: 1_000, leafRows: 40 };
  const only = (table: string): { include: { schema: string; table: string }[] } => ({
    include: [{ schema: 'public', table }],
  });
  beforeAll(async () => {
    p = await openPair('ck_blocks');
    await p.both(`
      CREATE TABLE public.items (id int PRIMARY KEY, v text, n numeric(10,2));
      CREATE TABLE public.parts (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
      CREATE TABLE public.parts_small PARTITION OF public.parts FOR VALUES FROM (0) TO (500);
      CREATE TABLE public.parts_big PARTITION OF public.parts FOR VALUES FROM (500) TO (100000);`);
    // The same rows in another physical order on each side: the target's rows are inserted backwards, and a
    // third of them are updated afterwards (new row versions at the end of the heap), as a DMS load and its CDC
    // would leave them. Block ranges then hold different rows on the two sides.
    await sql(p.sourceUrl, `INSERT INTO public.items SELECT g, 'v' || g, g / 10.0 FROM generate_series(1, 8000) g`);
    await sql(
      p.targetUrl,
      `INSERT INTO public.items SELECT g, 'v' || g || 'x', g / 10.0 FROM generate_series(8000, 1, -1) g;
       UPDATE public.items SET v = 'v' || id WHERE id % 3 <> 0;
       UPDATE public.items SET v = 'v' || id WHERE id % 3 = 0;`,
    );
    await p.both(`INSERT INTO public.parts SELECT g, 'p' || g FROM generate_series(1, 6000) g; ANALYZE`);
  });
  afterAll(() => p.close());

  it('decides equal tables by their block totals alone, whatever their physical order', async () => {
    const heapBlocks = async (url: string): Promise<number> =>
      Number((await sql<{ b: string }>(url, `SELECT pg_relation_size('public.items') / 8192 AS b`))[0].b);
    const pages = { source: await heapBlocks(p.sourceUrl), target: await heapBlocks(p.targetUrl) };
    expect(pages.target).toBeGreaterThan(pages.source); // the layouts really differ
    const report = await validate(p.source, p.target, only('items'), small);
    const t = tableOf(report, 'public.items');
    expect(t).toMatchObject({ status: 'match', sourceRows: 8000, targetRows: 8000 });
    expect(t.blockRangesChecked).toBeGreaterThan(4);
    expect(keyRanges(t)).toBe(0);
  });

  it('reads a partitioned table by blocks across partitions of different sizes', async () => {
    const report = await validate(p.source, p.target, only('parts'), small);
    const t = tableOf(report, 'public.parts');
    expect(t).toMatchObject({ status: 'match', sourceRows: 6000, targetRows: 6000 });
    expect(t.blockRangesChecked).toBeGreaterThan(1);
    expect(keyRanges(t)).toBe(0);
  });

  it('finds the changed, missing and extra rows, in the last block too, by key ranges after the totals differ', async () => {
    // The source's last row is in its last block: a last range with an upper bound would miss it.
    await sql(
      p.targetUrl,
      `UPDATE public.items SET n = n + 1 WHERE id = 4321;
       DELETE FROM public.items WHERE id = 8000;
       INSERT INTO public.items VALUES (9000, 'extra', 0)`,
    );
    try {
      const report = await validate(p.source, p.target, only('items'), small);
      const t = tableOf(report, 'public.items');
      expect(t).toMatchObject({ status: 'mismatch', sourceRows: 8000, targetRows: 8000, differenceCount: 3 });
      expect(t.differences.map((d) => `${d.kind} ${d.key.id}`).sort()).toEqual(
        ['changed 4321', 'extra 9000', 'missing 8000'].sort(),
      );
      expect(t.blockRangesChecked).toBeGreaterThan(4);
      expect(keyRanges(t)).toBeGreaterThan(0);
      expect(report.ok).toBe(false);
    } finally {
      await sql(
        p.targetUrl,
        `UPDATE public.items SET n = n - 1 WHERE id = 4321; INSERT INTO public.items VALUES (8000, 'v8000', 800);
         DELETE FROM public.items WHERE id = 9000`,
      );
    }
  });

  it('sees a value swapped between two rows (the totals of the columns are unchanged)', async () => {
    await sql(
      p.targetUrl,
      `UPDATE public.parts SET v = CASE id WHEN 10 THEN 'p4000' ELSE 'p10' END WHERE id IN (10, 4000)`,
    );
    try {
      const report = await validate(p.source, p.target, only('parts'), small);
      const t = tableOf(report, 'public.parts');
      expect(t.status).toBe('mismatch');
      expect(t.differences.map((d) => `${d.kind} ${d.key.id}`).sort()).toEqual(['changed 10', 'changed 4000']);
    } finally {
      await sql(p.targetUrl, `UPDATE public.parts SET v = 'p' || id WHERE id IN (10, 4000)`);
    }
  });

  it('reads by key ranges only with blockScan: false, to the same verdict', async () => {
    const report = await validate(p.source, p.target, only('items'), { ...small, blockScan: false });
    const t = tableOf(report, 'public.items');
    expect(t).toMatchObject({ status: 'match', sourceRows: 8000, targetRows: 8000 });
    expect(t.blockRangesChecked).toBeUndefined();
    expect(t.rangesChecked).toBeGreaterThan(4);
  });
});
