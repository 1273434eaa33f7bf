/** `zdm validate --patch-file`: SQL that makes the target equal, applied for real, then validated again. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
  return { code, out, err };
}

describe('zdm validate --patch-file', () => {
  let p: Pair;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zdm-patch-'));
    p = await openPair('cli_patch');
    await p.both(`
      CREATE TABLE public.items (
        id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, price numeric(10,2), data bytea, tags text[],
        doubled numeric GENERATED ALWAYS AS (price * 2) STORED, note text);
      INSERT INTO public.items (name, price, data, tags, note)
        SELECT 'it''em ' || g, g, decode('00ff', 'hex'), ARRAY['a', 'b'], NULL FROM generate_series(1, 50) g;
      CREATE TABLE public."Mixed Case" (k text, n int, v text, PRIMARY KEY (k, n));
      INSERT INTO public."Mixed Case" VALUES ('a', 1, 'x'), ('b', 2, 'y');`);
    await p.target.query(`
      DELETE FROM public.items WHERE id IN (3, 4);
      UPDATE public.items SET price = 0, tags = '{}' WHERE id = 10;
      UPDATE public.items SET note = 'local' WHERE id = 11;
      INSERT INTO public.items (id, name, price) OVERRIDING SYSTEM VALUE VALUES (999, 'extra', 1);
      UPDATE public."Mixed Case" SET v = 'changed' WHERE k = 'b';
      DELETE FROM public."Mixed Case" WHERE k = 'a';`);
  });
  afterAll(async () => {
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes SQL (mode 0600) that makes the target equal; a second validate finds nothing', async () => {
    const file = join(dir, 'fix.sql');
    const r = await run(
      'validate',
      '--source',
      p.sourceUrl,
      '--target',
      p.targetUrl,
      '-q',
      '--patch-file',
      file,
      '--json',
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).patch).toMatchObject({ file, inserts: 3, updates: 3, deletes: 1, partial: false });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const sql = readFileSync(file, 'utf8');
    expect(sql).toMatch(/^-- zdm validate --patch-file/);
    expect(sql).toContain('BEGIN;');
    // A generated column is never set (its value travels in the row's JSON only).
    expect(sql).not.toMatch(/\([^)']*"doubled"/);
    expect(sql).not.toMatch(/SET [^=]*"doubled"/);
    await p.target.query(sql);
    const again = await run('validate', '--source', p.sourceUrl, '--target', p.targetUrl, '-q');
    expect(again.out).toContain('OK:');
    expect(again.code).toBe(0);
  });

  it('says in text where the patch is, and refuses a path it cannot write (nothing compared)', async () => {
    const text = await run(
      'validate',
      '--source',
      p.sourceUrl,
      '--target',
      p.targetUrl,
      '-q',
      '--patch-file',
      join(dir, 'none.sql'),
    );
    expect(text.code).toBe(0);
    const bad = await run(
      'validate',
      '--source',
      p.sourceUrl,
      '--target',
      p.targetUrl,
      '-q',
      '--patch-file',
      join(dir, 'no', 'such', 'dir.sql'),
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--patch-file');
  });
});
