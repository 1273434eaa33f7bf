/**
 * lob-over-max-size against a real database: in limited LOB mode DMS fails the task on a LOB-typed value larger than
 * LobMaxSize; the local replication does not, so preflight has to find those values first.
 */
import { createPreflightContext, preflight, type PreflightRunOptions } from '../../../../../lambda/engine/preflight';
import { isDmsLob, lobOverMaxSize } from '../../../../../lambda/engine/preflight/checks/lob-over-max-size';
import type { TableSelection } from '../../../../../contract';
import { sql } from '../../../../support/databases';
import { openPair, type Pair } from '../../validation/helpers';

let p: Pair;

beforeAll(async () => {
  p = await openPair('preflight_lobs');
  await p.both(`
    CREATE TABLE public.docs (id int PRIMARY KEY, body text, blob bytea, doc jsonb, raw json, x xml,
                              note varchar, code varchar(8), tags text[], n int);
    CREATE TABLE public.small_docs (id int PRIMARY KEY, body text, doc jsonb);
    CREATE TABLE public.many (id int PRIMARY KEY, doc jsonb);
    CREATE TABLE public.no_lobs (id int PRIMARY KEY, n numeric);`);
  await sql(
    p.sourceUrl,
    `INSERT INTO public.docs VALUES
       (1, repeat('a', 50000), decode(repeat('ff', 40000), 'hex'), jsonb_build_object('k', repeat('j', 40000)),
        json_build_object('k', repeat('r', 20000)), xmlparse(content '<a>' || repeat('x', 10) || '</a>'),
        repeat('v', 36000), 'short', ARRAY[repeat('t', 35000)], 1),
       (2, 'small', '\\x00', '{}', '{}', NULL, NULL, NULL, NULL, 2);
     INSERT INTO public.small_docs VALUES (1, repeat('s', 1000), '{"a": 1}'), (2, NULL, NULL);
     INSERT INTO public.many SELECT g, jsonb_build_object('v', g, 'pad', repeat('p', 200)) FROM generate_series(1, 200000) g;
     INSERT INTO public.no_lobs VALUES (1, 1);
     ANALYZE;`,
  );
});
afterAll(() => p.close());

const only = (...tables: string[]): TableSelection => ({
  include: tables.map((table) => ({ schema: 'public', table })),
});

const run = (selection: TableSelection, options: PreflightRunOptions = {}) =>
  lobOverMaxSize.run(createPreflightContext('source', p.source, selection, options));

describe('lob-over-max-size', () => {
  it('fails when a LOB-typed value exceeds lobMaxSize (default 32 KiB), naming table, column, size and the fix', async () => {
    const findings = await run(only('docs'));
    expect(findings.map((f) => [f.severity, f.object])).toEqual([
      ['error', 'public.docs.blob'],
      ['error', 'public.docs.body'],
      ['error', 'public.docs.doc'],
      ['error', 'public.docs.note'],
      ['error', 'public.docs.tags'],
    ]);
    const body = findings.find((f) => f.object === 'public.docs.body')!;
    expect(body.code).toBe('lob-over-max-size');
    expect(body.message).toBe(
      'column body (text) holds a value of 48.8 KiB (50000 bytes), over lobMaxSize 32 KiB: DMS in limited LOB mode fails the task on it',
    );
    expect(body.action).toBe(
      'Raise lobMaxSize to at least 49 KiB (up to 100 MiB), or replicate public.docs in full LOB mode.',
    );
    // jsonb is measured in the text form DMS transfers, not its (smaller) binary form
    expect(findings.find((f) => f.object === 'public.docs.doc')!.message).toMatch(/\(400\d\d bytes\)/);
  });

  it('follows the configured lobMaxSize, and is skipped in full LOB mode', async () => {
    expect((await run(only('docs'), { lobMaxSizeKiB: 45 })).map((f) => f.object)).toEqual(['public.docs.body']);
    expect(await run(only('docs'), { lobMaxSizeKiB: 64 })).toEqual([]);
    expect(await run(only('docs'), { fullLobMode: true })).toEqual([]);
  });

  it('warns instead when the replication has no known LOB limit (native replication, the rehearsal)', async () => {
    const findings = await run(only('docs'), { lobLimitUnknown: true });
    expect(findings).toHaveLength(5);
    for (const f of findings) expect(f.severity).toBe('warning');
    expect(findings[0].message).toMatch(/fails the task on it \(this replication has no such limit; DMS would\)$/);
  });

  it('accepts tables whose LOB values all fit, and tables without LOB columns', async () => {
    expect(await run(only('small_docs', 'no_lobs'))).toEqual([]);
  });

  it('reports unknown (a warning) instead of scanning a table over the size limit', async () => {
    const findings = await run(only('many', 'no_lobs'), { lobScanMaxTableBytes: 1024 * 1024 });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'warning', object: 'public.many' });
    expect(findings[0].message).toMatch(
      /^largest values of LOB column\(s\) doc unknown \(the table is about [\d.]+ MiB, over the 1\.0 MiB scan limit\)/,
    );
  });

  it('reports unknown (a warning) when a scan runs past its statement timeout', async () => {
    const findings = await run(only('many'), { lobScanTimeoutMs: 1 });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'warning', object: 'public.many' });
    expect(findings[0].message).toMatch(/unknown \(the scan took over 1 ms\)/);
    // the pooled connection is usable afterwards (the transaction was rolled back, the timeout was local)
    expect((await p.source.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('0');
  });

  it('fails when lobMaxSizeKiB is not a positive number, naming the value', async () => {
    await expect(run(only('docs'), { lobMaxSizeKiB: 0 })).rejects.toThrow(
      'lobMaxSizeKiB must be a positive number of KiB, got 0',
    );
  });

  it('is part of preflight(): the report is not ok', async () => {
    const report = await preflight(p.source, only('docs'));
    expect(report.ok).toBe(false);
    expect(report.findings.filter((f) => f.code === 'lob-over-max-size')).toHaveLength(5);
  });

  it('knows which types DMS migrates as LOBs', () => {
    const column = (typeName: string, type = typeName, typeCategory = 'S') =>
      ({ typeName, type, typeCategory }) as Parameters<typeof isDmsLob>[0];
    expect(isDmsLob(column('text'))).toBe(true);
    expect(isDmsLob(column('varchar', 'character varying'))).toBe(true);
    expect(isDmsLob(column('varchar', 'character varying(8)'))).toBe(false);
    expect(isDmsLob(column('_int4', 'integer[]', 'A'))).toBe(true);
    expect(isDmsLob(column('int4', 'integer', 'N'))).toBe(false);
  });
});
