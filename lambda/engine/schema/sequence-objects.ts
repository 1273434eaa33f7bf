import { DMS_ARTIFACT_TABLES, formatTableName, type TableName } from '../../../contract';
import { qualify } from '../pg/identifiers';
import { notExtensionMember, type CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import type { SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

export interface SequenceObject extends SchemaObject {
  readonly objectType: 'sequence';
  readonly sequence: TableName;
}

/**
 * Sequences of the compared schemas, without those behind identity columns (compared as their column) and those
 * owned by DMS's own tables (`awsdms_heartbeat`'s serial: DMS creates it on its side only): type,
 * increment, bounds and cycling. Values are compared by `compareSequences`, not here.
 */
export async function readSequenceObjects(db: CatalogClient, scope: SideScope): Promise<SequenceObject[]> {
  const r = await db.query<{ s: string; n: string; def: string }>(
    `SELECT n.nspname AS s, c.relname AS n,
            format('AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s %s', format_type(q.seqtypid, NULL), q.seqincrement,
                   q.seqmin, q.seqmax, CASE WHEN q.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END) AS def
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence q ON q.seqrelid = c.oid
      WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_class', 'c.oid')}
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                           AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
                           AND t.relname = ANY($2::text[]))`,
    [scope.schemas, DMS_ARTIFACT_TABLES],
  );
  return r.rows.map((q) => {
    const sequence = { schema: q.s, table: q.n };
    return {
      objectType: 'sequence',
      key: JSON.stringify([q.s, q.n]),
      name: formatTableName(sequence),
      definition: q.def,
      sequence,
    };
  });
}

/** Both directions (a target-only sequence is a warning). */
export function compareSequenceObjects(
  source: readonly SequenceObject[],
  target: readonly SequenceObject[],
): SchemaDifference[] {
  return compareObjects(source, target, {
    what: 'sequence',
    extraSeverity: 'warning',
    fixMissing: (s) => `CREATE SEQUENCE ${qualify(s.sequence)} ${s.definition}`,
    fixDifferent: (s) => `ALTER SEQUENCE ${qualify(s.sequence)} ${s.definition}`,
  });
}
