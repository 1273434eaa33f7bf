import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RehearsalReport } from '../../rehearsal/report/report-json';

/**
 * The oldest source the product is tested on in `npm test` (the full matrix is `npm run test:versions`): embedded
 * PostgreSQL 13 as the source, 16 as the target, the fallback scenario (a cutover that arms the way back, the
 * application on the target, the fallback). PostgreSQL 13 has no subscription `origin`, no TID range scans, no
 * hash_record_extended and no subscription error counters: each must be done with what 13 has, or the run fails.
 * Through the command line: the embedded servers of other majors are ESM packages, which jest cannot import.
 */
jest.setTimeout(240_000);

const ROOT = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'zdm-old-source-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rehearse(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/ts-node/dist/bin.js'), '--transpile-only', 'bin/rehearse.ts', ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += String(d)));
    child.stderr.on('data', (d: Buffer) => (output += String(d)));
    child.on('error', fail);
    child.on('exit', (code) => done({ code, output }));
  });
}

test('fallback from PostgreSQL 13 to 16 and back: every acknowledged write on the source', async () => {
  const reportPath = join(dir, 'fallback.json');
  const { code, output } = await rehearse([
    '--scenario=fallback',
    '--source-version=13',
    '--target-version=16',
    '--rows=500',
    '--rate=150',
    '--concurrency=3',
    '--read-rate=20',
    '--warmup=0.3',
    '--on-target=1',
    '--after=0.6',
    '--poll-ms=20',
    `--report=${reportPath}`,
  ]);
  expect(output).toMatch(/start servers .*PostgreSQL 13 → 16/);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RehearsalReport;
  expect({ code, failedBecause: report.failedBecause }).toEqual({ code: 0, failedBecause: [] });
  expect(report.ok).toBe(true);
  expect(report.lostWrites).toBe(0);
  expect(report.cutover.executions).toEqual([
    expect.objectContaining({ machine: 'cutover', status: 'SUCCEEDED', lastState: 'CutoverSucceeded' }),
    expect.objectContaining({ machine: 'fallback', status: 'SUCCEEDED', lastState: 'FallbackSucceeded' }),
  ]);
  const phase = (execution: string, name: string) =>
    report.cutover.phases.find((x) => x.execution === execution && x.name === name)?.status;
  expect(phase('cutover', 'startReverse')).toBe('succeeded');
  expect(phase('fallback', 'endFallbackWindow')).toBe('succeeded');
  const [source] = report.verification;
  expect(source).toMatchObject({ database: 'source', checked: report.acknowledgedWrites, lost: 0 });
});
