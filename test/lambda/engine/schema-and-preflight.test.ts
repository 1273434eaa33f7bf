import { diffSchema, preflight } from '../../../lambda/engine/validation';
import { sql } from '../../support/databases';
import { openPair, type Pair } from './validation/helpers';

describe('schema diff and preflight', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('schema');
    await p.both(`
      CREATE TABLE public.customers (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text);
      CREATE TABLE public.orders (
        id bigint PRIMARY KEY, customer_id int REFERENCES public.customers (id), total numeric(10,2), placed date);
      CREATE INDEX orders_placed ON public.orders (placed);
      CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER orders_touch BEFORE UPDATE ON public.orders FOR EACH ROW EXECUTE FUNCTION public.touch();`);
    await sql(p.sourceUrl, `CREATE TABLE public.audit (at timestamptz, what text)`);
  });
  afterAll(() => p.close());

  it('finds no difference in identical schemas', async () => {
    const r = await diffSchema(p.source, p.target, {
      include: [
        { schema: 'public', table: 'customers' },
        { schema: 'public', table: 'orders' },
      ],
    });
    expect(r).toEqual({ ok: true, tablesChecked: 2, differences: [] });
  });

  it('reports objects missing or different on the target', async () => {
    await sql(
      p.targetUrl,
      `ALTER TABLE public.orders ALTER COLUMN total TYPE numeric(12,2);
       ALTER TABLE public.customers DROP COLUMN name;
       ALTER TABLE public.customers DROP CONSTRAINT customers_email_key;
       ALTER TABLE public.orders DROP CONSTRAINT orders_customer_id_fkey;
       DROP INDEX public.orders_placed;
       CREATE INDEX other_name ON public.orders (customer_id);
       DROP TRIGGER orders_touch ON public.orders`,
    );
    const r = await diffSchema(p.source, p.target, { include: [{ schema: 'public' }] });
    expect(r.ok).toBe(false);
    const summary = r.differences.map((d) => `${d.objectType} ${d.kind} ${d.object}`).sort();
    expect(summary).toEqual(
      [
        'column different public.orders.total',
        'column missing public.customers.name',
        'foreign-key missing public.orders: orders_customer_id_fkey',
        'index missing public.orders: orders_placed',
        'table missing public.audit',
        'trigger missing public.orders: orders_touch',
        'unique missing public.customers: customers_email_key',
      ].sort(),
    );
    expect(r.differences.find((d) => d.object === 'public.orders.total')).toMatchObject({
      source: 'numeric(10,2)',
      target: 'numeric(12,2)',
    });
  });

  it('fails preflight for a table without a primary key, and warns about enums', async () => {
    await sql(p.sourceUrl, `CREATE TYPE mood AS ENUM ('a', 'b'); ALTER TABLE public.customers ADD COLUMN m mood`);
    const r = await preflight(p.source, { include: [{ schema: 'public' }] });
    expect(r.ok).toBe(false);
    expect(r.tablesChecked).toBe(3);
    expect(r.findings).toContainEqual(
      expect.objectContaining({
        severity: 'error',
        code: 'no-primary-key',
        object: 'public.audit',
        action: expect.stringContaining('primary key'),
      }),
    );
    expect(r.findings).toContainEqual(
      expect.objectContaining({ severity: 'warning', code: 'unsupported-type', object: 'public.customers.m' }),
    );
    // The test servers are configured for logical replication.
    expect(r.findings.map((f) => f.code)).not.toContain('wal-level');
    expect(r.findings.map((f) => f.code)).not.toContain('wal-sender-timeout');
  });

  it('accepts REPLICA IDENTITY FULL only with the explicit opt-in', async () => {
    await sql(p.sourceUrl, `ALTER TABLE public.audit REPLICA IDENTITY FULL`);
    const selection = { include: [{ schema: 'public', table: 'audit' }] };
    const without = await preflight(p.source, selection);
    expect(without.ok).toBe(false);
    const withOptIn = await preflight(p.source, selection, { allowReplicaIdentityFull: true });
    expect(withOptIn.ok).toBe(true);
    expect(withOptIn.findings).toContainEqual(expect.objectContaining({ severity: 'warning', code: 'no-primary-key' }));
  });

  it('fails preflight when the selection matches nothing', async () => {
    const r = await preflight(p.source, { include: [{ schema: 'nope' }] });
    expect(r.ok).toBe(false);
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'no-tables', severity: 'error' }));
  });
});
