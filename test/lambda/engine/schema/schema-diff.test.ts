import { diffSchema } from '../../../../lambda/engine/schema';
import type { SchemaDifference } from '../../../../lambda/engine/validation';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from '../validation/helpers';
import { fixtureSchema } from './fixture';

const only = (schema: string) => ({ include: [{ schema }] });
const summary = (ds: SchemaDifference[]): string[] => ds.map((d) => `${d.code} ${d.object} ${d.severity}`).sort();
const find = (ds: SchemaDifference[], code: string, object: string): SchemaDifference => {
  const d = ds.find((x) => x.code === code && x.object === object);
  if (!d) throw new Error(`no ${code} ${object} in:\n${summary(ds).join('\n')}`);
  return d;
};

describe('schema diff on a real schema, both directions', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('schema_diff');
    // One copy of the fixture per scenario: `same` stays identical, `fwd` changes on the target, `rev` on the source.
    await p.both(`CREATE EXTENSION citext; ${fixtureSchema('fwd')} ${fixtureSchema('rev')} ${fixtureSchema('same')}`);
    // The workflow's own schema is never compared, whatever is in it.
    await sql(
      p.sourceUrl,
      `CREATE SCHEMA zdm_cutover; CREATE TABLE zdm_cutover.cutover_marker (id int PRIMARY KEY);
       CREATE FUNCTION zdm_cutover.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
       -- DMS's heartbeat table, as DMS creates it on a source (HeartbeatSchema, public by default): never compared
       CREATE TABLE same.awsdms_heartbeat (hearbeat_id serial PRIMARY KEY, hearbeat_timestamp timestamp)`,
    );
  });
  afterAll(() => p.close());

  it('finds nothing in identical schemas (partitions, enums, a non-ASCII domain, arrays, bytea, tsvector, triggers, views)', async () => {
    const r = await diffSchema(p.source, p.target, { include: [{ schema: '%' }] });
    expect(summary(r.differences)).toEqual([]);
    expect(r).toMatchObject({ ok: true, errors: 0, warnings: 0, schemas: ['fwd', 'rev', 'same'], tablesChecked: 12 });
  });

  it('finds every kind of object missing or different on the target, with the fix to run', async () => {
    await sql(
      p.targetUrl,
      `ALTER TABLE fwd.product DROP CONSTRAINT product_qty_check;
       ALTER TABLE fwd.booking DROP CONSTRAINT booking_during_excl;
       ALTER TABLE fwd.product ALTER COLUMN qty SET DEFAULT 1;
       ALTER TABLE fwd.product ALTER COLUMN search DROP EXPRESSION;
       DROP VIEW fwd.cheap;
       REFRESH MATERIALIZED VIEW fwd.stock WITH NO DATA;
       ALTER DOMAIN fwd."prix_€" DROP CONSTRAINT prix_positif;
       ALTER DOMAIN fwd.code SET DEFAULT 'X';
       DROP FUNCTION fwd.total(int);
       CREATE OR REPLACE PROCEDURE fwd.archive(before date) LANGUAGE sql
         AS $$ DELETE FROM fwd.payment WHERE paid <= before $$;
       DROP AGGREGATE fwd.total_sum(numeric);
       DROP TYPE fwd.level; CREATE TYPE fwd.level AS ENUM ('high', 'low');
       DROP TYPE fwd.unused;
       ALTER TABLE fwd.payment DETACH PARTITION fwd.payment_2025;
       DROP TABLE fwd.payment_2024;
       ALTER TABLE fwd.product DISABLE TRIGGER product_touch;
       DROP TRIGGER product_audit ON fwd.product;
       DROP SEQUENCE fwd.spare;
       DROP INDEX fwd.product_tags;
       ALTER TABLE fwd.product DROP CONSTRAINT product_code_key;
       ALTER TABLE fwd.booking DROP CONSTRAINT booking_product_id_fkey;
       DROP TABLE fwd.ledger; CREATE TABLE fwd.ledger (id int PRIMARY KEY, at date) PARTITION BY RANGE (id);`,
    );
    const r = await diffSchema(p.source, p.target, only('fwd'));
    expect(summary(r.differences)).toEqual(
      [
        'aggregate-missing fwd.total_sum(numeric) error',
        'check-missing fwd.product: product_qty_check error',
        'column-default-different fwd.product.qty error',
        'domain-constraint-missing fwd."prix_€": prix_positif error',
        'domain-different fwd.code error',
        'enum-different fwd.level error',
        'enum-label-order fwd.level error',
        'enum-missing fwd.unused error',
        'exclusion-missing fwd.booking: booking_during_excl error',
        'foreign-key-missing fwd.booking: booking_product_id_fkey error',
        'function-missing fwd.total(integer) error',
        'generated-column-missing fwd.product.search error',
        'index-missing fwd.product: product_tags error',
        'materialized-view-unpopulated fwd.stock error',
        'partition-detached fwd.payment: fwd.payment_2025 error',
        'partition-missing fwd.payment: fwd.payment_2024 error',
        'procedure-different fwd.archive(date) error',
        'sequence-missing fwd.spare error',
        'table-different fwd.ledger error',
        'trigger-enabled fwd.product: product_touch error',
        'trigger-missing fwd.product: product_audit error',
        'unique-missing fwd.product: product_code_key error',
        'view-missing fwd.cheap error',
      ].sort(),
    );
    expect(r.ok).toBe(false);
    const d = r.differences;
    expect(find(d, 'check-missing', 'fwd.product: product_qty_check').fix).toBe(
      'ALTER TABLE "fwd"."product" ADD CONSTRAINT "product_qty_check" CHECK ((qty >= 0))',
    );
    expect(find(d, 'column-default-different', 'fwd.product.qty')).toMatchObject({
      source: '0',
      target: '1',
      fix: 'ALTER TABLE "fwd"."product" ALTER COLUMN "qty" SET DEFAULT 0',
    });
    expect(find(d, 'materialized-view-unpopulated', 'fwd.stock').fix).toBe('REFRESH MATERIALIZED VIEW "fwd"."stock"');
    expect(find(d, 'partition-detached', 'fwd.payment: fwd.payment_2025').fix).toBe(
      `ALTER TABLE "fwd"."payment" ATTACH PARTITION "fwd"."payment_2025" FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
    );
    expect(find(d, 'partition-missing', 'fwd.payment: fwd.payment_2024').fix).toBe(
      `CREATE TABLE "fwd"."payment_2024" PARTITION OF "fwd"."payment" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
    );
    expect(find(d, 'trigger-enabled', 'fwd.product: product_touch')).toMatchObject({
      source: 'enabled',
      target: 'disabled',
      fix: 'ALTER TABLE "fwd"."product" ENABLE TRIGGER "product_touch"',
    });
    expect(find(d, 'domain-constraint-missing', 'fwd."prix_€": prix_positif').fix).toBe(
      'ALTER DOMAIN "fwd"."prix_€" ADD CONSTRAINT "prix_positif" CHECK ((VALUE >= (0)::numeric))',
    );
    expect(find(d, 'domain-different', 'fwd.code').fix).toBe('ALTER DOMAIN "fwd"."code" DROP DEFAULT');
    expect(find(d, 'view-missing', 'fwd.cheap').fix).toMatch(
      /^CREATE VIEW "fwd"\."cheap" AS SELECT id, code FROM fwd\.product/,
    );
    expect(find(d, 'function-missing', 'fwd.total(integer)').fix).toContain(
      `pg_get_functiondef('fwd.total(integer)'::regprocedure)`,
    );
    expect(find(d, 'enum-different', 'fwd.level').fix).toBe(
      `ALTER TYPE "fwd"."level" ADD VALUE IF NOT EXISTS 'mid' AFTER 'low'`,
    );
    expect(find(d, 'exclusion-missing', 'fwd.booking: booking_during_excl').source).toBe(
      'EXCLUDE USING gist (during WITH &&)',
    );
    expect(find(d, 'generated-column-missing', 'fwd.product.search').fix).toContain('GENERATED ALWAYS AS (');
    expect(find(d, 'table-different', 'fwd.ledger')).toMatchObject({
      source: 'not partitioned',
      target: 'PARTITION BY RANGE (id)',
    });
    // The detached partition is not also reported as a table on the target only.
    expect(d.filter((x) => x.objectType === 'table' && x.kind === 'extra')).toEqual([]);
  });

  it('the SQL fixes, run on the target, leave only what needs the source definition or a rebuild', async () => {
    const before = await diffSchema(p.source, p.target, only('fwd'));
    for (const d of before.differences) {
      if (d.fix && /^(ALTER|CREATE|DROP|REFRESH) /.test(d.fix)) await sql(p.targetUrl, d.fix);
    }
    const after = await diffSchema(p.source, p.target, only('fwd'));
    expect(summary(after.differences)).toEqual([
      'aggregate-missing fwd.total_sum(numeric) error',
      'enum-label-order fwd.level error',
      'function-missing fwd.total(integer) error',
      'procedure-different fwd.archive(date) error',
      'table-different fwd.ledger error',
    ]);
  });

  it('finds every kind of object on the target only', async () => {
    await sql(
      p.sourceUrl,
      `ALTER TABLE rev.product DROP CONSTRAINT product_qty_check;
       ALTER TABLE rev.booking DROP CONSTRAINT booking_during_excl;
       ALTER TABLE rev.product ALTER COLUMN qty DROP DEFAULT;
       ALTER TABLE rev.product ALTER COLUMN search DROP EXPRESSION;
       DROP VIEW rev.cheap;
       DROP MATERIALIZED VIEW rev.stock;
       ALTER DOMAIN rev."prix_€" DROP CONSTRAINT prix_positif;
       DROP FUNCTION rev.total(int);
       DROP PROCEDURE rev.archive(date);
       DROP AGGREGATE rev.total_sum(numeric);
       DROP TYPE rev.level; CREATE TYPE rev.level AS ENUM ('low', 'high');
       DROP TYPE rev.unused;
       ALTER TABLE rev.payment DETACH PARTITION rev.payment_2025;
       DROP TRIGGER product_audit ON rev.product;
       ALTER TABLE rev.product DISABLE TRIGGER product_touch;
       DROP SEQUENCE rev.spare;
       DROP INDEX rev.product_tags;
       ALTER TABLE rev.product DROP CONSTRAINT product_code_key;
       ALTER TABLE rev.booking DROP CONSTRAINT booking_product_id_fkey;
       ALTER TABLE rev.product DROP COLUMN photo;`,
    );
    await sql(
      p.targetUrl,
      `CREATE TABLE rev.only_here (id int PRIMARY KEY);
       CREATE DOMAIN rev.extra_domain AS int;
       CREATE TYPE rev.extra_enum AS ENUM ('a');`,
    );
    const r = await diffSchema(p.source, p.target, only('rev'));
    expect(summary(r.differences)).toEqual(
      [
        'aggregate-extra rev.total_sum(numeric) warning',
        'check-extra rev.product: product_qty_check error',
        'column-default-extra rev.product.qty warning',
        'column-extra rev.product.photo error',
        'domain-constraint-extra rev."prix_€": prix_positif error',
        'domain-extra rev.extra_domain warning',
        'enum-different rev.level warning',
        'enum-extra rev.extra_enum warning',
        'enum-extra rev.unused warning',
        'exclusion-extra rev.booking: booking_during_excl error',
        'foreign-key-extra rev.booking: booking_product_id_fkey error',
        'function-extra rev.total(integer) warning',
        'generated-column-extra rev.product.search error',
        'index-extra rev.product: product_tags warning',
        'materialized-view-extra rev.stock warning',
        'partition-extra rev.payment: rev.payment_2025 warning',
        'procedure-extra rev.archive(date) warning',
        'sequence-extra rev.spare warning',
        'table-extra rev.only_here warning',
        'trigger-enabled rev.product: product_touch error',
        'trigger-extra rev.product: product_audit error',
        'unique-extra rev.product: product_code_key error',
        'view-extra rev.cheap warning',
      ].sort(),
    );
    expect(r.ok).toBe(false);
    expect(r.warnings).toBe(r.differences.filter((x) => x.severity === 'warning').length);
    expect(find(r.differences, 'check-extra', 'rev.product: product_qty_check').fix).toBe(
      'ALTER TABLE "rev"."product" DROP CONSTRAINT "product_qty_check"',
    );
    expect(find(r.differences, 'trigger-enabled', 'rev.product: product_touch').fix).toBe(
      'ALTER TABLE "rev"."product" DISABLE TRIGGER "product_touch"',
    );
    for (const d of r.differences.filter((x) => x.severity === 'error')) if (d.fix) await sql(p.targetUrl, d.fix);
    const after = await diffSchema(p.source, p.target, only('rev'));
    expect(summary(after.differences.filter((x) => x.severity === 'error'))).toEqual([
      'column-extra rev.product.photo error',
    ]);
  });

  it('is ok with warnings only, and compares extensions database-wide (version differences are warnings)', async () => {
    await sql(p.targetUrl, `DROP EXTENSION citext; CREATE EXTENSION citext VERSION '1.4'`);
    const r = await diffSchema(p.source, p.target, only('same'));
    expect(summary(r.differences)).toEqual(['extension-version citext warning']);
    expect(r).toMatchObject({ ok: true, errors: 0, warnings: 1 });
    expect(r.differences[0]).toMatchObject({
      source: '1.6',
      target: '1.4',
      fix: `ALTER EXTENSION "citext" UPDATE TO '1.6'`,
    });

    await sql(p.sourceUrl, `CREATE EXTENSION hstore`);
    await sql(p.targetUrl, `CREATE EXTENSION pg_trgm`);
    const both = await diffSchema(p.source, p.target, only('same'));
    expect(summary(both.differences)).toEqual([
      'extension-extra pg_trgm warning',
      'extension-missing hstore error',
      'extension-version citext warning',
    ]);
    expect(find(both.differences, 'extension-missing', 'hstore').fix).toBe(
      'CREATE EXTENSION IF NOT EXISTS "hstore" WITH SCHEMA "public"',
    );
  });

  it('keeps messages and fixes bounded for long definitions, and quotes hostile names', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `${i} AS c${i}`).join(', ');
    await sql(
      p.sourceUrl,
      `CREATE SCHEMA "we""ird"; CREATE TABLE "we""ird"."t; x" (id int PRIMARY KEY, v int CHECK (v > 0));
       CREATE VIEW "we""ird".wide AS SELECT ${long}`,
    );
    await sql(p.targetUrl, `CREATE SCHEMA "we""ird"; CREATE TABLE "we""ird"."t; x" (id int PRIMARY KEY, v int)`);
    const r = await diffSchema(p.source, p.target, only('we"ird'));
    // (Extensions are database-wide: the previous test left some different.)
    expect(summary(r.differences.filter((d) => d.objectType !== 'extension'))).toEqual([
      'check-missing "we""ird"."t; x": t; x_v_check error',
      'view-missing "we""ird".wide error',
    ]);
    for (const d of r.differences) {
      expect(d.message.length).toBeLessThanOrEqual(480);
      expect((d.source ?? '').length).toBeLessThanOrEqual(1000);
      expect((d.fix ?? '').length).toBeLessThanOrEqual(4000);
    }
    expect(find(r.differences, 'check-missing', '"we""ird"."t; x": t; x_v_check').fix).toBe(
      'ALTER TABLE "we""ird"."t; x" ADD CONSTRAINT "t; x_v_check" CHECK ((v > 0))',
    );
    expect(find(r.differences, 'view-missing', '"we""ird".wide').fix).toContain('shortened');
  });
});
