import { main } from '../../cli/main';
import { serverPort, sql } from '../support/databases';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), stderrIsTTY: false });
  return { code, out, err };
}

describe('zdm CLI: adversarial input', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('cli_adv');
    await p.both(`CREATE TABLE public.t (id int PRIMARY KEY, v int); INSERT INTO public.t VALUES (1, 10), (2, 20);`);
  });
  afterAll(() => p.close());

  it.each([['validate'], ['schema']])(
    'fails with exit code 2 when --include matches no table (%s), instead of "OK: 0 table(s)"',
    async (command) => {
      for (const json of [false, true]) {
        const r = await run(
          command,
          '--source',
          p.sourceUrl,
          '--target',
          p.targetUrl,
          '--include',
          'public.nosuch',
          ...(json ? ['--json'] : []),
        );
        expect(r.code).toBe(2);
        expect(r.err).toContain('no table matches the selection (include public.nosuch)');
        if (json)
          expect(JSON.parse(r.out)).toMatchObject({ ok: false, command, error: expect.stringContaining('no table') });
        else expect(r.out).toBe('');
      }
    },
  );

  it('fails with exit code 2 and still prints exactly one JSON document when --json is given with bad arguments', async () => {
    for (const argv of [
      ['validate', '--source', p.sourceUrl, '--json'],
      ['validate', '--source', p.sourceUrl, '--target', p.targetUrl, '--json', '--bogus'],
    ]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(JSON.parse(r.out)).toMatchObject({ ok: false, error: expect.any(String) });
      expect(r.out.trim().split('\n')).toHaveLength(1);
    }
  });

  it('fails with exit code 1 when a value is swapped between two rows, and never prints the password', async () => {
    await sql(p.targetUrl, `UPDATE public.t SET v = 30 - v`);
    try {
      const r = await run('validate', '--source', p.sourceUrl, '--target', p.targetUrl, '--json');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out).tables[0].differences).toEqual([
        { key: { id: 1 }, kind: 'changed', columns: [{ column: 'v' }] },
        { key: { id: 2 }, kind: 'changed', columns: [{ column: 'v' }] },
      ]);
      const wrong = `postgres://postgres:Wr0ng-pass@127.0.0.1:${serverPort('source')}/${p.name}`;
      const bad = await run('validate', '--source', wrong, '--target', p.targetUrl, '--json');
      expect(bad.code).toBe(2);
      expect(JSON.parse(bad.out).error).toContain('password authentication failed');
      expect(bad.out + bad.err).not.toContain('Wr0ng-pass');
      expect(bad.out + bad.err + r.out + r.err).not.toContain('rehearsal');
    } finally {
      await sql(p.targetUrl, `UPDATE public.t SET v = 30 - v`);
    }
  });
});
