/** A table's row hash on both sides (its context) and the count + hash sum of one key range of it. */
import type { Pool } from 'pg';
import { formatTableName, type TableName } from '../../../contract';
import { fromTable, readTable, type Catalog } from '../catalog';
import { planColumnHashes, rowHashSql } from './column-hash';
import { hashMethodFor, rangeWhere, tableProblem, type Side } from './key-ranges';
import type { ColumnRef, HashMethod, RowFilter } from './types';

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8', 'oid']);

/** Everything needed to query one table on both sides. */
export interface TableContext {
  readonly name: TableName;
  readonly display: string;
  readonly keyColumns: string[];
  readonly source: Side;
  readonly target: Side;
  readonly sourceHash: string;
  readonly targetHash: string;
  readonly method: HashMethod;
  /** Report these key columns as numbers (integers that fit a double). */
  readonly integerKey: boolean[];
}

export interface Checksum {
  readonly rows: number;
  readonly sum: string;
}

/** Reads both catalogs for a table; returns the context or why the table cannot be compared. */
export async function tableContext(
  source: Pool,
  target: Pool,
  name: TableName,
  keyColumns: readonly string[] | undefined,
  exactNumeric: boolean,
  hashMethod?: HashMethod,
  excludeColumns?: readonly ColumnRef[],
  rowFilters?: readonly RowFilter[],
): Promise<TableContext | { error: string }> {
  const [s, t] = await Promise.all([readTable(source, name), readTable(target, name)]);
  return contextFromCatalogs(
    name,
    s.catalog,
    t.catalog,
    keyColumns,
    exactNumeric,
    hashMethod,
    excludeColumns,
    rowFilters,
  );
}

/** The context of a table from catalogs already read, or why the table cannot be compared. */
export function contextFromCatalogs(
  name: TableName,
  source: Catalog,
  target: Catalog,
  keyColumns: readonly string[] | undefined,
  exactNumeric: boolean,
  hashMethod?: HashMethod,
  excludeColumns?: readonly ColumnRef[],
  rowFilters?: readonly RowFilter[],
): TableContext | { error: string } {
  const s = source.byName(name);
  const t = target.byName(name);
  if (!s) return { error: `table ${formatTableName(name)} does not exist on the source` };
  // tableProblem names a table missing on the target too
  const problem = tableProblem(s, t);
  if (problem || !t) return { error: problem! };
  const keys = keyColumns && keyColumns.length ? [...keyColumns] : s.keyColumns;
  const method = hashMethodFor(source, target, hashMethod);
  // Columns the caller left out are hashed on neither side (a key column identifies rows: it cannot be left out).
  const drop = new Set(
    (excludeColumns ?? []).filter((e) => e.schema === name.schema && e.table === name.table).map((e) => e.column),
  );
  const keyDropped = keys.find((k) => drop.has(k));
  if (keyDropped) return { error: `column ${keyDropped} is part of the key of ${s.display}: it cannot be excluded` };
  const predicate = rowFilters?.find((f) => f.schema === name.schema && f.table === name.table)?.predicate;
  const filter = predicate === undefined ? {} : { filter: predicate };
  const plan = planColumnHashes(
    s.columns.filter((c) => !drop.has(c.name)),
    t.columns.filter((c) => !drop.has(c.name)),
    exactNumeric,
  );
  return {
    name,
    display: s.display,
    keyColumns: keys,
    source: { catalog: source, table: s, ...filter },
    target: { catalog: target, table: t, ...filter },
    sourceHash: rowHashSql(plan, s.columns, method),
    targetHash: rowHashSql(plan, t.columns, method),
    method,
    integerKey: keys.map((k) => INTEGER_TYPES.has(s.columns.find((c) => c.name === k)?.typeName ?? '')),
  };
}

/** Count and hash sum of the rows of one side in `(lower, upper]`. */
export async function checksum(
  pool: Pool,
  side: Side,
  hash: string,
  keyColumns: readonly string[],
  lower?: readonly string[],
  upper?: readonly string[],
): Promise<Checksum> {
  const where = rangeWhere(side, keyColumns, lower, upper);
  const r = await pool.query<{ n: string; s: string }>(
    `SELECT count(*) AS n, coalesce(sum(${hash}), 0)::text AS s FROM ${fromTable(side.table)} t WHERE ${where.sql}`,
    where.params,
  );
  return { rows: Number(r.rows[0].n), sum: r.rows[0].s };
}
