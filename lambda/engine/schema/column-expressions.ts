import type { TableInfo } from '../catalog';
import { qualify, quoteIdent } from '../pg/identifiers';
import type { CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { oidsOf, tablesByOid, type SideScope } from './scope';
import { columnKey } from './tables';
import type { SchemaDifference } from '../validation/types';

/** A column default (`column-default`) or the expression of a stored generated column (`generated-column`). */
export interface ColumnExpression extends SchemaObject {
  readonly objectType: 'column-default' | 'generated-column';
  readonly table: TableInfo;
  readonly column: string;
  /** `format_type` of the column (schema-qualified). */
  readonly type: string;
}

export async function readColumnExpressions(db: CatalogClient, scope: SideScope): Promise<ColumnExpression[]> {
  const tables = tablesByOid(scope);
  const r = await db.query<{ rel: number; name: string; type: string; generated: string; expr: string }>(
    `SELECT a.attrelid::int AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated::text AS generated, pg_get_expr(d.adbin, d.adrelid) AS expr
       FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [oidsOf(scope)],
  );
  return r.rows.map((c) => {
    const table = tables.get(c.rel)!;
    return {
      objectType: c.generated ? 'generated-column' : 'column-default',
      key: columnKey(table, c.name),
      name: `${table.display}.${c.name}`,
      definition: c.expr,
      table,
      column: c.name,
      type: c.type,
    };
  });
}

const alterColumn = (c: ColumnExpression): string =>
  `ALTER TABLE ${qualify(c.table.name)} ALTER COLUMN ${quoteIdent(c.column)}`;
/** A column cannot be made generated in place: drop it and add it back (the values are computed again). */
const regenerate = (s: ColumnExpression): string =>
  `ALTER TABLE ${qualify(s.table.name)} DROP COLUMN ${quoteIdent(s.column)}, ADD COLUMN ${quoteIdent(s.column)} ${s.type} GENERATED ALWAYS AS (${s.definition}) STORED`;

/**
 * Defaults and generation expressions of the columns on both sides (`shared`; a missing column is reported as such).
 * A default on the target only is a warning; a generated column on the target only is an error (DMS cannot write it).
 */
export function compareColumnExpressions(
  source: readonly ColumnExpression[],
  target: readonly ColumnExpression[],
  shared: ReadonlySet<string>,
): SchemaDifference[] {
  const of = (list: readonly ColumnExpression[], type: ColumnExpression['objectType']): ColumnExpression[] =>
    list.filter((c) => c.objectType === type && shared.has(c.key));
  return [
    ...compareObjects(of(source, 'column-default'), of(target, 'column-default'), {
      what: 'default of column',
      extraSeverity: 'warning',
      fixMissing: (s) => `${alterColumn(s)} SET DEFAULT ${s.definition}`,
      fixExtra: (t) => `${alterColumn(t)} DROP DEFAULT`,
      fixDifferent: (s) => `${alterColumn(s)} SET DEFAULT ${s.definition}`,
    }),
    ...compareObjects(of(source, 'generated-column'), of(target, 'generated-column'), {
      what: 'generated column',
      extraSeverity: 'error',
      fixMissing: regenerate,
      fixExtra: (t) => `${alterColumn(t)} DROP EXPRESSION`,
      fixDifferent: regenerate,
    }),
  ];
}
