import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../cli/main';
import { serverPort, sql } from '../support/databases';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), stderrIsTTY: false });
  return { code, out, err };
}

describe('zdm CLI', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('cli');
    await p.both(`
      CREATE TABLE public.accounts (id serial PRIMARY KEY, owner text, balance numeric(12,2));
      INSERT INTO public.accounts (owner, balance) SELECT 'o' || g, g FROM generate_series(1, 500) g;
      SELECT setval('public.accounts_id_seq', 500);`);
  });
  afterAll(() => p.close());

  it('prints usage for --help and exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: zdm <command>');
  });

  it.each([
    [['validate', '--source', 'postgres://a/b', '--target', 'postgres://a/c', '--foo'], 'unknown option --foo'],
    [
      ['validate', '--source', 'postgres://a/b', '--target', 'postgres://a/c', '--mode', 'fast'],
      '--mode must be quick or full, got "fast"',
    ],
    [['validate', '--source', 'postgres://a/b'], '--target <connection> is required for validate'],
    [['check', '--source', 'postgres://a/b'], 'unknown command "check"'],
    [['schema', '--source', 'postgres://a/b', '--target', 'postgres://a/c', '--include', '"unterminated'], '--include'],
    [
      ['validate', '--source', 'postgres://a/b', '--target', 'postgres://a/c', '--concurrency', '0'],
      '--concurrency must be a positive integer',
    ],
    [
      ['validate', '--source', 'postgres://a/b', '--target', 'postgres://a/c', '--mode', 'quick', '--by-keys'],
      '--by-keys applies to validate --mode full only',
    ],
  ])('fails with exit code 2 when the arguments are %j', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.out).toBe('');
  });

  it('fails with exit code 2 when it cannot connect, naming where and never the password', async () => {
    const url = `postgres://postgres:Sup3r-s3cret@127.0.0.1:${serverPort('target')}/${p.name}`;
    for (const extra of [[], ['--json']]) {
      const r = await run('validate', '--source', p.sourceUrl, '--target', url, ...extra);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`cannot connect to 127.0.0.1:${serverPort('target')}/${p.name} as postgres`);
      expect(r.out + r.err).not.toContain('Sup3r-s3cret');
      expect(r.out + r.err).not.toContain('rehearsal');
    }
  });

  it('exits 0 with a JSON report when everything matches, 1 with the differing rows when not', async () => {
    const accountsArgs = ['validate', '--source', p.sourceUrl, '--target', p.targetUrl];
    accountsArgs.push('--include', 'public.accounts', '--json');
    const ok = await run(...accountsArgs);
    expect(ok.code).toBe(0);
    const okReport = JSON.parse(ok.out);
    expect(okReport).toMatchObject({
      ok: true,
      tables: [{ table: 'public.accounts', sourceRows: 500, targetRows: 500, status: 'match', differences: [] }],
    });
    // Decided by the block pass; --by-keys reads by key ranges only, to the same verdict.
    expect(okReport.tables[0]).toMatchObject({ blockRangesChecked: 1, rangesChecked: 1 });
    const byKeys = await run(...accountsArgs, '--by-keys');
    expect(byKeys.code).toBe(0);
    const byKeysTable = JSON.parse(byKeys.out).tables[0];
    expect(byKeysTable).toMatchObject({ status: 'match', sourceRows: 500, rangesChecked: 1 });
    expect(byKeysTable.blockRangesChecked).toBeUndefined();

    await sql(
      p.targetUrl,
      `UPDATE public.accounts SET balance = 0 WHERE id = 7; DELETE FROM public.accounts WHERE id = 9`,
    );
    try {
      const bad = await run('validate', '--source', p.sourceUrl, '--target', p.targetUrl, '--json', '--recheck', '0');
      expect(bad.code).toBe(1);
      const report = JSON.parse(bad.out);
      expect(report.ok).toBe(false);
      expect(report.tables[0]).toMatchObject({
        table: 'public.accounts',
        status: 'mismatch',
        sourceRows: 500,
        targetRows: 499,
      });
      expect(report.tables[0].differences).toEqual(
        expect.arrayContaining([
          { key: { id: 7 }, kind: 'changed', recheck: 'confirmed', columns: [{ column: 'balance' }] },
          { key: { id: 9 }, kind: 'missing', recheck: 'confirmed' },
        ]),
      );

      const human = await run('validate', '--source', p.sourceUrl, '--target', p.targetUrl, '--mode', 'quick');
      expect(human.code).toBe(1);
      expect(human.out).toMatch(/public\.accounts\s+500\s+499\s+mismatch/);
    } finally {
      await sql(
        p.targetUrl,
        `UPDATE public.accounts SET balance = 7 WHERE id = 7; INSERT INTO public.accounts VALUES (9, 'o9', 9)`,
      );
    }
  });

  it('syncs sequences idempotently, and bad input changes nothing', async () => {
    const rejected = await run(
      'sequences',
      '--sync',
      '--mode',
      'full',
      '--source',
      p.sourceUrl,
      '--target',
      p.targetUrl,
    );
    expect(rejected.code).toBe(2);
    const untouched = await sql<{ last_value: string }>(
      p.targetUrl,
      `SELECT last_value::text FROM public.accounts_id_seq`,
    );
    expect(untouched[0].last_value).toBe('500');
    await sql(p.sourceUrl, `SELECT setval('public.accounts_id_seq', 900)`);

    const before = await run('sequences', '--source', p.sourceUrl, '--target', p.targetUrl, '--json');
    expect(before.code).toBe(1);
    expect(JSON.parse(before.out).sequences[0]).toMatchObject({ sequence: 'public.accounts_id_seq', status: 'behind' });
    const sync = await run('sequences', '--sync', '--source', p.sourceUrl, '--target', p.targetUrl);
    expect(sync.code).toBe(0);
    expect(sync.out).toMatch(/public\.accounts_id_seq\s+public\.accounts\.id\s+901\s+901/);
    const again = await run('sequences', '--sync', '--source', p.sourceUrl, '--target', p.targetUrl, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out).sequences[0]).toMatchObject({ action: 'unchanged', targetNext: '901' });
  });

  it('runs preflight and schema with exit codes for findings', async () => {
    const pre = await run('preflight', '--source', p.sourceUrl, '--include', 'public');
    expect(pre.code).toBe(0);
    expect(pre.out).toContain('READY');
    const schema = await run('schema', '--source', p.sourceUrl, '--target', p.targetUrl, '--json');
    expect(schema.code).toBe(0);
    expect(JSON.parse(schema.out)).toMatchObject({ ok: true, tablesChecked: 1 });

    await sql(p.sourceUrl, `CREATE TABLE public.log (line text)`);
    try {
      const pre2 = await run('preflight', '--source', p.sourceUrl, '--json');
      expect(pre2.code).toBe(1);
      expect(JSON.parse(pre2.out).findings).toContainEqual(
        expect.objectContaining({ code: 'no-primary-key', object: 'public.log' }),
      );
      const schema2 = await run('schema', '--source', p.sourceUrl, '--target', p.targetUrl);
      expect(schema2.code).toBe(1);
      expect(schema2.out).toContain('table public.log is missing on the target');
    } finally {
      await sql(p.sourceUrl, `DROP TABLE public.log`);
    }
  });

  it("preflight --lob-max-size: a LOB value over the DMS task's LobMaxSize is an error; --full-lob-mode skips it", async () => {
    await sql(
      p.sourceUrl,
      `CREATE TABLE public.docs (id int PRIMARY KEY, body text); INSERT INTO public.docs VALUES (1, repeat('x', 40000))`,
    );
    try {
      const base = ['preflight', '--source', p.sourceUrl, '--include', 'public.docs', '--json'];
      const over = await run(...base);
      expect(over.code).toBe(1);
      expect(JSON.parse(over.out).findings).toContainEqual(
        expect.objectContaining({ code: 'lob-over-max-size', object: 'public.docs.body', severity: 'error' }),
      );
      expect((await run(...base, '--lob-max-size', '64')).code).toBe(0);
      expect((await run(...base, '--full-lob-mode')).code).toBe(0);
    } finally {
      await sql(p.sourceUrl, `DROP TABLE public.docs`);
    }
  });

  it.each([
    [['--lob-max-size', '0'], '--lob-max-size must be a number of KiB from 1 to 102400, got "0"'],
    [['--lob-max-size', '32k'], '--lob-max-size must be a number of KiB from 1 to 102400, got "32k"'],
    [
      ['--lob-max-size', '64', '--full-lob-mode'],
      '--lob-max-size is the limited LOB mode size: not with --full-lob-mode',
    ],
  ])('fails with exit code 2 when preflight gets %j', async (extra, message) => {
    const r = await run('preflight', '--source', 'postgres://a/b', ...extra);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('runs as bin/zdm.ts and prints exactly one JSON document', async () => {
    const root = join(__dirname, '..', '..');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        'bin/zdm.ts',
        'validate',
        '--source',
        p.sourceUrl,
        '--target',
        p.targetUrl,
        '--json',
      ],
      { cwd: root, env: { ...process.env, TS_NODE_PROJECT: join(root, 'tsconfig.json') } },
    );
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, command: 'validate' });
  });
});
