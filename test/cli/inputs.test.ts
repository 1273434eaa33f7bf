/** What `zdm` does with bad or dangerous command-line input: refuse it clearly, never echo a password or a huge value. */
import { commandLineRedactor, MAX_RULE_LENGTH } from '../../cli/args';
import { main } from '../../cli/main';
import { PARTITION_SELECTION_RULE } from '../../lambda/engine/preflight';
import { serverPort } from '../support/databases';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    stderrIsTTY: false,
  });
  return { code, out, err };
}

const SECRET = 'Pos1tional-s3cret';
const A = 'postgres://u:pw@db.example:5432/a';
const B = 'postgres://u:pw@db.example:5432/b';

describe('zdm command-line input', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('cli_inputs');
    await p.both(`
      CREATE TABLE public.t (id int PRIMARY KEY);
      CREATE TABLE public.orders (id int, placed date, PRIMARY KEY (id, placed)) PARTITION BY RANGE (placed);
      CREATE TABLE public.orders_2024 PARTITION OF public.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`);
  });
  afterAll(() => p.close());

  it.each([
    ['as the command', [`postgres://app:${SECRET}@db.example:5432/orders`, '--source', A]],
    ['after the command', ['validate', `postgres://app:${SECRET}@db.example/orders`, '--source', A, '--target', B]],
    ['unparsable (a space in the password)', ['validate', `postgres://app:${SECRET} x@db/orders`, '--source', A]],
    ['in an unknown option', ['validate', `--postgres://app:${SECRET}@db/orders`, '--source', A, '--target', B]],
  ])('fails when a URL with a password is given %s, never echoing the password', async (_where, argv) => {
    for (const json of [false, true]) {
      const r = await run(...argv, ...(json ? ['--json'] : []));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^zdm: /);
      expect(r.out + r.err).not.toContain(SECRET);
      expect(r.out + r.err).not.toContain(SECRET.slice(0, 8));
      if (json) expect(JSON.parse(r.out)).toMatchObject({ ok: false, error: expect.any(String) });
    }
  });

  it.each([
    ['the same URL', A, A],
    ['localhost and 127.0.0.1, default port', 'postgres://u:pw@localhost/db', 'postgres://v:other@127.0.0.1:5432/db'],
  ])('fails when --source and --target name the same database (%s)', async (_what, source, target) => {
    const r = await run('validate', '--source', source, '--target', target);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--source and --target name the same database');
    expect(r.err).not.toContain(':pw@');
  });

  it.each([['postgres://u:pw@db.invalid:5432'], ['postgres://u:pw@db.invalid:5432/']])(
    'connects to the database named like the user when the URL %s names none (libpq), never printing the password',
    async (url) => {
      const r = await run('preflight', '--source', url);
      expect(r.code).toBe(2);
      expect(r.err).toContain('cannot connect to db.invalid:5432/u as u');
      expect(r.err).not.toContain('pw');
    },
  );

  it.each([
    [['--recheck', '-5'], '--recheck must be a number of seconds from 0 to 3600, got "-5"'],
    [['--recheck=-5'], '--recheck must be a number of seconds from 0 to 3600, got "-5"'],
    [['--recheck', '99999'], '--recheck must be a number of seconds from 0 to 3600, got "99999"'],
    [['--concurrency', '-1'], '--concurrency must be a positive integer, got "-1"'],
  ])('fails when a number is negative or too large: %j', async (extra, message) => {
    const r = await run('validate', '--source', A, '--target', B, ...extra);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('fails when --include is 100 KB, echoing only its beginning and its length', async () => {
    const huge = `public.${'x'.repeat(100 * 1024)}`;
    for (const json of [false, true]) {
      const r = await run('validate', '--source', A, '--target', B, '--include', huge, ...(json ? ['--json'] : []));
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--include takes schema or schema.table of at most ${MAX_RULE_LENGTH} characters`);
      expect(r.err).toContain(`(${huge.length + 2} characters)`);
      expect(r.err.length).toBeLessThan(500);
      expect(r.out.length).toBeLessThan(500);
    }
  });

  it('fails when it cannot connect, with every command-line password redacted whatever the argument form', async () => {
    const url = `postgres://postgres:Eq-s3cret-pw@127.0.0.1:${serverPort('target')}/${p.name}_nosuchdb`;
    for (const json of [false, true]) {
      const r = await run('validate', `--target=${url}`, '--source', p.sourceUrl, ...(json ? ['--json'] : []));
      expect(r.code).toBe(2);
      expect(r.err).toContain(`cannot connect to 127.0.0.1:${serverPort('target')}/${p.name}_nosuchdb as postgres`);
      expect(r.out + r.err).not.toContain('Eq-s3cret-pw');
    }
  });

  it('fails when a partition is selected on its own, in the same words as preflight', async () => {
    const validate = await run(
      'validate',
      '--source',
      p.sourceUrl,
      '--target',
      p.targetUrl,
      '--include',
      'public.orders_2024',
    );
    expect(validate.code).toBe(2);
    const words = `public.orders_2024 is a partition of public.orders, which the selection leaves out: ${PARTITION_SELECTION_RULE}`;
    expect(validate.err).toContain(words);
    const preflight = await run('preflight', '--source', p.sourceUrl, '--include', 'public.orders_2024', '--json');
    expect(preflight.code).toBe(1);
    const report = JSON.parse(preflight.out) as { findings: { code: string; message: string }[] };
    expect(report.findings.find((f) => f.code === 'partition-selected')?.message).toBe(words);
    // The partitioned table is the way: it passes, partitions included.
    const parent = await run(
      'validate',
      '--source',
      p.sourceUrl,
      '--target',
      p.targetUrl,
      '--include',
      'public.orders',
    );
    expect(parent.code).toBe(0);
  });
});

describe('commandLineRedactor', () => {
  it('removes every command-line URL and password from a message, parsable or not, encoded or not', () => {
    const redact = commandLineRedactor([
      'validate',
      '--source=postgres://a:p%40ss-w0rd@h1/db',
      '--target',
      'postgres://b:plain-pw-2@h2/db?sslpassword=key-pass-3',
      'postgres://c:sp ace-pw-4@h3/db',
    ]);
    const message = redact(
      'failed: p@ss-w0rd p%40ss-w0rd plain-pw-2 key-pass-3 sp ace-pw-4 postgres://b:plain-pw-2@h2/db?sslpassword=key-pass-3',
    );
    for (const secret of ['p@ss-w0rd', 'p%40ss-w0rd', 'plain-pw-2', 'key-pass-3', 'sp ace-pw-4']) {
      expect(message).not.toContain(secret);
    }
    expect(message).toContain('postgres://b:***@h2/db');
  });
});
