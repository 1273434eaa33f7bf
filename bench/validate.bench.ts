/**
 * Full validation against the in-database hashing floor and the naive ordered md5, measured in one run on two
 * embedded PostgreSQL servers, plus the Node process's peak RSS at 1M and 2M rows.
 *
 *   npm run bench:validate            (ZDM_BENCH_ROWS=4000000 for a bigger table)
 */
import type { Pool } from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../rehearsal/local/embedded-postgres';
import { createPool } from '../lambda/engine/pg/connection';
import { validate } from '../lambda/engine/validation';

const ROWS = Number(process.env.ZDM_BENCH_ROWS ?? 2_000_000);
const CONCURRENCY = Number(process.env.ZDM_BENCH_CONCURRENCY ?? 2);

const fill = (from: number, to: number): string => `
  INSERT INTO bench.orders
  SELECT g, 'customer-' || (g % 10007), (g % 100000) / 100.0, g * 1.5::float8,
         timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
         g % 3 = 0, jsonb_build_object('n', g, 'tag', 't' || (g % 17)),
         md5(g::text)::uuid
    FROM generate_series(${from}, ${to}) g`;

async function setup(pool: Pool): Promise<void> {
  await pool.query(`CREATE SCHEMA bench`);
  await pool.query(`CREATE TABLE bench.orders (
    id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), weight float8,
    created_at timestamptz, paid boolean, attrs jsonb, ref uuid)`);
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

async function main(): Promise<void> {
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', shared_buffers: '512MB' };
  let servers: LocalPostgres[] = [];
  try {
    servers = await Promise.all([
      startLocalPostgres({ name: 'bench-source', settings }),
      startLocalPostgres({ name: 'bench-target', settings }),
    ]);
    const [source, target] = await Promise.all(
      servers.map((s) => createPool(s.url(), { max: CONCURRENCY + 1, applicationName: 'zdm-bench' })),
    );
    const both = (text: string): Promise<unknown> => Promise.all([source.query(text), target.query(text)]);
    const selection = { include: [{ schema: 'bench' }] };
    await Promise.all([setup(source), setup(target)]);

    const half = Math.floor(ROWS / 2);
    await both(fill(1, half));
    await both('VACUUM ANALYZE bench.orders');
    const [t1, r1] = await timed(() => validate(source, target, selection, { concurrency: CONCURRENCY }));
    const rss1 = process.resourceUsage().maxRSS;
    if (!r1.ok) throw new Error('validation of equal data reported differences');

    await both(fill(half + 1, ROWS));
    await both('VACUUM ANALYZE bench.orders');
    // Warm both caches the same way for every contender.
    await both('SELECT count(*) FROM bench.orders');

    const [full, r2] = await timed(() => validate(source, target, selection, { concurrency: CONCURRENCY }));
    const rss2 = process.resourceUsage().maxRSS;
    if (!r2.ok) throw new Error('validation of equal data reported differences');
    // The same check without the block pass: every range read through the primary key's index.
    const [keysOnly, rk] = await timed(() =>
      validate(source, target, selection, { concurrency: CONCURRENCY, blockScan: false }),
    );
    if (!rk.ok) throw new Error('validation of equal data (key ranges only) reported differences');
    const [floor] = await timed(() => both(`SELECT sum(hashtextextended(t::text, 0)) FROM bench.orders t`));
    const [naive] = await timed(() => both(`SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM bench.orders t`));

    // Plant one changed row and time finding it.
    await target.query(`UPDATE bench.orders SET amount = amount + 0.01 WHERE id = $1`, [Math.floor(ROWS / 3)]);
    const [withDiff, r3] = await timed(() => validate(source, target, selection, { concurrency: CONCURRENCY }));
    const planted = r3.tables[0];
    const found = planted?.differences.map((d) => `${d.kind} ${JSON.stringify(d.key)}`).join(', ');

    const rows = r2.summary.sourceRows;
    console.log(
      `rows: ${rows.toLocaleString('en-US')} (8 columns: bigint, text, numeric, float8, timestamptz, bool, jsonb, uuid), concurrency ${CONCURRENCY}, hash method ${r2.hashMethod}`,
    );
    console.log(
      `full validation:                 ${seconds(full)}  (${((rows / full) * 1000).toFixed(0)} rows/s per side, ${r2.tables[0].blockRangesChecked ?? 0} block ranges, then ${r2.tables[0].rangesChecked - (r2.tables[0].blockRangesChecked ?? 0)} key ranges)`,
    );
    console.log(
      `key ranges only (blockScan off): ${seconds(keysOnly)}  (${rk.tables[0].rangesChecked} ranges; blocks take ${(full / keysOnly).toFixed(2)}x its time)`,
    );
    console.log(`hashing floor (both at once):    ${seconds(floor)}  sum(hashtextextended(t::text, 0))`);
    console.log(`naive (both at once):            ${seconds(naive)}  md5(string_agg(t::text, '' ORDER BY id))`);
    console.log(`full / floor:                    ${(full / floor).toFixed(2)}x  (target <= 1.5x)`);
    console.log(`naive / full:                    ${(naive / full).toFixed(2)}x  (target >= 3x)`);
    console.log(
      `one planted change found in:     ${seconds(withDiff)}  -> ${found} (${planted?.blockRangesChecked ?? 0} block + ${(planted?.rangesChecked ?? 0) - (planted?.blockRangesChecked ?? 0)} key ranges)`,
    );
    console.log(
      `peak RSS after ${half.toLocaleString('en-US')} rows: ${mb(rss1)} (validation ${seconds(t1)}); after ${rows.toLocaleString('en-US')} rows: ${mb(rss2)}`,
    );
    await Promise.all([source.end(), target.end()]);
  } finally {
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
