/**
 * `npm run bench:tracking`: what a change-tracking slot costs the source's write rate. A simple insert/update load on
 * an embedded PostgreSQL 16 (wal_level=logical) runs in measured windows: without a tracking slot, with the slot
 * present but unread, and with the slot read and advanced every READ_MS as a verification round does (restart point,
 * read, advance; in its own process at the lowest CPU priority, as the workflow's step runs apart from the database).
 *
 * Built for a small shared machine: each round measures every mode once, in an order that rotates from round to round
 * (each mode takes each position equally often); every window starts from the same state (table vacuumed, fresh
 * checkpoint, a short unmeasured warm-up); each mode's cost is its ratio to the slot-less window of the same round,
 * and the verdict is the median of those ratios over the rounds. The reader's own CPU and the CPU its server backend
 * spent decoding are reported apart: in production the reader is a Lambda, only the decoding runs on the database.
 * Target (issue "A write freeze that does not grow with the database"): each slot mode ≥ 0.90 of the slot-less rate.
 * Not run in CI.
 *
 *   npm run bench:tracking
 *   (ZDM_BENCH_SECONDS=10 ZDM_BENCH_WORKERS=4 ZDM_BENCH_ROUNDS=5 ZDM_BENCH_READ_MS=5000 are the defaults;
 *    ZDM_BENCH_RESTART_POINTS=off: the reader logs no restart points)
 */
import type { Pool } from 'pg';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startLocalPostgres, type LocalPostgres } from '../rehearsal/local/embedded-postgres';
import { createPool } from '../lambda/engine/pg/connection';
import { sleep } from '../lambda/engine/helpers';
import { advance, logRestartPoint, readChanges, startTracking, stopTracking } from '../lambda/engine/tracking';

const SECONDS = Number(process.env.ZDM_BENCH_SECONDS ?? 10);
/** How often the reader reads and advances (the workflow's poll interval is 30 s by default). */
const READ_MS = Number(process.env.ZDM_BENCH_READ_MS ?? 5000);
const WORKERS = Number(process.env.ZDM_BENCH_WORKERS ?? 4);
const ROUNDS = Number(process.env.ZDM_BENCH_ROUNDS ?? 5);
/** `off`: the reader does not log restart points (as before they were logged), to compare its decoding cost. */
const RESTART_POINTS = process.env.ZDM_BENCH_RESTART_POINTS !== 'off';
const WARM_UP_SECONDS = 1;
const ROWS = 100_000;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS = 100;
const spec = { slot: 'zdm_bench_tracking', publication: 'zdm_bench_tracking' };

const MODES = ['no slot', 'slot, unread', 'slot, read + advance'] as const;
type Mode = (typeof MODES)[number];

interface Window {
  readonly rate: number;
  /** CPU time of the server's processes (backends, WAL writer, checkpointer, ...) per write, µs. */
  readonly serverUsPerWrite: number;
  readonly consumed: number;
  readonly readerCpuMs: number;
  readonly decodingCpuMs: number;
}

/** Each worker alternates an insert of a new row and an update of a random existing one, autocommit. */
async function load(pool: Pool, seconds: number, next: { id: number }): Promise<number> {
  const end = performance.now() + seconds * 1000;
  const worker = async (w: number): Promise<number> => {
    let done = 0;
    while (performance.now() < end) {
      const id = next.id++;
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

/** CPU time (ms) a local process has used so far, from /proc; 0 where that cannot be read. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS; // utime, stime
  } catch {
    return 0;
  }
}

/** Starts measuring the CPU time of every server process (the postmaster's children listed in pg_stat_activity). */
async function serverCpu(pool: Pool): Promise<() => number> {
  const { rows } = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity`);
  const before = new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)]));
  return () => [...before].reduce((ms, [pid, start]) => ms + Math.max(0, processCpuMs(pid) - start), 0);
}

/**
 * Child process: a verification round's slot work every READ_MS (restart point, read, advance) until told to stop;
 * then reports what it consumed, its own CPU and its server backend's.
 */
async function readerProcess(url: string): Promise<void> {
  const pool = await createPool(url, { max: 2, applicationName: 'zdm-bench-reader' });
  const client = await pool.connect();
  const backend = (await client.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
  let running = true;
  let changes = 0;
  process.on('message', () => {
    running = false;
  });
  const started = process.cpuUsage(); // after start-up, so only reading is counted
  const backendStarted = processCpuMs(backend);
  process.send?.('ready');
  while (running) {
    if (RESTART_POINTS) await logRestartPoint(pool);
    const c = await readChanges(pool, spec, { maxChanges: 20_000, client });
    changes += c.changes;
    if (c.lastLsn) await advance(client, spec.slot, c.lastLsn);
    if (!c.more) await sleep(READ_MS);
  }
  const decodingCpuMs = processCpuMs(backend) - backendStarted;
  client.release();
  await pool.end();
  const cpu = process.cpuUsage(started);
  process.send?.({ changes, cpuMs: (cpu.user + cpu.system) / 1000, decodingCpuMs });
  process.disconnect?.();
}

interface ReaderReport {
  readonly changes: number;
  readonly cpuMs: number;
  readonly decodingCpuMs: number;
}

/**
 * Starts the reader in its own process, at the lowest CPU priority: in production it is a Lambda, not on the database
 * host, so here it takes only CPU the load leaves idle (its server backend, which decodes, keeps its priority).
 */
async function startReader(url: string): Promise<{ stop: () => Promise<ReaderReport> }> {
  const child = fork(__filename, ['--reader', url], { execArgv: ['-r', 'ts-node/register/transpile-only'] });
  if (child.pid) setPriority(child.pid, 19);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('error', reject);
  });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('message', (m) => resolve(m as ReaderReport));
        child.once('error', reject);
        child.send('stop');
      }),
  };
}

/** One measured window of a mode, from the same starting state as every other. */
async function window(pool: Pool, url: string, mode: Mode, next: { id: number }): Promise<Window> {
  // No backlog from an earlier window for this one to pay for, and no slot unless the mode has one.
  await stopTracking(pool, spec);
  await pool.query(`VACUUM bench.items`);
  if (mode !== 'no slot') await startTracking(pool, { ...spec, tables: [{ schema: 'bench', table: 'items' }] });
  await pool.query(`CHECKPOINT`);
  const reader = mode === 'slot, read + advance' ? await startReader(url) : undefined;
  await load(pool, WARM_UP_SECONDS, next);
  const cpu = await serverCpu(pool);
  const rate = await load(pool, SECONDS, next);
  const serverUsPerWrite = (cpu() * 1000) / (rate * SECONDS);
  const read = (await reader?.stop()) ?? { changes: 0, cpuMs: 0, decodingCpuMs: 0 };
  return { rate, serverUsPerWrite, consumed: read.changes, readerCpuMs: read.cpuMs, decodingCpuMs: read.decodingCpuMs };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const settings = {
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: '256MB',
    autovacuum: 'off',
  };
  let server: LocalPostgres | undefined;
  let pool: Pool | undefined;
  try {
    server = await startLocalPostgres({ name: 'bench-tracking', settings });
    pool = await createPool(server.url(), { max: WORKERS + 2, applicationName: 'zdm-bench' });
    await pool.query(`CREATE SCHEMA bench`);
    await pool.query(`CREATE TABLE bench.items (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL)`);
    await pool.query(`INSERT INTO bench.items SELECT g, 'seed', 0 FROM generate_series(1, ${ROWS}) g`);
    await pool.query(`VACUUM ANALYZE bench.items`);
    const next = { id: 10_000_000 };
    await load(pool, 2, next); // warm-up

    const load0 = loadavg()[0];
    const windows = new Map<Mode, Window[]>(MODES.map((m) => [m, []]));
    console.log(
      `tracking benchmark: ${WORKERS} workers, ${ROUNDS} rounds of ${MODES.length} windows of ${SECONDS} s, ` +
        `reads every ${READ_MS} ms${RESTART_POINTS ? '' : ' without restart points'} (load average ${load0.toFixed(1)})`,
    );
    for (let r = 0; r < ROUNDS; r++) {
      const order = MODES.map((_m, i) => MODES[(i + r) % MODES.length]);
      const line: string[] = [];
      for (const mode of order) {
        const w = await window(pool, server.url(), mode, next);
        windows.get(mode)!.push(w);
        line.push(`${mode} ${w.rate.toFixed(0)}/s`);
      }
      console.log(`  round ${r + 1}: ${line.join(', ')}`);
    }
    const base = windows.get('no slot')!;
    console.log('');
    console.log(
      `${'mode'.padEnd(22)} ${'median rate'.padStart(12)}  write rate vs the same round's slot-less window` +
        `   server CPU a write (vs slot-less, same round)`,
    );
    let worst = Number.POSITIVE_INFINITY;
    for (const mode of MODES) {
      const ws = windows.get(mode)!;
      const ratios = ws.map((w, i) => w.rate / base[i].rate);
      const cpuRatios = ws.map((w, i) => w.serverUsPerWrite / base[i].serverUsPerWrite);
      const m = median(ratios);
      if (mode !== 'no slot') worst = Math.min(worst, m);
      const range = `${pct(Math.min(...ratios))} .. ${pct(Math.max(...ratios))}`;
      const cpu = `${median(ws.map((w) => w.serverUsPerWrite)).toFixed(1)} µs`;
      console.log(
        `${mode.padEnd(22)} ${`${median(ws.map((w) => w.rate)).toFixed(0)}/s`.padStart(12)}  ` +
          (mode === 'no slot'
            ? `${'(baseline)'.padEnd(47)}   ${cpu}`
            : `${`median ${pct(m)} (rounds: ${range})`.padEnd(47)}   ${cpu} (median ${pct(median(cpuRatios))})`),
      );
    }
    const read = windows.get('slot, read + advance')!;
    const consumed = read.reduce((n, w) => n + w.consumed, 0);
    const readerCpu = read.reduce((n, w) => n + w.readerCpuMs, 0);
    const decodingCpu = read.reduce((n, w) => n + w.decodingCpuMs, 0);
    const perChange = (ms: number): string => (consumed ? `${((ms * 1000) / consumed).toFixed(1)} µs` : '-');
    console.log(
      `reader consumed ${consumed} changes: its server backend ${(decodingCpu / 1000).toFixed(2)} s of CPU ` +
        `(${perChange(decodingCpu)} a change), the reader itself ${(readerCpu / 1000).toFixed(2)} s ` +
        `(${perChange(readerCpu)} a change; a Lambda in production, not the database)`,
    );
    const load1 = loadavg()[0];
    console.log(
      `load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end (2 cores: noisy above ~1)`,
    );
    if (worst < 0.9) {
      console.error('tracking cut the write rate by more than 10% (median over the rounds)');
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
