import type { Pool } from 'pg';
import { qualify } from './pg/identifiers';
import { formatTableName, selectTables, type TableName, type TableSelection } from '../../contract';

/** A column as the catalog describes it. */
export interface ColumnInfo {
  readonly name: string;
  /** `format_type(atttypid, atttypmod)`, e.g. `numeric(10,2)`, `public."Mood"`. */
  readonly type: string;
  /** `format_type(atttypid, NULL)`: usable in casts (`$1::<castType>`). */
  readonly castType: string;
  /** Base type name for built-ins (`int4`, `_text`, ...), the `typname` otherwise. */
  readonly typeName: string;
  /** `b` base, `e` enum, `c` composite, `d` domain, `r` range, `m` multirange, `p` pseudo. */
  readonly typeKind: string;
  /** `typcategory`, `A` for arrays. */
  readonly typeCategory: string;
  /** Element type name of an array (`typname`), and its kind. */
  readonly elementTypeName?: string;
  readonly elementTypeKind?: string;
  readonly notNull: boolean;
  readonly collatable: boolean;
  /** The column's collation (`default`, `C`, `en-x-icu`, ...), '' when not collatable. */
  readonly collation: string;
  /** `a` (identity always), `d` (by default) or ''. */
  readonly identity: string;
  /** `s` for stored generated columns, '' otherwise. */
  readonly generated: string;
  readonly builtinType: boolean;
}

export interface TableInfo {
  readonly name: TableName;
  /** Display name `schema.table`. */
  readonly display: string;
  readonly oid: number;
  /** `r` table, `p` partitioned table. */
  readonly kind: string;
  /** Columns sorted by name (target may order them differently). */
  readonly columns: ColumnInfo[];
  /** Key columns in key order: the primary key, or the first unique index on NOT NULL columns. */
  readonly keyColumns: string[];
  readonly keySource: 'primary-key' | 'unique-index' | 'none';
  /** `reltuples` (−1 or 0 when never analyzed). */
  readonly estimatedRows: number;
  /** `relpages` (summed over partitions), from the last VACUUM / ANALYZE. */
  readonly pages: number;
  /** `d` default, `n` nothing, `f` full, `i` index. */
  readonly replicaIdentity: string;
}

export interface Catalog {
  readonly serverVersionNum: number;
  readonly hasHashRecordExtended: boolean;
  /** Database default collation behaves like "C" (byte order). */
  readonly defaultCollationIsC: boolean;
  readonly tables: TableInfo[];
  byName(name: TableName): TableInfo | undefined;
}

/**
 * The table's own rows in a FROM clause: `ONLY "s"."t"` for a plain table (a SELECT on an inheritance parent would
 * also return its children's rows, which are checked as tables of their own), `"s"."t"` for a partitioned table
 * (its rows are in its partitions).
 */
export function fromTable(t: Pick<TableInfo, 'name' | 'kind'>): string {
  return t.kind === 'p' ? qualify(t.name) : `ONLY ${qualify(t.name)}`;
}

const key = (n: TableName): string => JSON.stringify([n.schema, n.table]);

/** Reads the selected tables (plain and partitioned; partitions are covered by their parent) of one database. */
export async function readCatalog(pool: Pool, selection: TableSelection): Promise<Catalog> {
  const info = await pool.query<{ v: number; hre: boolean; c: boolean }>(
    `SELECT current_setting('server_version_num')::int AS v,
            to_regprocedure('hash_record_extended(record,bigint)') IS NOT NULL AS hre,
            (SELECT datcollate IN ('C', 'POSIX') FROM pg_database WHERE datname = current_database()) AS c`,
  );
  const rels = await pool.query<{
    oid: number;
    schema: string;
    table: string;
    kind: string;
    est: number;
    pages: number;
    ri: string;
  }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS table, c.relkind::text AS kind,
            CASE WHEN c.relkind = 'p' THEN
              (SELECT coalesce(sum(greatest(p.reltuples, 0)), -1) FROM pg_partition_tree(c.oid) pt
                 JOIN pg_class p ON p.oid = pt.relid WHERE pt.isleaf)
            WHEN c.relpages > 0 AND c.reltuples >= 0 THEN
              -- Scaled to the current size, as the planner does, so a table that grew since ANALYZE is not underestimated.
              c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::int)
            ELSE c.reltuples END::float8 AS est,
            CASE WHEN c.relkind = 'p' THEN
              (SELECT coalesce(sum(p.relpages), 0) FROM pg_partition_tree(c.oid) pt
                 JOIN pg_class p ON p.oid = pt.relid WHERE pt.isleaf)
            ELSE c.relpages END::float8 AS pages,
            c.relreplident::text AS ri
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        AND n.nspname NOT LIKE 'pg\\_temp%'`,
  );
  const selected = selectTables(
    selection,
    rels.rows.map((r) => ({ schema: r.schema, table: r.table })),
  );
  const bySelected = new Map(rels.rows.map((r) => [key(r), r]));
  const oids = selected.map((s) => bySelected.get(key(s))!.oid);
  const cols = await pool.query<{
    rel: number;
    name: string;
    type: string;
    cast_type: string;
    typname: string;
    typtype: string;
    typcategory: string;
    elemname: string | null;
    elemtype: string | null;
    notnull: boolean;
    collatable: boolean;
    collation: string | null;
    identity: string;
    generated: string;
    builtin: boolean;
  }>(
    `SELECT a.attrelid::int AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            format_type(a.atttypid, NULL) AS cast_type, t.typname, t.typtype::text AS typtype,
            t.typcategory::text AS typcategory, e.typname AS elemname, e.typtype::text AS elemtype,
            a.attnotnull AS notnull, t.typcollation <> 0 AS collatable,
            (SELECT collname FROM pg_collation WHERE oid = a.attcollation) AS collation, a.attidentity::text AS identity,
            a.attgenerated::text AS generated, t.typnamespace = 'pg_catalog'::regnamespace AS builtin
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [oids],
  );
  const keys = await pool.query<{ rel: number; primary: boolean; cols: string[] }>(
    `SELECT i.indrelid::int AS rel, i.indisprimary AS primary,
            array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS cols
       FROM pg_index i
      WHERE i.indrelid = ANY($1::oid[]) AND (i.indisprimary OR i.indisunique) AND i.indisvalid
        AND i.indpred IS NULL AND i.indexprs IS NULL AND NOT (0 = ANY(i.indkey))
        AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k(attnum) JOIN pg_attribute a
                         ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE NOT a.attnotnull)
      ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid`,
    [oids],
  );
  const colsByRel = new Map<number, ColumnInfo[]>();
  for (const c of cols.rows) {
    const list = colsByRel.get(c.rel) ?? [];
    list.push({
      name: c.name,
      type: c.type,
      castType: c.cast_type,
      typeName: c.typname,
      typeKind: c.typtype,
      typeCategory: c.typcategory,
      elementTypeName: c.elemname ?? undefined,
      elementTypeKind: c.elemtype ?? undefined,
      notNull: c.notnull,
      collatable: c.collatable,
      collation: c.collation ?? '',
      identity: c.identity,
      generated: c.generated,
      builtinType: c.builtin,
    });
    colsByRel.set(c.rel, list);
  }
  const keyByRel = new Map<number, { primary: boolean; cols: string[] }>();
  for (const k of keys.rows) if (!keyByRel.has(k.rel)) keyByRel.set(k.rel, { primary: k.primary, cols: k.cols });
  const tables: TableInfo[] = selected.map((name) => {
    const r = bySelected.get(key(name))!;
    const k = keyByRel.get(r.oid);
    return {
      name,
      display: formatTableName(name),
      oid: r.oid,
      kind: r.kind,
      columns: (colsByRel.get(r.oid) ?? []).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      keyColumns: k?.cols ?? [],
      keySource: k ? (k.primary ? 'primary-key' : 'unique-index') : 'none',
      estimatedRows: Number(r.est),
      pages: Number(r.pages),
      replicaIdentity: r.ri,
    };
  });
  const index = new Map(tables.map((t) => [key(t.name), t]));
  return {
    serverVersionNum: info.rows[0].v,
    hasHashRecordExtended: info.rows[0].hre,
    defaultCollationIsC: info.rows[0].c,
    tables,
    byName: (n) => index.get(key(n)),
  };
}

/** Reads one table's catalog entry whatever the selection (used to look up the target side of a planned task). */
export async function readTable(pool: Pool, name: TableName): Promise<{ catalog: Catalog; table?: TableInfo }> {
  const catalog = await readCatalog(pool, {
    // `%` in a name is a wildcard here; byName picks the exact table.
    include: [{ schema: name.schema, table: name.table }],
  });
  return { catalog, table: catalog.byName(name) };
}
