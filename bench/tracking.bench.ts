/**
 * Write rate of a simple insert/update load on an embedded PostgreSQL 16 (wal_level=logical) without a tracking
 * slot, with the slot present but unread, and with the slot read and advanced every few seconds as the workflow does
 * (in its own process).
 * Rounds alternate between the modes so drift in the machine's speed hits each mode alike. Not run in CI.
 *
 *   npx ts-node --transpile-only bench/tracking.bench.ts
 *   (ZDM_BENCH_SECONDS=15 ZDM_BENCH_WORKERS=4 ZDM_BENCH_ROUNDS=3 ZDM_BENCH_READ_MS=5000 are the defaults)
 */
import type { Pool } from 'pg';
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startLocalPostgres, type LocalPostgres } from '../rehearsal/local/embedded-postgres';
import { createPool } from '../lambda/engine/pg/connection';
import { sleep } from '../lambda/engine/validation/concurrency';
import { advance, readChanges, startTracking, stopTracking } from '../lambda/engine/tracking';

const SECONDS = Number(process.env.ZDM_BENCH_SECONDS ?? 15);
/** How often the reader reads and advances (the workflow's poll interval is 30 s by default). */
const READ_MS = Number(process.env.ZDM_BENCH_READ_MS ?? 5000);
const WORKERS = Number(process.env.ZDM_BENCH_WORKERS ?? 4);
const ROUNDS = Number(process.env.ZDM_BENCH_ROUNDS ?? 3);
const ROWS = 100_000;
const spec = { slot: 'zdm_bench_tracking', publication: 'zdm_bench_tracking' };

type Mode = 'no slot' | 'slot, unread' | 'slot, read + advance';

/** Each worker alternates an insert of a new row and an update of a random existing one, autocommit. */
async function load(pool: Pool, seconds: number, firstId: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let next = firstId;
  const worker = async (w: number): Promise<number> => {
    let done = 0;
    while (performance.now() < end) {
      const id = next++;
      await pool.query(`INSERT INTO bench.items (id, v, n) VALUES ($1, $2, 0)`, [id, `w${w}-${id}`]);
      await pool.query(`UPDATE bench.items SET n = n + 1, v = $2 WHERE id = $1`, [
        1 + Math.floor(Math.random() * ROWS),
        `u${w}`,
      ]);
      done += 2;
    }
    return done;
  };
  const counts = await Promise.all(Array.from({ length: WORKERS }, (_v, w) => worker(w)));
  return counts.reduce((a, b) => a + b, 0) / seconds;
}

/** Child process: reads and advances the slot every READ_MS until told to stop, then reports what it consumed. */
async function readerProcess(url: string): Promise<void> {
  const pool = await createPool(url, { max: 1, applicationName: 'zdm-bench-reader' });
  let running = true;
  let changes = 0;
  process.on('message', () => {
    running = false;
  });
  const started = process.cpuUsage(); // after start-up, so only reading is counted
  process.send?.('ready');
  while (running) {
    const c = await readChanges(pool, spec, { maxChanges: 20_000 });
    changes += c.changes;
    if (c.lastLsn) await advance(pool, spec.slot, c.lastLsn);
    if (!c.more) await sleep(READ_MS);
  }
  await pool.end();
  const cpu = process.cpuUsage(started);
  process.send?.({ changes, cpuMs: (cpu.user + cpu.system) / 1000 });
  process.disconnect?.();
}

/** Starts the reader in its own process, as the workflow's step runs apart from the application. */
async function startReader(url: string): Promise<{ stop: () => Promise<{ changes: number; cpuMs: number }> }> {
  const child = fork(__filename, ['--reader', url], { execArgv: ['-r', 'ts-node/register/transpile-only'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('error', reject);
  });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('message', (m) => resolve(m as { changes: number; cpuMs: number }));
        child.once('error', reject);
        child.send('stop');
      }),
  };
}

async function round(
  pool: Pool,
  url: string,
  mode: Mode,
  firstId: number,
): Promise<{ rate: number; consumed: number; readerCpuMs: number }> {
  if (mode === 'no slot') await stopTracking(pool, spec);
  else await startTracking(pool, { ...spec, tables: [{ schema: 'bench', table: 'items' }] });
  const r = mode === 'slot, read + advance' ? await startReader(url) : undefined;
  const rate = await load(pool, SECONDS, firstId);
  const read = (await r?.stop()) ?? { changes: 0, cpuMs: 0 };
  if (mode === 'slot, unread') {
    // Leave no backlog for the next round's reader to pay for.
    await stopTracking(pool, spec);
  }
  return { rate, consumed: read.changes, readerCpuMs: read.cpuMs };
}

async function main(): Promise<void> {
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', shared_buffers: '256MB' };
  let server: LocalPostgres | undefined;
  let pool: Pool | undefined;
  try {
    server = await startLocalPostgres({ name: 'bench-tracking', settings });
    pool = await createPool(server.url(), { max: WORKERS + 2, applicationName: 'zdm-bench' });
    await pool.query(`CREATE SCHEMA bench`);
    await pool.query(`CREATE TABLE bench.items (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL)`);
    await pool.query(`INSERT INTO bench.items SELECT g, 'seed', 0 FROM generate_series(1, ${ROWS}) g`);
    await pool.query(`VACUUM ANALYZE bench.items`);
    await load(pool, 1, 10_000_000); // warm-up

    const modes: Mode[] = ['no slot', 'slot, unread', 'slot, read + advance'];
    const rates = new Map<Mode, number[]>(modes.map((m) => [m, []]));
    let consumed = 0;
    let readerCpuMs = 0;
    let firstId = 20_000_000;
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of modes) {
        const r = await round(pool, server.url(), mode, firstId);
        firstId += 10_000_000;
        rates.get(mode)!.push(r.rate);
        consumed += r.consumed;
        readerCpuMs += r.readerCpuMs;
        console.log(`round ${i + 1} ${mode.padEnd(22)} ${r.rate.toFixed(0)} writes/s`);
      }
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const base = mean(rates.get('no slot')!);
    console.log(`\n${WORKERS} workers, ${SECONDS} s x ${ROUNDS} rounds per mode, reads every ${READ_MS} ms`);
    for (const mode of modes) {
      const m = mean(rates.get(mode)!);
      console.log(`${mode.padEnd(22)} ${m.toFixed(0)} writes/s  (${(((m - base) / base) * 100).toFixed(1)}%)`);
    }
    const perChange = consumed ? ((readerCpuMs * 1000) / consumed).toFixed(1) : '-';
    console.log(
      `reader consumed ${consumed} changes, ${(readerCpuMs / 1000).toFixed(1)} s of its own CPU (${perChange} µs a change)`,
    );
    const worst = Math.min(...modes.slice(1).map((m) => mean(rates.get(m)!)));
    if (worst < base * 0.9) {
      console.error('tracking cut the write rate by more than 10%');
      process.exitCode = 1;
    }
  } finally {
    if (pool) {
      await stopTracking(pool, spec).catch(() => undefined);
      await pool.end();
    }
    await server?.stop();
  }
}

const entry = process.argv[2] === '--reader' ? readerProcess(process.argv[3]) : main();
entry.catch((error) => {
  console.error(error);
  process.exit(1);
});
