/** Per-table preflight checks and the preflight() report, against one small real database pair. */
import {
  createPreflightContext,
  PARTITION_SELECTION_RULE,
  preflight,
  type PreflightCheck,
  type PreflightRunOptions,
} from '../../../../lambda/engine/preflight';
import {
  arrayWithoutKey,
  generatedColumn,
  noPrimaryKey,
  noTables,
  partitionedTable,
  partitionSelected,
  reverseTargetPrivileges,
  sequenceColumnUnindexed,
  unsupportedType,
  wayBackUnguarded,
} from '../../../../lambda/engine/preflight/checks';
import type { TableSelection } from '../../../../contract';
import { createPool } from '../../../../lambda/engine/pg/connection';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from '../validation/helpers';

let p: Pair;

beforeAll(async () => {
  p = await openPair('preflight_tables');
  await p.both(`
    CREATE TYPE public.mood AS ENUM ('a', 'b');
    CREATE TABLE public.clean (id int PRIMARY KEY, name text, n numeric(10, 2), tags text[]);
    CREATE TABLE public.audit (at timestamptz, what text);
    CREATE TABLE public.audit_full (at timestamptz, what text);
    ALTER TABLE public.audit_full REPLICA IDENTITY FULL;
    CREATE TABLE public.keyless_arrays (v int[]);
    CREATE TABLE public.gen (id int PRIMARY KEY, a int, doubled int GENERATED ALWAYS AS (a * 2) STORED);
    CREATE TABLE public.typed (id int PRIMARY KEY, m public.mood, addr inet, ms public.mood[]);
    CREATE TABLE public.orders (id int, placed date, PRIMARY KEY (id, placed)) PARTITION BY RANGE (placed);
    CREATE TABLE public.orders_2024 PARTITION OF public.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE public.orders_2025 PARTITION OF public.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    CREATE SEQUENCE public.entry_nos;
    CREATE TABLE public.ledger (id serial PRIMARY KEY, entry_no bigint DEFAULT nextval('public.entry_nos'));
    CREATE SEQUENCE public.doc_nos;
    CREATE TABLE public.tenant_docs (
      tenant int, doc_no bigint DEFAULT nextval('public.doc_nos'), PRIMARY KEY (tenant, doc_no));`);
});
afterAll(() => p.close());

const only = (...tables: string[]): TableSelection => ({
  include: tables.map((table) => ({ schema: 'public', table })),
});

function run(check: PreflightCheck, selection: TableSelection, options: PreflightRunOptions = {}) {
  return check.run(createPreflightContext('source', p.source, selection, options));
}

describe('no-tables', () => {
  it('accepts a selection that matches a table', async () => {
    expect(await run(noTables, only('clean'))).toEqual([]);
  });

  it('fails when the selection matches nothing', async () => {
    const [f] = await run(noTables, { include: [{ schema: 'nope' }] });
    expect(f).toMatchObject({ code: 'no-tables', severity: 'error', object: 'selection' });
    expect(f.action).toContain(PARTITION_SELECTION_RULE);
  });
});

describe('no-primary-key', () => {
  it('accepts tables with a primary key, partitioned ones included', async () => {
    expect(await run(noPrimaryKey, only('clean', 'gen', 'orders'))).toEqual([]);
  });

  it('fails when a table has no primary key', async () => {
    const [f] = await run(noPrimaryKey, only('audit'));
    expect(f).toMatchObject({ code: 'no-primary-key', severity: 'error', object: 'public.audit' });
    expect(f.action).toContain('primary key');
  });

  it('fails when a table has only REPLICA IDENTITY FULL without the opt-in, and warns with it', async () => {
    const [without] = await run(noPrimaryKey, only('audit_full'));
    expect(without).toMatchObject({ severity: 'error', message: expect.stringContaining('explicit opt-in') });
    const [withOptIn] = await run(noPrimaryKey, only('audit_full'), { allowReplicaIdentityFull: true });
    expect(withOptIn).toMatchObject({ severity: 'warning', code: 'no-primary-key' });
    // The opt-in does not excuse a table that has neither.
    expect(await run(noPrimaryKey, only('audit'), { allowReplicaIdentityFull: true })).toEqual([
      expect.objectContaining({ severity: 'error', object: 'public.audit' }),
    ]);
  });
});

describe('partitions: one way to select them (the partitioned table)', () => {
  it('partition-selected accepts the partitioned table, alone or with its partitions matched by a pattern', async () => {
    expect(await run(partitionSelected, only('orders'))).toEqual([]);
    expect(await run(partitionSelected, { include: [{ schema: 'public' }] })).toEqual([]);
  });

  it('partition-selected fails when a partition is selected without its partitioned table', async () => {
    const [one] = await run(partitionSelected, only('orders_2024', 'clean'));
    expect(one).toMatchObject({ code: 'partition-selected', severity: 'error', object: 'public.orders' });
    expect(one.message).toBe(
      `public.orders_2024 is a partition of public.orders, which the selection leaves out: ${PARTITION_SELECTION_RULE}`,
    );
    const [both] = await run(partitionSelected, only('orders_20%'));
    expect(both.message).toContain('public.orders_2024, public.orders_2025 are partitions of public.orders');
    // Excluding the partitioned table while including a partition is the same mistake.
    const excluded = await run(partitionSelected, {
      include: [{ schema: 'public' }],
      exclude: [{ schema: 'public', table: 'orders' }],
    });
    expect(excluded.map((f) => f.object)).toEqual(['public.orders']);
  });

  it('partitioned-table accepts a selection without partitioned tables', async () => {
    expect(await run(partitionedTable, only('clean'))).toEqual([]);
  });

  it('partitioned-table fails when a partitioned table is selected (warning), in the same words as the CLI', async () => {
    const [f] = await run(partitionedTable, only('orders'));
    expect(f).toMatchObject({ code: 'partitioned-table', severity: 'warning', object: 'public.orders' });
    expect(f.message).toContain(PARTITION_SELECTION_RULE);
    expect(f.action).not.toMatch(/include the partitions/i);
  });
});

describe('reverse-target-privileges', () => {
  const reader = `zdm_pf_reader_${process.pid}`;
  afterAll(async () => {
    await sql(p.sourceUrl, `DROP OWNED BY ${reader}; DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
  });

  it('accepts a user that may write every selected table, and is not run without a way back', async () => {
    expect(await run(reverseTargetPrivileges, only('clean', 'orders'), { reverseReplication: true })).toEqual([]);
    await sql(p.sourceUrl, `DROP ROLE IF EXISTS ${reader}; CREATE ROLE ${reader} LOGIN PASSWORD 'r'`);
    const url = new URL(p.sourceUrl);
    [url.username, url.password] = [reader, 'r'];
    const pool = await createPool(url.toString(), { max: 1 });
    try {
      const ctx = createPreflightContext('source', pool, only('clean'), {});
      expect(await reverseTargetPrivileges.run(ctx)).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('fails when the source user may only read a selected table (the way back could not apply to it)', async () => {
    await sql(p.sourceUrl, `DROP ROLE IF EXISTS ${reader}; CREATE ROLE ${reader} LOGIN PASSWORD 'r'`);
    await sql(p.sourceUrl, `GRANT SELECT, UPDATE ON public.clean TO ${reader}; GRANT ALL ON public.gen TO ${reader}`);
    const url = new URL(p.sourceUrl);
    [url.username, url.password] = [reader, 'r'];
    const pool = await createPool(url.toString(), { max: 1 });
    try {
      const ctx = createPreflightContext('source', pool, only('clean', 'gen'), { reverseReplication: true });
      expect(await reverseTargetPrivileges.run(ctx)).toEqual([
        expect.objectContaining({
          code: 'reverse-target-privileges',
          severity: 'error',
          object: 'public.clean',
          message: expect.stringContaining('lacks INSERT, DELETE'),
        }),
      ]);
    } finally {
      await pool.end();
    }
  });
});

describe('way-back-unguarded', () => {
  const owner = `zdm_pf_guard_${process.pid}`;
  afterAll(async () => {
    await sql(p.sourceUrl, `DROP OWNED BY ${owner}; DROP ROLE IF EXISTS ${owner}`).catch(() => undefined);
  });

  it("warns, naming the tables, when the source's user may not put the guard's trigger on them; silent otherwise", async () => {
    expect(await run(wayBackUnguarded, only('clean', 'orders'), { reverseReplication: true })).toEqual([]);
    await sql(p.sourceUrl, `DROP ROLE IF EXISTS ${owner}; CREATE ROLE ${owner} LOGIN PASSWORD 'g'`);
    await sql(
      p.sourceUrl,
      `GRANT ALL ON public.clean TO ${owner}; GRANT SELECT, INSERT, UPDATE, DELETE ON public.gen TO ${owner}`,
    );
    const url = new URL(p.sourceUrl);
    [url.username, url.password] = [owner, 'g'];
    const pool = await createPool(url.toString(), { max: 1 });
    try {
      const ctx = createPreflightContext('source', pool, only('clean', 'gen'), { reverseReplication: true });
      expect(await wayBackUnguarded.run(ctx)).toEqual([
        expect.objectContaining({
          code: 'way-back-unguarded',
          severity: 'warning',
          object: 'public.gen',
          message: expect.stringContaining('lacks TRIGGER on public.gen'),
        }),
      ]);
      // without a way back there is no guard to install
      expect(await wayBackUnguarded.run(createPreflightContext('source', pool, only('clean', 'gen'), {}))).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});

describe('columns', () => {
  it('sequence-column-unindexed accepts a serial primary key (its index serves max())', async () => {
    await sql(p.sourceUrl, `CREATE INDEX ledger_entry_no ON public.ledger (entry_no)`);
    try {
      expect(await run(sequenceColumnUnindexed, only('ledger'))).toEqual([]);
    } finally {
      await sql(p.sourceUrl, `DROP INDEX public.ledger_entry_no`);
    }
  });

  it('sequence-column-unindexed fails when a unique index needs a scan of the column in the freeze (warning)', async () => {
    expect(await run(sequenceColumnUnindexed, only('tenant_docs'))).toEqual([
      expect.objectContaining({
        object: 'public.tenant_docs.doc_no',
        message: expect.stringContaining('read by a scan of the table inside the write freeze'),
      }),
    ]);
  });

  it('sequence-column-unindexed fails when a column drawing from a sequence has no index (warning)', async () => {
    expect(await run(sequenceColumnUnindexed, only('ledger'))).toEqual([
      expect.objectContaining({
        code: 'sequence-column-unindexed',
        severity: 'warning',
        object: 'public.ledger.entry_no',
        message: expect.stringContaining('public.entry_nos'),
      }),
    ]);
  });

  it('generated-column accepts tables without one', async () => {
    expect(await run(generatedColumn, only('clean'))).toEqual([]);
  });

  it('generated-column fails when a column is generated (warning)', async () => {
    expect(await run(generatedColumn, only('gen'))).toEqual([
      expect.objectContaining({ code: 'generated-column', severity: 'warning', object: 'public.gen.doubled' }),
    ]);
  });

  it('unsupported-type accepts int, text, numeric and text[]', async () => {
    expect(await run(unsupportedType, only('clean'))).toEqual([]);
  });

  it('unsupported-type fails when a column is an enum, inet or an enum array (warning)', async () => {
    const found = await run(unsupportedType, only('typed'));
    expect(found.map((f) => [f.object, f.severity])).toEqual([
      ['public.typed.addr', 'warning'],
      ['public.typed.m', 'warning'],
      ['public.typed.ms', 'warning'],
    ]);
    expect(found.find((f) => f.object === 'public.typed.ms')?.message).toContain('enum array');
  });

  it('array-without-key accepts arrays in a table with a primary key', async () => {
    expect(await run(arrayWithoutKey, only('clean'))).toEqual([]);
  });

  it('array-without-key fails when an array column is in a table without a primary key (warning)', async () => {
    expect(await run(arrayWithoutKey, only('keyless_arrays'))).toEqual([
      expect.objectContaining({ code: 'array-without-key', object: 'public.keyless_arrays.v' }),
    ]);
  });
});

describe('preflight()', () => {
  it('reports ok for a ready selection, with the server version and the tables checked', async () => {
    const r = await preflight(p.source, only('clean', 'gen'));
    expect(r).toMatchObject({ ok: true, tablesChecked: 2, serverVersion: expect.stringMatching(/^16/) });
    // The servers are shared with other test files: their slots may show up in the server-wide slot check.
    expect(r.findings.map((f) => f.code).filter((c) => c !== 'replication-slot-retains-wal')).toEqual([
      'generated-column',
    ]);
  });

  it('fails when a table has no primary key, and warns about enums', async () => {
    const r = await preflight(p.source, only('clean', 'audit', 'typed'));
    expect(r.ok).toBe(false);
    expect(r.tablesChecked).toBe(3);
    expect(r.findings).toContainEqual(
      expect.objectContaining({ severity: 'error', code: 'no-primary-key', object: 'public.audit' }),
    );
    expect(r.findings).toContainEqual(
      expect.objectContaining({ severity: 'warning', code: 'unsupported-type', object: 'public.typed.m' }),
    );
    // The test servers are configured for logical replication.
    expect(r.findings.map((f) => f.code)).not.toContain('wal-level');
    expect(r.findings.map((f) => f.code)).not.toContain('wal-sender-timeout');
  });

  it('accepts REPLICA IDENTITY FULL only with the explicit opt-in', async () => {
    expect((await preflight(p.source, only('audit_full'))).ok).toBe(false);
    const withOptIn = await preflight(p.source, only('audit_full'), { allowReplicaIdentityFull: true });
    expect(withOptIn.ok).toBe(true);
    expect(withOptIn.findings).toContainEqual(expect.objectContaining({ severity: 'warning', code: 'no-primary-key' }));
  });

  it('fails when the selection matches nothing', async () => {
    const r = await preflight(p.source, { include: [{ schema: 'nope' }] });
    expect(r.ok).toBe(false);
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'no-tables', severity: 'error' }));
  });

  it('fails when only a partition is selected: no-tables and partition-selected, never "include the partitions"', async () => {
    const r = await preflight(p.source, only('orders_2024'));
    expect(r.ok).toBe(false);
    expect(r.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['no-tables', 'partition-selected']));
    expect(JSON.stringify(r.findings)).not.toMatch(/include the partitions/i);
  });
});
