import {
  aggregateResults,
  countRows,
  planRanges,
  recheck,
  validate,
  validateRanges,
  type RangeTask,
  type RowDifference,
  type TableValidation,
  type ValidationReport,
} from '../../../../lambda/engine/validation';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from './helpers';

const kinds = (t: TableValidation | undefined): string[] =>
  (t?.differences ?? []).map((d: RowDifference) => `${d.kind} ${JSON.stringify(d.key)}`).sort();
const tableOf = (r: ValidationReport, display: string): TableValidation => {
  const t = r.tables.find((x) => x.table === display);
  if (!t) throw new Error(`no ${display} in report: ${r.tables.map((x) => x.table).join(', ')}`);
  return t;
};
const small = { rangeRows: 500, leafRows: 40 };

// ------------------------------------------------------------------ every column type, uuid key
const TYPES_SOURCE = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE public.types (
    id uuid PRIMARY KEY, n numeric, f float8, r real, ts timestamptz, tsn timestamp, d date, iv interval,
    j jsonb, js json, b bytea, arr int[], tarr text[], e mood, earr mood[], t text, p point, ip inet,
    bits varbit, c char(5), tz timetz, m money)`;
// Target: enum OIDs differ (another enum first) and the columns are in the reverse physical order.
const TYPES_TARGET = `
  CREATE TYPE other_enum AS ENUM ('x');
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE public.types (
    m money, tz timetz, c char(5), bits varbit, ip inet, p point, t text, earr mood[], e mood, tarr text[], arr int[],
    b bytea, js json, j jsonb, iv interval, d date, tsn timestamp, ts timestamptz, r real, f float8, n numeric,
    id uuid PRIMARY KEY)`;
const TYPES_DATA = `
  INSERT INTO public.types (id, n, f, r, ts, tsn, d, iv, j, js, b, arr, tarr, e, earr, t, p, ip, bits, c, tz, m) VALUES
   ('00000000-0000-0000-0000-000000000001', 1.10, 'NaN', '-0', '2024-03-01 12:00:00.123456+00', '2024-03-01 12:00',
    '2024-03-01', '1 day 2 hours 3.5 seconds', '{"a": 1, "b": [1, 2.50]}', '{"b": 1,  "a": 2}', '\\xdeadbeef00',
    '{1,2,NULL}', '{"a","",NULL,"NULL"}', 'happy', '{sad,ok}', '', '(1.5,2)', '10.0.0.1/8', B'101', 'ab',
    '12:30:00+05:30', 12.34),
   ('00000000-0000-0000-0000-000000000002', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
   ('00000000-0000-0000-0000-000000000003', 'NaN', 'Infinity', '-Infinity', 'infinity', '-infinity', 'infinity',
    '-1 year -2 mons', '"NULL"', 'null', '\\x', '{}', '{}', 'ok', '{}', 'NULL', '(0,0)', '::1', B'', '', '00:00:00+00', 0);
  INSERT INTO public.types (id, n, f, ts, j, t, e, arr, b, iv)
  SELECT md5(g::text)::uuid, g / 3.0, g * 0.1, timestamptz '2020-01-01 00:00:00+00' + g * interval '37 minutes',
         jsonb_build_object('g', g, 's', repeat('x', g % 7)), CASE WHEN g % 5 = 0 THEN NULL ELSE 'row ' || g END,
         (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, ARRAY[g, g + 1], int4send(g), g * interval '1 minute'
    FROM generate_series(1, 3000) g`;
const uuidOf = (g: number): Promise<string> =>
  sql<{ u: string }>(pair.sourceUrl, `SELECT md5($1::text)::uuid::text AS u`, [String(g)]).then((r) => r[0].u);

let pair: Pair;
const selection = { include: [{ schema: 'public' }] };

describe('full checksums: column types', () => {
  beforeAll(async () => {
    pair = await openPair('ck_types');
    await Promise.all([sql(pair.sourceUrl, TYPES_SOURCE), sql(pair.targetUrl, TYPES_TARGET)]);
    await pair.both(TYPES_DATA);
    await pair.both('ANALYZE');
    // Server-side defaults on the target that would change every text form if they reached our sessions.
    await sql(
      pair.targetUrl,
      `ALTER DATABASE ${pair.name} SET TimeZone = 'Asia/Kolkata';
       ALTER DATABASE ${pair.name} SET DateStyle = 'SQL, DMY';
       ALTER DATABASE ${pair.name} SET IntervalStyle = 'sql_standard';
       ALTER DATABASE ${pair.name} SET extra_float_digits = 0;
       ALTER DATABASE ${pair.name} SET bytea_output = 'escape'`,
    );
    await pair.reconnect();
  });
  afterAll(() => pair.close());

  it('finds no difference in equal data despite column order, enum OIDs and target session defaults', async () => {
    const raw = await sql<{ tz: string }>(pair.targetUrl, `SELECT current_setting('TimeZone') AS tz`);
    expect(raw[0].tz).toBe('Asia/Kolkata');
    const pinned = await pair.target.query(`SELECT current_setting('TimeZone') AS tz`);
    expect(pinned.rows[0].tz).toBe('UTC');

    const report = await validate(pair.source, pair.target, selection, small);
    expect(report.hashMethod).toBe('record');
    expect(tableOf(report, 'public.types')).toMatchObject({
      status: 'match',
      sourceRows: 3003,
      targetRows: 3003,
      differences: [],
    });
    expect(report.ok).toBe(true);
  });

  it('finds no difference in equal data with the text hash method (PostgreSQL 12/13 sources)', async () => {
    const report = await validate(pair.source, pair.target, selection, { ...small, hashMethod: 'text' });
    expect(report.hashMethod).toBe('text');
    expect(report.ok).toBe(true);
  });

  it('reports one changed row per changed column type, and NULL vs empty vs "NULL" text', async () => {
    const changes: [number, string][] = [
      [1, `n = n + 0.000001`],
      [2, `f = f + 1e-9`],
      [3, `ts = ts + interval '1 microsecond'`],
      [4, `j = j || '{"x": 1}'`],
      [6, `e = 'happy'`], // was 'sad' (6 % 3 = 0)
      [7, `arr = ARRAY[7, 9]`],
      [8, `b = '\\x00'`],
      [9, `iv = iv + interval '1 second'`],
      [10, `t = ''`], // was NULL (10 % 5 = 0)
    ];
    const client = pair.targetUrl;
    const changedIds: string[] = [];
    for (const [g, set] of changes) {
      const id = await uuidOf(g);
      await sql(client, `UPDATE public.types SET ${set} WHERE id = $1`, [id]);
      changedIds.push(id);
    }
    await sql(client, `UPDATE public.types SET t = NULL WHERE id = '00000000-0000-0000-0000-000000000003'`); // 'NULL' -> NULL
    await sql(
      client,
      `UPDATE public.types SET tarr = '{"a","",NULL,NULL}' WHERE id = '00000000-0000-0000-0000-000000000001'`,
    );
    changedIds.push('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000001');
    try {
      for (const hashMethod of ['record', 'text'] as const) {
        const report = await validate(pair.source, pair.target, selection, { ...small, hashMethod });
        const t = tableOf(report, 'public.types');
        expect(t.status).toBe('mismatch');
        expect(kinds(t)).toEqual(changedIds.map((id) => `changed ${JSON.stringify({ id })}`).sort());
        expect(t.differenceCount).toBe(changedIds.length);
      }
    } finally {
      await sql(client, `DELETE FROM public.types`);
      await sql(client, TYPES_DATA);
    }
  });

  it('treats numeric 1.10 and 1.1 as different by default, and equal with exactNumeric: false', async () => {
    await sql(pair.targetUrl, `UPDATE public.types SET n = 1.1 WHERE id = '00000000-0000-0000-0000-000000000001'`);
    const exact = await validate(pair.source, pair.target, selection, small);
    expect(kinds(tableOf(exact, 'public.types'))).toEqual([
      `changed ${JSON.stringify({ id: '00000000-0000-0000-0000-000000000001' })}`,
    ]);
    const byValue = await validate(pair.source, pair.target, selection, { ...small, exactNumeric: false });
    expect(tableOf(byValue, 'public.types').status).toBe('match');
  });
});

// ------------------------------------------------------------------ integer keys, range boundaries, fan-out
describe('full checksums: planted differences', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('ck_planted');
    await p.both(`
      CREATE TABLE public.items (id int PRIMARY KEY, v text, n numeric(10,2));
      INSERT INTO public.items SELECT g, 'v' || g, g / 10.0 FROM generate_series(1, 10000) g;
      CREATE TABLE public.nokey (a int, b text);
      INSERT INTO public.nokey VALUES (1, 'x');
      CREATE TABLE public.only_source (id int PRIMARY KEY);
      ANALYZE;`);
    await sql(p.targetUrl, `DROP TABLE public.only_source`);
  });
  afterAll(() => p.close());

  it('finds missing, extra and changed rows at the first and last key of ranges', async () => {
    const itemsOnly = { include: [{ schema: 'public', table: 'items' }] };
    const plan = await planRanges(p.source, p.target, itemsOnly, { rangeRows: 1000 });
    expect(plan.tasks.length).toBeGreaterThan(4);
    const boundary = Number(plan.tasks[0].upper![0]); // last key of range 0
    const boundary2 = Number(plan.tasks[2].upper![0]);
    await sql(
      p.targetUrl,
      `DELETE FROM public.items WHERE id IN (1, 10000, $1);
       UPDATE public.items SET v = NULL WHERE id = $2;
       UPDATE public.items SET n = n + 1 WHERE id = $3;
       INSERT INTO public.items VALUES (0, 'before'), (10001, 'after');`
        .replace(/\$1/g, String(boundary))
        .replace(/\$2/g, String(boundary + 1))
        .replace(/\$3/g, String(boundary2)),
    );
    try {
      const report = await validate(p.source, p.target, itemsOnly, { rangeRows: 1000, leafRows: 20 });
      const t = tableOf(report, 'public.items');
      expect(t).toMatchObject({ status: 'mismatch', sourceRows: 10000, targetRows: 9999, differenceCount: 7 });
      expect(kinds(t)).toEqual(
        [
          'missing {"id":1}',
          'missing {"id":10000}',
          `missing {"id":${boundary}}`,
          `changed {"id":${boundary + 1}}`,
          `changed {"id":${boundary2}}`,
          'extra {"id":0}',
          'extra {"id":10001}',
        ].sort(),
      );
      expect(t.rangesChecked).toBeGreaterThan(plan.tasks.length);

      // The same through JSON range tasks in two batches, as a Step Functions Map state runs them.
      const tasks = JSON.parse(JSON.stringify(plan.tasks)) as RangeTask[];
      const half = Math.ceil(tasks.length / 2);
      const results = [
        ...(await validateRanges(p.source, p.target, tasks.slice(0, half), { leafRows: 20 })),
        ...(await validateRanges(p.source, p.target, tasks.slice(half), { leafRows: 20 })),
      ];
      const aggregated = aggregateResults(JSON.parse(JSON.stringify(plan)), JSON.parse(JSON.stringify(results)));
      expect(kinds(tableOf(aggregated, 'public.items'))).toEqual(kinds(t));
      expect(aggregated.ok).toBe(false);

      // Rows in flight converge: fix two on the target, recheck after a delay.
      await sql(p.targetUrl, `INSERT INTO public.items VALUES (1, 'v1', 0.1); DELETE FROM public.items WHERE id = 0`);
      const rechecked = await recheck(p.source, p.target, report, { delayMs: 50 });
      const rt = tableOf(rechecked, 'public.items');
      expect(rt).toMatchObject({ converged: 2, confirmed: 5, differenceCount: 5, status: 'mismatch' });
      expect(rt.differences.find((d) => d.key.id === 1)?.recheck).toBe('converged');
      expect(rt.differences.find((d) => d.key.id === 10000)?.recheck).toBe('confirmed');
    } finally {
      await sql(p.targetUrl, `DELETE FROM public.items`);
      await sql(p.targetUrl, `INSERT INTO public.items SELECT g, 'v' || g, g / 10.0 FROM generate_series(1, 10000) g`);
    }
  });

  it('caps the differences listed per table and still counts them all', async () => {
    await sql(p.targetUrl, `UPDATE public.items SET v = 'x' WHERE id % 200 = 0`);
    try {
      const report = await validate(
        p.source,
        p.target,
        { include: [{ schema: 'public', table: 'items' }] },
        {
          rangeRows: 2000,
          leafRows: 100,
          maxDifferences: 10,
        },
      );
      const t = tableOf(report, 'public.items');
      expect(t.differences).toHaveLength(10);
      expect(t.differencesTruncated).toBe(true);
      expect(t.differenceCount).toBeGreaterThanOrEqual(10);
      expect(report.summary.differences).toBe(t.differenceCount);
    } finally {
      await sql(p.targetUrl, `UPDATE public.items SET v = 'v' || id WHERE id % 200 = 0`);
    }
  });

  it('counts every missing row of an emptied target table while listing only the cap', async () => {
    await sql(p.targetUrl, `TRUNCATE public.items`);
    try {
      const report = await validate(
        p.source,
        p.target,
        { include: [{ schema: 'public', table: 'items' }] },
        {
          rangeRows: 2000,
          leafRows: 100,
          maxDifferences: 150,
        },
      );
      const t = tableOf(report, 'public.items');
      expect(t).toMatchObject({
        status: 'mismatch',
        targetRows: 0,
        differenceCount: 10000,
        differencesTruncated: true,
      });
      expect(t.differences).toHaveLength(150);
      expect(new Set(t.differences.map((d) => d.kind))).toEqual(new Set(['missing']));
    } finally {
      await sql(p.targetUrl, `INSERT INTO public.items SELECT g, 'v' || g, g / 10.0 FROM generate_series(1, 10000) g`);
    }
  });

  it('fails when a selected table is missing on the target or has no key, without stopping the others', async () => {
    const report = await validate(p.source, p.target, selection, small);
    expect(tableOf(report, 'public.only_source')).toMatchObject({
      status: 'error',
      error: expect.stringContaining('exists on the source but not on the target'),
    });
    expect(tableOf(report, 'public.nokey')).toMatchObject({
      status: 'error',
      error: expect.stringContaining('no primary key'),
    });
    expect(tableOf(report, 'public.items').status).toBe('match');
    expect(report.ok).toBe(false);
    expect(report.summary).toMatchObject({ tables: 3, matched: 1, errors: 2 });
  });

  it('compares exact and estimated row counts', async () => {
    await sql(p.targetUrl, `DELETE FROM public.items WHERE id <= 3`);
    try {
      const exact = await countRows(p.source, p.target, { include: [{ schema: 'public', table: 'items' }] });
      expect(exact.tables[0]).toMatchObject({ sourceRows: 10000, targetRows: 9997, status: 'mismatch' });
      const quick = await validate(
        p.source,
        p.target,
        { include: [{ schema: 'public', table: 'items' }] },
        { mode: 'quick' },
      );
      expect(quick).toMatchObject({ ok: false, mode: 'quick' });
      await p.both('ANALYZE public.items'); // estimates are as fresh as the last ANALYZE
      const estimate = await countRows(
        p.source,
        p.target,
        { include: [{ schema: 'public', table: 'items' }] },
        { method: 'estimate' },
      );
      expect(estimate.tables[0]).toMatchObject({ sourceRows: 10000, status: 'match' });
    } finally {
      await sql(p.targetUrl, `INSERT INTO public.items SELECT g, 'v' || g, g / 10.0 FROM generate_series(1, 3) g`);
    }
  });
});

// ------------------------------------------------------------------ composite text keys, odd identifiers
describe('full checksums: composite keys and unusual identifiers', () => {
  let p: Pair;
  const odd = { schema: 'we"ird Schema', table: 'x"; drop table y; --' };
  beforeAll(async () => {
    p = await openPair('ck_odd');
    await p.both(`
      CREATE SCHEMA "Sales";
      CREATE TABLE "Sales"."Order Lines" ("Region" text, line_no int, qty int, note text, PRIMARY KEY ("Region", line_no));
      INSERT INTO "Sales"."Order Lines"
      SELECT (ARRAY['a', 'B', 'ä', '', 'zz', 'A b'])[1 + g % 6], g, g % 13, CASE WHEN g % 4 = 0 THEN NULL ELSE 'n' END
        FROM generate_series(1, 3000) g;
      CREATE TABLE public.y (id int);
      CREATE SCHEMA "we""ird Schema";
      CREATE TABLE "we""ird Schema"."x""; drop table y; --" ("Key""Col" bigint PRIMARY KEY, "Mixed Case" text);
      INSERT INTO "we""ird Schema"."x""; drop table y; --" SELECT g, 'm' || g FROM generate_series(1, 2000) g;
      ANALYZE;`);
  });
  afterAll(() => p.close());

  it('finds differences in a composite text key table in another schema', async () => {
    await sql(
      p.targetUrl,
      `DELETE FROM "Sales"."Order Lines" WHERE "Region" = 'ä' AND line_no = 2;
       UPDATE "Sales"."Order Lines" SET note = '' WHERE "Region" = '' AND line_no = 3;
       INSERT INTO "Sales"."Order Lines" VALUES ('B', 100000, 1, NULL)`,
    );
    const report = await validate(
      p.source,
      p.target,
      { include: [{ schema: 'Sales' }] },
      { rangeRows: 300, leafRows: 30 },
    );
    const t = tableOf(report, '"Sales"."Order Lines"');
    expect(kinds(t)).toEqual(
      [
        'missing {"Region":"ä","line_no":2}',
        'changed {"Region":"","line_no":3}',
        'extra {"Region":"B","line_no":100000}',
      ].sort(),
    );
  });

  it('splits text keys in byte order whatever the collations, and sees case changes under a case-insensitive collation', async () => {
    const ddl = (keyCollation: string): string => `
      CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
      CREATE TABLE public.words (w text COLLATE ${keyCollation} PRIMARY KEY, note text COLLATE ci);
      INSERT INTO public.words
      SELECT (ARRAY['a', 'B', 'é', 'Z', '_', 'ß'])[1 + g % 6] || g, CASE WHEN g % 2 = 0 THEN 'note' ELSE 'Note' END
        FROM generate_series(1, 2000) g;
      ANALYZE public.words;`;
    await Promise.all([sql(p.sourceUrl, ddl('"und-x-icu"')), sql(p.targetUrl, ddl('"C"'))]);
    const words = { include: [{ schema: 'public', table: 'words' }] };
    const equal = await validate(p.source, p.target, words, { rangeRows: 200, leafRows: 20 });
    expect(equal.tables[0]).toMatchObject({ status: 'match', sourceRows: 2000, targetRows: 2000 });

    await sql(
      p.targetUrl,
      `UPDATE public.words SET note = 'NOTE' WHERE w = 'B7'; DELETE FROM public.words WHERE w = 'é998'`,
    );
    const report = await validate(p.source, p.target, words, { rangeRows: 200, leafRows: 20 });
    expect(kinds(report.tables[0])).toEqual(['changed {"w":"B7"}', 'missing {"w":"é998"}']);
  });

  it('treats an injection-looking table name as just a name', async () => {
    await sql(
      p.targetUrl,
      `UPDATE "we""ird Schema"."x""; drop table y; --" SET "Mixed Case" = 'changed' WHERE "Key""Col" = 1500`,
    );
    const report = await validate(p.source, p.target, { include: [odd] }, { rangeRows: 400, leafRows: 30 });
    expect(report.tables).toHaveLength(1);
    expect(kinds(report.tables[0])).toEqual(['changed {"Key\\"Col":1500}']);
    const y = await sql(p.sourceUrl, `SELECT to_regclass('public.y') IS NOT NULL AS present`);
    expect(y[0].present).toBe(true);
  });
});
