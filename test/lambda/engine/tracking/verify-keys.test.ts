/**
 * Re-verifying changed rows by key on both sides with the validation engine's row hash. Equal data is set up by
 * inserting the same rows in both databases; target-side drift is written as DMS would (replica role).
 */
import { advance, readChanges, startTracking, stopTracking, verifyKeys } from '../../../../lambda/engine/tracking';
import type { KeyCheck } from '../../../../lambda/engine/tracking';
import { sql } from '../../../support/databases';
import type { Pair } from '../validation/helpers';
import { openTrackingPair } from './helpers';

const statuses = (checked: KeyCheck[]): Record<string, string> =>
  Object.fromEntries(checked.map((c) => [c.key.join('|'), c.status]));
const table = (name: string) => ({ schema: 'public', table: name });

describe('verifyKeys', () => {
  let p: Pair;
  const spec = { slot: 'zdm_track_verify', publication: 'zdm_track_verify' };

  beforeAll(async () => {
    p = await openTrackingPair('trk_verify');
    await p.both(`
      CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, balance numeric);
      INSERT INTO public.accounts SELECT g, 'owner ' || g, g * 10 FROM generate_series(1, 6) g;
      CREATE TABLE public.ledger (at timestamptz NOT NULL, code text NOT NULL, amount numeric(12, 2) NOT NULL,
                                  ratio float8, PRIMARY KEY (code, at, amount));
      INSERT INTO public.ledger VALUES ('2024-01-01 10:00:00.123456+00', 'ü "a", b', 1.50, 0.1),
                                       ('2024-06-30 23:59:59+02', 'plain', 2.00, -0.0)`);
    await sql(p.targetUrl, `CREATE TABLE public.source_only_elsewhere (id int PRIMARY KEY)`);
  });

  afterAll(async () => {
    await stopTracking(p.source, spec);
    await p.close();
  });

  it('tells equal, changed, missing and extra rows apart (and absent on both as equal)', async () => {
    await sql(
      p.targetUrl,
      `SET session_replication_role = replica;
       UPDATE public.accounts SET balance = 21 WHERE id = 2;
       UPDATE public.accounts SET balance = 30.0 WHERE id = 3;
       DELETE FROM public.accounts WHERE id = 4;
       INSERT INTO public.accounts VALUES (7, 'only on target', 0)`,
    );
    const keys = [['1'], ['2'], ['3'], ['4'], ['5'], ['7'], ['8'], ['1']];
    const v = await verifyKeys(p.source, p.target, table('accounts'), keys, { batchSize: 2 });
    expect(v).toMatchObject({ display: 'public.accounts', keyColumns: ['id'] });
    expect(v.error).toBeUndefined();
    expect(statuses(v.checked)).toEqual({
      '1': 'equal',
      '2': 'changed',
      // Unconstrained numeric is compared exactly, as validation does: 30.0 is not 30.
      '3': 'changed',
      '4': 'missing',
      '5': 'equal',
      '7': 'extra',
      '8': 'equal',
    });
    expect(v.checked).toHaveLength(7); // duplicate key checked once
  });

  it('matches composite keys given as text (timestamptz, text with quotes and commas, numeric) by type', async () => {
    const keys = [
      ['ü "a", b', '2024-01-01 10:00:00.123456+00', '1.50'],
      ['plain', '2024-06-30 21:59:59+00', '2.00'],
    ];
    const v = await verifyKeys(p.source, p.target, table('ledger'), keys);
    expect(v.keyColumns).toEqual(['code', 'at', 'amount']);
    expect(statuses(v.checked)).toEqual({ [keys[0].join('|')]: 'equal', [keys[1].join('|')]: 'equal' });
    await sql(p.targetUrl, `UPDATE public.ledger SET ratio = 0.2 WHERE code = 'plain'`);
    const after = await verifyKeys(p.source, p.target, table('ledger'), keys);
    expect(after.checked.map((c) => c.status)).toEqual(['equal', 'changed']);
    await sql(p.targetUrl, `UPDATE public.ledger SET ratio = -0.0 WHERE code = 'plain'`);
  });

  it('verifies the keys a tracking slot read, in the text forms pgoutput sends', async () => {
    await startTracking(p.source, { ...spec, tables: [table('ledger')] });
    const row = `('2025-02-03 04:05:06.7+05:30', 'new, "key"', 3.10, 1e-7)`;
    await p.both(`INSERT INTO public.ledger VALUES ${row}`);
    const c = await readChanges(p.source, spec);
    const changed = c.keysByTable['public.ledger'];
    expect(changed.keys).toEqual([['new, "key"', '2025-02-02 22:35:06.7+00', '3.10']]);
    const v = await verifyKeys(p.source, p.target, changed.table, changed.keys, { keyColumns: changed.keyColumns });
    expect(v.checked.map((k) => k.status)).toEqual(['equal']);
    await advance(p.source, spec.slot, c.lastLsn!);
  });

  it('refuses a key in another text form rather than call its row equal', async () => {
    await expect(verifyKeys(p.source, p.target, table('accounts'), [['01']])).rejects.toThrow(/another text form/);
  });

  it('reports a table that cannot be compared, and keys of the wrong width', async () => {
    const missing = await verifyKeys(p.source, p.target, table('source_only_elsewhere'), [['1']]);
    expect(missing.error).toMatch(/does not exist on the source/);
    expect(missing.checked).toEqual([]);
    await expect(verifyKeys(p.source, p.target, table('accounts'), [['1', '2']])).rejects.toThrow(/does not match key/);
  });
});
