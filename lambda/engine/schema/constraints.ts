import type { TableInfo } from '../catalog';
import { qualify, quoteIdent } from '../pg/identifiers';
import type { CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { normalizeSpace } from './difference';
import { oidsOf, tablesByOid, type SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

/** A table constraint: primary key, unique, foreign key, CHECK or exclusion. */
export interface TableConstraint extends SchemaObject {
  readonly objectType: 'primary-key' | 'unique' | 'foreign-key' | 'check' | 'exclusion';
  readonly table: TableInfo;
  readonly constraintName: string;
}

const TYPES = { p: 'primary-key', u: 'unique', f: 'foreign-key', c: 'check', x: 'exclusion' } as const;

/** `pg_get_constraintdef` without ` NOT VALID` (a constraint added NOT VALID on the target still holds for new rows). */
export function normalizeConstraintDef(def: string): string {
  return normalizeSpace(def.replace(/\s+NOT VALID$/, ''));
}

/**
 * Constraints are matched by table and definition, not by name (names often differ after a migration);
 * the primary key by table.
 */
export async function readConstraints(db: CatalogClient, scope: SideScope): Promise<TableConstraint[]> {
  const tables = tablesByOid(scope);
  const r = await db.query<{ rel: number; type: keyof typeof TYPES; name: string; def: string }>(
    `SELECT conrelid::int AS rel, contype::text AS type, conname AS name, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE conrelid = ANY($1::oid[]) AND contype IN ('p', 'u', 'f', 'c', 'x')
        AND conislocal AND conparentid = 0`,
    [oidsOf(scope)],
  );
  return r.rows.map((c) => {
    const table = tables.get(c.rel)!;
    const objectType = TYPES[c.type];
    const definition = normalizeConstraintDef(c.def);
    return {
      objectType,
      key: JSON.stringify([objectType, table.display, objectType === 'primary-key' ? '' : definition]),
      name: objectType === 'primary-key' ? table.display : `${table.display}: ${c.name}`,
      definition,
      table,
      constraintName: c.name,
    };
  });
}

const addConstraint = (c: TableConstraint): string =>
  `ALTER TABLE ${qualify(c.table.name)} ADD CONSTRAINT ${quoteIdent(c.constraintName)} ${c.definition}`;
const dropConstraint = (c: TableConstraint): string =>
  `ALTER TABLE ${qualify(c.table.name)} DROP CONSTRAINT ${quoteIdent(c.constraintName)}`;

const WHAT: Record<TableConstraint['objectType'], string> = {
  'primary-key': 'primary key of',
  unique: 'unique constraint',
  'foreign-key': 'foreign key',
  check: 'CHECK constraint',
  exclusion: 'exclusion constraint',
};

/**
 * Both directions. A constraint on the target only is an error (it can reject rows the source accepts), except a
 * primary key, which only restricts what the source already guarantees per row (a warning).
 */
export function compareConstraints(
  source: readonly TableConstraint[],
  target: readonly TableConstraint[],
): SchemaDifference[] {
  return (Object.keys(WHAT) as TableConstraint['objectType'][]).flatMap((type) =>
    compareObjects(
      source.filter((c) => c.objectType === type),
      target.filter((c) => c.objectType === type),
      {
        what: WHAT[type],
        extraSeverity: type === 'primary-key' ? 'warning' : 'error',
        fixMissing: addConstraint,
        fixExtra: dropConstraint,
        fixDifferent: (s, t) => `${dropConstraint(t)}; ${addConstraint(s)}`,
      },
    ),
  );
}
