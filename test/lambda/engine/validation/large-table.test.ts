import { planRanges, validate } from '../../../../lambda/engine/validation';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from './helpers';

const ROWS = 1_000_000;

describe('full checksums: a 1M-row table', () => {
  let p: Pair;
  const selection = { include: [{ schema: 'public', table: 'events' }] };
  beforeAll(async () => {
    p = await openPair('ck_large');
    await p.both(`
      CREATE TABLE public.events (id bigint PRIMARY KEY, kind text NOT NULL, amount numeric(12,2), at timestamptz);
      INSERT INTO public.events
      SELECT g, 'k' || (g % 97), (g % 10000) / 100.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
        FROM generate_series(1, ${ROWS}) g`);
    await p.both('VACUUM ANALYZE public.events');
  });
  afterAll(() => p.close());

  it('finds planted rows at range boundaries among 1M rows', async () => {
    const plan = await planRanges(p.source, p.target, selection);
    expect(plan.tasks.length).toBeGreaterThanOrEqual(4);
    const lastOfFirst = Number(plan.tasks[0].upper![0]);
    const lastOfSecond = Number(plan.tasks[1].upper![0]);
    await sql(
      p.targetUrl,
      `DELETE FROM public.events WHERE id IN (1, ${lastOfFirst}, ${ROWS});
       UPDATE public.events SET amount = amount + 0.01 WHERE id IN (${lastOfFirst + 1}, ${lastOfSecond}, 500000);
       INSERT INTO public.events VALUES (${ROWS + 1}, 'new', 1, now())`,
    );
    const started = Date.now();
    const report = await validate(p.source, p.target, selection);
    const t = report.tables[0];
    expect(t).toMatchObject({ status: 'mismatch', sourceRows: ROWS, targetRows: ROWS - 2, differenceCount: 7 });
    expect(t.differences.map((d) => `${d.kind} ${d.key.id}`).sort()).toEqual(
      [
        'missing 1',
        `missing ${lastOfFirst}`,
        `missing ${ROWS}`,
        `changed ${lastOfFirst + 1}`,
        `changed ${lastOfSecond}`,
        'changed 500000',
        `extra ${ROWS + 1}`,
      ].sort(),
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
