/**
 * Differences a person can act on: `zdm validate` names the columns that differ in each changed row (values only
 * with --show-values), leaves out --exclude-column, sums them up per table; `zdm schema` prints the fixes --json
 * has; `zdm sequences` counts only the sequences that are behind. Text and JSON say the same.
 */
import { main } from '../../cli/main';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
  return { code, out, err };
}

interface Detailed {
  key: Record<string, unknown>;
  kind: string;
  columns?: { column: string; source?: unknown; target?: unknown }[];
}

describe('zdm differences', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('cli_diff');
    await p.both(`
      CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, balance numeric(12,2), updated_at timestamptz);
      INSERT INTO public.accounts SELECT g, 'owner ' || g, g, '2026-01-01' FROM generate_series(1, 200) g;
      CREATE SEQUENCE public.behind_seq; CREATE SEQUENCE public.fine_seq;
      SELECT setval('public.behind_seq', 50), setval('public.fine_seq', 10);
      CREATE TABLE public.labels (id int PRIMARY KEY, name text);`);
    await p.target.query(`
      UPDATE public.accounts SET balance = 999.99 WHERE id = 3;
      UPDATE public.accounts SET balance = 1, owner = 'Secret Person' WHERE id = 7;
      UPDATE public.accounts SET updated_at = '2026-06-01' WHERE id IN (4, 5);
      DELETE FROM public.accounts WHERE id = 6;
      SELECT setval('public.behind_seq', 10), setval('public.fine_seq', 10);`);
    await p.source.query(`CREATE INDEX labels_name ON public.labels (name)`);
  });
  afterAll(() => p.close());

  const validate = (...extra: string[]) =>
    run('validate', '--source', p.sourceUrl, '--target', p.targetUrl, '--include', 'public.accounts', '-q', ...extra);

  it('names the columns that differ in each changed row, never their values by default, in text and JSON', async () => {
    const text = await validate();
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/changed +\{"id":3\} columns: balance\n/);
    expect(text.out).toMatch(/changed +\{"id":4\} columns: updated_at\n/);
    expect(text.out).toMatch(/changed +\{"id":7\} columns: balance, owner\n/);
    expect(text.out).toMatch(/missing +\{"id":6\}\n/);
    expect(text.out).toContain(
      'listed: 1 missing, 0 extra, 4 changed (differing columns, rows: balance 2, updated_at 2, owner 1)',
    );
    const json = await validate('--json');
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.out) as { tables: { differences: Detailed[]; differenceStats: unknown }[] };
    const diffs = doc.tables[0].differences;
    expect(diffs.find((d) => d.key.id === 7)).toEqual({
      key: { id: 7 },
      kind: 'changed',
      columns: [{ column: 'balance' }, { column: 'owner' }],
    });
    expect(doc.tables[0].differenceStats).toEqual({
      missing: 1,
      extra: 0,
      changed: 4,
      columns: { balance: 2, updated_at: 2, owner: 1 },
    });
    for (const out of [text.out, json.out]) {
      expect(out).not.toContain('Secret Person');
      expect(out).not.toContain('999.99');
    }
  });

  it('shows the values of both sides with --show-values', async () => {
    const text = await validate('--show-values');
    expect(text.out).toContain('{"id":7} columns: balance: 7 → 1, owner: "owner 7" → "Secret Person"');
    const doc = JSON.parse((await validate('--show-values', '--json')).out) as {
      tables: { differences: Detailed[] }[];
    };
    expect(doc.tables[0].differences.find((d) => d.key.id === 3)?.columns).toEqual([
      { column: 'balance', source: 3, target: 999.99 },
    ]);
  });

  it('leaves out --exclude-column: rows that differ only there are not differences', async () => {
    const text = await validate('--exclude-column', 'public.accounts.updated_at');
    expect(text.code).toBe(1);
    expect(text.out).not.toContain('{"id":4}');
    expect(text.out).not.toContain('updated_at 2');
    expect(text.out).toContain('Left out of the comparison: public.accounts.updated_at');
    expect(text.out).toContain('3 differing row(s)');
    const doc = JSON.parse((await validate('--exclude-column', 'public.accounts.updated_at', '--json')).out);
    expect(doc).toMatchObject({ excludedColumns: ['public.accounts.updated_at'], summary: { differences: 3 } });
    // Every difference excluded: a match.
    await p.target.query(`UPDATE public.accounts SET updated_at = '2027-01-01' WHERE id = 100`);
    const onlyUpdated = await run(
      'validate', '--source', p.sourceUrl, '--target', p.targetUrl, '--include', 'public.accounts', '-q',
      '--exclude-column', 'public.accounts.updated_at', '--exclude-column', 'public.accounts.balance',
      '--exclude-column', 'public.accounts.owner',
    ); // prettier-ignore
    expect(onlyUpdated.out).toContain('1 differing row(s)'); // id 6, missing
  });

  it.each([
    [
      ['--exclude-column', 'public.accounts.nope'],
      '--exclude-column public.accounts.nope: no such column on the source',
    ],
    [['--exclude-column', 'public.accounts.id'], 'a primary-key column identifies the rows: it cannot be left out'],
    [['--exclude-column', 'accounts.updated_at'], '--exclude-column takes schema.table.column'],
    [
      ['--exclude-column', 'public.accounts.updated_at', '--mode', 'quick'],
      '--exclude-column applies to validate --mode full',
    ],
    [['--detail-rows', '0'], '--detail-rows must be a positive integer'],
  ])('refuses %j with exit code 2, comparing nothing', async (extra, message) => {
    const r = await validate(...extra);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.out).toBe('');
  });

  it('compares only the rows --where selects, on both sides', async () => {
    const r = await validate('--where', 'public.accounts:id > 5 AND id::int8 < 100 -- a comment', '--json');
    expect(r.err).toBe('');
    const doc = JSON.parse(r.out) as { tables: { sourceRows: number; targetRows: number; differences: Detailed[] }[] };
    // ids 6..99: 94 on the source, 93 on the target (6 was deleted there); 7 changed, 6 missing.
    expect(doc.tables[0]).toMatchObject({ sourceRows: 94, targetRows: 93 });
    expect(doc.tables[0].differences.map((d) => d.key.id).sort()).toEqual([6, 7]);
    // --by-keys (no block pass) and --recheck filter the same way.
    const byKeys = JSON.parse(
      (await validate('--where', 'public.accounts:id > 5 AND id < 100', '--by-keys', '--recheck', '0', '--json')).out,
    );
    expect(byKeys.tables[0].differences.map((d: Detailed) => d.key.id).sort()).toEqual([6, 7]);
    const none = await validate('--where', 'public.accounts:id > 150');
    expect(none.code).toBe(0);
  });

  it.each([
    [
      ['--where', 'public.accounts:nosuchcolumn > 1'],
      'the condition does not run on the source: column "nosuchcolumn" does not exist',
    ],
    [
      ['--where', 'public.accounts:true); DROP TABLE public.accounts; --'],
      '--where public.accounts: the condition does not run',
    ],
    [['--where', 'public.accounts:id > 0 AND (SELECT count(*) FROM pg_class) > 0'], ''],
    [['--where', 'public.labels:true'], '--where public.labels: not among the selected tables'],
    [['--where', 'accounts'], "--where takes 'schema.table:SQL condition'"],
    [['--where', 'public.accounts:true', '--where', 'public.accounts:false'], 'one condition per table'],
    [['--where', `public.accounts:${'x'.repeat(3000)}`], 'at most 2000 characters'],
  ])('checks --where before comparing anything (case %#)', async (extra, message) => {
    const r = await validate(...extra);
    if (!message) {
      expect(r.code).toBe(1);
      return;
    }
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err.length).toBeLessThan(800);
    expect((await p.source.query('SELECT count(*)::int AS n FROM public.accounts')).rows[0].n).toBe(200);
  });

  it('runs --where in read-only sessions: a condition that writes fails', async () => {
    await p.both(
      `CREATE FUNCTION public.sneaky() RETURNS boolean LANGUAGE sql AS 'DELETE FROM public.accounts WHERE id = 200 RETURNING true'`,
    );
    const r = await validate('--where', 'public.accounts:public.sneaky()');
    // EXPLAIN does not run the function: the comparison does, and fails table by table (exit 1), deleting nothing.
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/read-only transaction/);
    expect((await p.source.query('SELECT count(*)::int AS n FROM public.accounts')).rows[0].n).toBe(200);
  });

  it('schema: the text shows the fix SQL --json has', async () => {
    const args = ['schema', '--source', p.sourceUrl, '--target', p.targetUrl, '--include', 'public.labels'];
    const text = await run(...args);
    const json = JSON.parse((await run(...args, '--json')).out) as { differences: { fix?: string }[] };
    const fixes = json.differences.map((d) => d.fix).filter((f): f is string => Boolean(f));
    expect(fixes.length).toBeGreaterThan(0);
    expect(text.out).toContain('To fix');
    for (const fix of fixes) expect(text.out).toContain(fix.split('\n')[0]);
    expect(text.out).toMatch(/with a fix\n$/);
  });

  it('sequences: counts only the sequences that are behind, in text and JSON', async () => {
    const args = ['sequences', '--source', p.sourceUrl, '--target', p.targetUrl];
    const text = await run(...args);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/DIFFERENCES: 1 behind \(of \d+ sequence\(s\)\)/);
    const json = JSON.parse((await run(...args, '--json')).out);
    expect(json.counts).toMatchObject({ behind: 1, missing: 0, error: 0 });
  });
});
