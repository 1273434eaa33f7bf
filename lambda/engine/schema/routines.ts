import { quoteLiteral } from '../pg/identifiers';
import { notExtensionMember, type CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import type { SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

export interface Routine extends SchemaObject {
  readonly objectType: 'function' | 'procedure' | 'aggregate';
  /** `oid::regprocedure` text: `schema.name(argument types)`, quoted where needed (usable in SQL as is). */
  readonly signature: string;
}

const TYPES: Record<string, Routine['objectType']> = { f: 'function', w: 'function', p: 'procedure', a: 'aggregate' };

/**
 * Functions, procedures and aggregates of the compared schemas (not those of extensions), by signature. Compared by
 * an md5 of `pg_get_functiondef` (language, volatility, security, settings and body; for aggregates: their
 * transition and final functions, state type and initial value), so large bodies never travel.
 */
export async function readRoutines(db: CatalogClient, scope: SideScope): Promise<Routine[]> {
  const r = await db.query<{ signature: string; kind: string; hash: string }>(
    `SELECT p.oid::regprocedure::text AS signature, p.prokind::text AS kind,
            CASE WHEN p.prokind = 'a' THEN
              md5(concat_ws('|', a.aggkind, a.aggtransfn::regprocedure::text, a.aggfinalfn::text,
                            format_type(a.aggtranstype, NULL), a.agginitval, pg_get_function_result(p.oid)))
            ELSE md5(pg_get_functiondef(p.oid)) END AS hash
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
      WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_proc', 'p.oid')}`,
    [scope.schemas],
  );
  return r.rows.map((f) => ({
    objectType: TYPES[f.kind] ?? 'function',
    key: f.signature,
    name: f.signature,
    definition: `md5 ${f.hash}`,
    signature: f.signature,
  }));
}

const copyFromSource = (s: Routine): string =>
  s.objectType === 'aggregate'
    ? `recreate the aggregate ${s.signature} on the target as the source defines it (pg_dump --schema-only of the source shows its CREATE AGGREGATE)`
    : `on the source run SELECT pg_get_functiondef(${quoteLiteral(s.signature)}::regprocedure), then run its output on the target`;

/** Both directions; a routine on the target only is a warning. */
export function compareRoutines(source: readonly Routine[], target: readonly Routine[]): SchemaDifference[] {
  return (['function', 'procedure', 'aggregate'] as const).flatMap((type) =>
    compareObjects(
      source.filter((r) => r.objectType === type),
      target.filter((r) => r.objectType === type),
      { what: type, extraSeverity: 'warning', fixMissing: copyFromSource, fixDifferent: copyFromSource },
    ),
  );
}
