/**
 * `npm run bench:freeze`: does the write freeze grow with the database? Runs the happy rehearsal (embedded servers,
 * demo schema, RATE writes/s) at a small and a large size, RUNS times each (default 3), interleaved so machine noise
 * hits both alike, and prints the median freeze of each, their ratio and what the freeze is made of.
 * Targets (issue "A write freeze that does not grow with the database"): ratio ≤ 1.25, each median ≤ 500 ms.
 *
 * Issue "Every row proven, or no switch" asks the same at 1,500 writes/s (RATE; default 300):
 *
 *   SMALL=200000 LARGE=3000000 RUNS=3 RATE=1500 npm run bench:freeze
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Report {
  readonly ok: boolean;
  readonly lostWrites: number | null;
  readonly writeFreezeMs: number | null;
  readonly freeze?: { readonly breakdown?: { name: string; ms: number }[] };
}

const SMALL = Number(process.env.SMALL ?? 200_000);
const LARGE = Number(process.env.LARGE ?? 3_000_000);
const RUNS = Number(process.env.RUNS ?? 3);
const RATE = Number(process.env.RATE ?? 300);

function rehearse(rows: number, dir: string, run: number): Report {
  const report = join(dir, `freeze-${rows}-${run}.json`);
  const started = Date.now();
  const child = spawnSync(
    process.execPath,
    [
      require.resolve('ts-node/dist/bin.js'),
      '--transpile-only',
      join(__dirname, '..', 'bin', 'rehearse.ts'),
      '--scenario',
      'happy',
      '--rows',
      String(rows),
      '--rate',
      String(RATE),
      '--quiet',
      '--report',
      report,
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (child.status !== 0) {
    throw new Error(`rehearsal of ${rows} rows exited ${child.status}: ${(child.stderr || child.stdout).slice(-2000)}`);
  }
  const parsed = JSON.parse(readFileSync(report, 'utf8')) as Report;
  console.log(
    `  ${rows.toLocaleString('en-US').padStart(10)} rows, run ${run}: freeze ${parsed.writeFreezeMs} ms, lost ${parsed.lostWrites}, ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s in all`,
  );
  return parsed;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'zdm-bench-freeze-'));
  try {
    console.log(`freeze benchmark: ${SMALL} vs ${LARGE} rows at ${RATE} writes/s, ${RUNS} run(s) each, interleaved`);
    const small: Report[] = [];
    const large: Report[] = [];
    for (let run = 1; run <= RUNS; run++) {
      small.push(rehearse(SMALL, dir, run));
      large.push(rehearse(LARGE, dir, run));
    }
    const freeze = (reports: Report[]): number => median(reports.map((r) => r.writeFreezeMs ?? Number.NaN));
    const s = freeze(small);
    const l = freeze(large);
    console.log('');
    console.log(`median freeze  ${SMALL} rows: ${s} ms   ${LARGE} rows: ${l} ms`);
    console.log(`ratio large/small: ${(l / s).toFixed(2)}x (target ≤ 1.25x); each ≤ 500 ms: ${s <= 500 && l <= 500}`);
    console.log(`lost writes: ${[...small, ...large].map((r) => r.lostWrites).join(', ')}`);
    const last = large[large.length - 1];
    console.log(`what the freeze is made of (${LARGE} rows, last run):`);
    for (const part of last.freeze?.breakdown ?? []) console.log(`  ${part.name.padEnd(40)} ${part.ms} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
