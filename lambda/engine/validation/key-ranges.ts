/**
 * Key ranges: `(k1, k2, ...) > lower AND (k1, k2, ...) <= upper`, compared as row values so a btree index on the
 * key serves them (and PostgreSQL may scan them in parallel). Text keys compare in byte order (`COLLATE "C"`) so
 * a range means the same rows on both sides whatever their collations; the clause is left out where the column's
 * collation already is byte order, so the index stays usable.
 */
import type { Pool } from 'pg';
import { quoteIdent } from '../pg/identifiers';
import { fromTable, readCatalog, type Catalog, type TableInfo } from '../catalog';
import { MARKER_TABLE, ZDM_SCHEMA, type TableName, type TableSelection } from '../../../contract';
import { mapLimit } from '../helpers';
import type { ChecksumOptions, HashMethod, RangeTask, TablePlan, ValidationPlan } from './types';

export interface Side {
  readonly catalog: Catalog;
  readonly table: TableInfo;
  /** A row filter (SQL over the alias `t`) the caller gave for this table: only these rows are compared. */
  readonly filter?: string;
}

/** The row filter as a condition: parenthesized, on lines of its own (a trailing `--` comment ends there). */
export function filterCondition(side: Side): string | undefined {
  return side.filter === undefined ? undefined : `(\n${side.filter}\n)`;
}

const BYTE_ORDER = new Set(['C', 'POSIX', 'ucs_basic']);

/** `t."k"` (with `COLLATE "C"` when the column's own collation is not byte order) for each key column. */
export function keyExprs(side: Side, keyColumns: readonly string[], alias = 't'): string[] {
  return keyColumns.map((name) => {
    const col = side.table.columns.find((c) => c.name === name);
    if (!col) throw new Error(`key column ${name} not found in ${side.table.display}`);
    const ref = `${alias}.${quoteIdent(name)}`;
    const byteOrder =
      !col.collatable ||
      BYTE_ORDER.has(col.collation) ||
      (col.collation === 'default' && side.catalog.defaultCollationIsC);
    return byteOrder ? ref : `${ref} COLLATE "C"`;
  });
}

/** The WHERE clause (or `true`) for a range, with parameters starting at `$<first>`. */
export function rangeWhere(
  side: Side,
  keyColumns: readonly string[],
  lower: readonly string[] | undefined,
  upper: readonly string[] | undefined,
  first = 1,
): { sql: string; params: string[] } {
  const exprs = keyExprs(side, keyColumns);
  const casts = keyColumns.map((name) => side.table.columns.find((c) => c.name === name)!.castType);
  const params: string[] = [];
  const tuple = (values: readonly string[]): string =>
    `(${values
      .map((v, i) => {
        params.push(v);
        return `$${first + params.length - 1}::${casts[i]}`;
      })
      .join(', ')})`;
  const lhs = `(${exprs.join(', ')})`;
  const conds: string[] = [];
  if (lower) conds.push(`${lhs} > ${tuple(lower)}`);
  if (upper) conds.push(`${lhs} <= ${tuple(upper)}`);
  const filter = filterCondition(side);
  if (filter) conds.push(filter);
  return { sql: conds.length ? conds.join(' AND ') : 'true', params };
}

/** Picks the hash method both sides support. */
export function hashMethodFor(source: Catalog, target: Catalog, wanted?: HashMethod): HashMethod {
  if (wanted === 'text') return 'text';
  return source.hasHashRecordExtended && target.hasHashRecordExtended ? 'record' : 'text';
}

/** Why a table cannot be checksummed, or undefined when it can. */
export function tableProblem(source: TableInfo, target: TableInfo | undefined): string | undefined {
  if (!target) return `table ${source.display} exists on the source but not on the target`;
  if (source.keyColumns.length === 0) {
    return `table ${source.display} has no primary key or unique index on NOT NULL columns: rows cannot be matched`;
  }
  const missingKey = source.keyColumns.filter((k) => !target.columns.some((c) => c.name === k));
  if (missingKey.length) return `key column(s) ${missingKey.join(', ')} missing on the target`;
  const names = (cols: TableInfo['columns']): Set<string> => new Set(cols.map((c) => c.name));
  const s = names(source.columns);
  const t = names(target.columns);
  const onlySource = [...s].filter((n) => !t.has(n));
  const onlyTarget = [...t].filter((n) => !s.has(n));
  if (onlySource.length || onlyTarget.length) {
    const parts = [];
    if (onlySource.length) parts.push(`only on source: ${onlySource.join(', ')}`);
    if (onlyTarget.length) parts.push(`only on target: ${onlyTarget.join(', ')}`);
    return `columns differ (${parts.join('; ')})`;
  }
  return undefined;
}

/**
 * Selected tables that exist on the target only (reported, or "every selected table matches" would hide them).
 * Tables the migration itself creates on the target are left out: AWS DMS control tables (`awsdms_%`) and the
 * cutover workflow's marker table (which may exist on the target before it does on the source).
 */
export function targetOnlyTables(source: Catalog, target: Catalog): TableInfo[] {
  return target.tables.filter(
    (t) =>
      !source.byName(t.name) &&
      !t.name.table.startsWith('awsdms_') &&
      !(t.name.schema === ZDM_SCHEMA && t.name.table === MARKER_TABLE),
  );
}

export function targetOnlyProblem(t: TableInfo): string {
  return `table ${t.display} exists on the target but not on the source`;
}

export function compareNames(a: TableName, b: TableName): number {
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return a.schema === b.schema ? cmp(a.table, b.table) : cmp(a.schema, b.schema);
}

const DEFAULT_RANGE_ROWS = 200_000;

/** Rows per range (key or block range), from the options or the default. */
export const rangeRowsOf = (options: ChecksumOptions): number => Math.max(1, options.rangeRows ?? DEFAULT_RANGE_ROWS);
const BLOCKS_PER_RANGE = 30;
const MAX_UNINDEXED_RANGES = 16;

/** Splits every selected table into key ranges of about `rangeRows` rows (JSON tasks for a Map state). */
export async function planRanges(
  source: Pool,
  target: Pool,
  selection: TableSelection,
  options: ChecksumOptions = {},
): Promise<ValidationPlan> {
  const [sc, tc] = await Promise.all([readCatalog(source, selection), readCatalog(target, selection)]);
  return planKeyRanges(source, { source: sc, target: tc }, sc.tables, options, targetOnlyTables(sc, tc));
}

/**
 * The key ranges of the given source tables (catalogs already read); `targetOnly` tables are listed as errors.
 * Task ids are `<table index>:<range index>` in the order of `tables`.
 */
export async function planKeyRanges(
  source: Pool,
  catalogs: { source: Catalog; target: Catalog },
  sourceTables: readonly TableInfo[],
  options: ChecksumOptions = {},
  targetOnly: readonly TableInfo[] = [],
): Promise<ValidationPlan> {
  const { source: sc, target: tc } = catalogs;
  const rangeRows = rangeRowsOf(options);
  const tables: TablePlan[] = [];
  const tasks: RangeTask[] = [];
  const planned = await mapLimit(sourceTables, options.concurrency ?? 2, async (t) => {
    const problem = tableProblem(t, tc.byName(t.name));
    if (problem) return { table: t, problem, bounds: [] as string[][], estimate: Math.max(0, t.estimatedRows) };
    const estimate = t.estimatedRows > 0 ? t.estimatedRows : await exactCount(source, t);
    // Where a key column's collation is not byte order, its index cannot serve `COLLATE "C"` ranges and every
    // range is a filtered sequential scan: keep those few (more rows per range) rather than scan the table often.
    const indexServes = [sc, tc].every(
      (catalog) =>
        !keyExprs({ catalog, table: catalog.byName(t.name)! }, t.keyColumns).some((e) => e.endsWith('COLLATE "C"')),
    );
    const n = Math.min(Math.ceil(estimate / rangeRows), indexServes ? Infinity : MAX_UNINDEXED_RANGES);
    const bounds = n > 1 ? await sampleBounds(source, { catalog: sc, table: t }, n, estimate) : [];
    return { table: t, problem: undefined, bounds, estimate };
  });
  for (const t of targetOnly) {
    tables.push({
      table: t.display,
      name: t.name,
      keyColumns: t.keyColumns,
      estimatedRows: Math.max(0, Math.round(t.estimatedRows)),
      ranges: 0,
      error: targetOnlyProblem(t),
    });
  }
  planned.forEach(({ table: t, problem, bounds, estimate }, ti) => {
    const base = { table: t.display, name: t.name, keyColumns: t.keyColumns, estimatedRows: Math.round(estimate) };
    if (problem) {
      tables.push({ ...base, ranges: 0, error: problem });
      return;
    }
    const count = bounds.length + 1;
    for (let i = 0; i < count; i++) {
      tasks.push({
        id: `${ti}:${i}`,
        table: t.name,
        keyColumns: [...t.keyColumns],
        ...(i > 0 ? { lower: bounds[i - 1] } : {}),
        ...(i < bounds.length ? { upper: bounds[i] } : {}),
        estimatedRows: Math.round(estimate / count),
      });
    }
    tables.push({ ...base, ranges: count });
  });
  tables.sort((a, b) => compareNames(a.name, b.name));
  return {
    tables,
    tasks,
    options: { exactNumeric: options.exactNumeric ?? true, hashMethod: hashMethodFor(sc, tc, options.hashMethod) },
  };
}

/** `count(*)` of a table's own rows. */
export async function exactCount(pool: Pool, t: TableInfo): Promise<number> {
  const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${fromTable(t)}`);
  return Number(r.rows[0].n);
}

/**
 * `n - 1` distinct upper bounds cutting the table into about `n` equal ranges, from a block sample (at least
 * `BLOCKS_PER_RANGE` blocks a range, so bounds are spread over the whole table); quantiles picked in SQL.
 */
async function sampleBounds(pool: Pool, side: Side, n: number, estimate: number): Promise<string[][]> {
  const pages = side.table.pages > 0 ? side.table.pages : Math.ceil(estimate / 50);
  const pct = Math.min(100, (100 * Math.max(n * BLOCKS_PER_RANGE, 300)) / Math.max(pages, 1));
  const exprs = keyExprs(side, side.table.keyColumns);
  const texts = side.table.keyColumns.map((k, i) => `t.${quoteIdent(k)}::text AS k${i}`);
  const names = side.table.keyColumns.map((_k, i) => `k${i}`);
  const r = await pool.query({
    text: `SELECT ${names.join(', ')} FROM (
             SELECT ${texts.join(', ')}, row_number() OVER (ORDER BY ${exprs.join(', ')}) AS rn, count(*) OVER () AS c
               FROM ${fromTable(side.table)} t TABLESAMPLE SYSTEM ($1)) s
            WHERE rn * $2::int8 / c <> (rn - 1) * $2::int8 / c AND rn < c
            ORDER BY rn`,
    values: [pct, n],
    rowMode: 'array',
  });
  const bounds: string[][] = [];
  for (const row of r.rows as string[][]) {
    const prev = bounds[bounds.length - 1];
    if (!prev || JSON.stringify(prev) !== JSON.stringify(row)) bounds.push(row);
  }
  return bounds;
}
