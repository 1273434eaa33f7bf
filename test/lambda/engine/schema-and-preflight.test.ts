import { diffSchema } from '../../../lambda/engine/schema';
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
    expect(r).toEqual({ ok: true, tablesChecked: 2, schemas: ['public'], errors: 0, warnings: 0, differences: [] });
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
        'index extra public.orders: other_name',
        'index missing public.orders: orders_placed',
        'table missing public.audit',
        'trigger missing public.orders: orders_touch',
        'unique missing public.customers: customers_email_key',
      ].sort(),
    );
    expect(r.differences.find((d) => d.object === 'public.orders.total')).toMatchObject({
      source: 'numeric(10,2)',
      target: 'numeric(12,2)',
      severity: 'error',
      fix: 'ALTER TABLE "public"."orders" ALTER COLUMN "total" TYPE numeric(10,2)',
    });
    // An extra plain index on the target is only a warning.
    expect(r.differences.find((d) => d.object === 'public.orders: other_name')).toMatchObject({
      code: 'index-extra',
      severity: 'warning',
    });
  });
});
