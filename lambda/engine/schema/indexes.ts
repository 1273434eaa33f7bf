import type { TableInfo } from '../catalog';
import { quoteIdent } from '../pg/identifiers';
import type { CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { oidsOf, tablesByOid, type SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

export interface TableIndex extends SchemaObject {
  readonly objectType: 'index';
  readonly table: TableInfo;
  readonly indexName: string;
  /** `pg_get_indexdef`, name included. */
  readonly statement: string;
  readonly unique: boolean;
  readonly valid: boolean;
}

/** `CREATE [UNIQUE] INDEX name ON ...` without the index name. */
function withoutName(def: string): string {
  return def.replace(/^(CREATE (?:UNIQUE )?INDEX )(?:"(?:[^"]|"")*"|\S+) ON /, '$1ON ');
}

/**
 * Indexes that back no primary key, unique or exclusion constraint (those are compared as constraints), matched by
 * table and definition without the name; an invalid index (a failed CREATE INDEX CONCURRENTLY) differs from a valid one.
 */
export async function readIndexes(db: CatalogClient, scope: SideScope): Promise<TableIndex[]> {
  const tables = tablesByOid(scope);
  const r = await db.query<{ rel: number; name: string; def: string; valid: boolean; unique: boolean }>(
    `SELECT i.indrelid::int AS rel, c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid,
            i.indisunique AS unique
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = ANY($1::oid[])
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))`,
    [oidsOf(scope)],
  );
  return r.rows.map((i) => {
    const table = tables.get(i.rel)!;
    const shape = withoutName(i.def);
    return {
      objectType: 'index',
      key: JSON.stringify([table.display, shape]),
      name: `${table.display}: ${i.name}`,
      definition: i.valid ? shape : `${shape} (INVALID)`,
      table,
      indexName: i.name,
      statement: i.def,
      unique: i.unique,
      valid: i.valid,
    };
  });
}

const indexName = (i: TableIndex): string => `${quoteIdent(i.table.name.schema)}.${quoteIdent(i.indexName)}`;

/** A target-only index is a warning, a target-only unique index an error (it can reject rows the source accepts). */
export function compareIndexes(source: readonly TableIndex[], target: readonly TableIndex[]): SchemaDifference[] {
  return compareObjects(source, target, {
    what: 'index',
    extraSeverity: (t) => (t.unique ? 'error' : 'warning'),
    fixMissing: (s) => s.statement,
    fixExtra: (t) => `DROP INDEX ${indexName(t)}`,
    fixDifferent: (_s, t) => (t.valid ? undefined : `REINDEX INDEX ${indexName(t)}`),
  });
}
