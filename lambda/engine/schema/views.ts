import { formatTableName, type TableName } from '../../../contract';
import { qualify } from '../pg/identifiers';
import { notExtensionMember, type CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { difference, normalizeSpace } from './difference';
import type { SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

export interface View extends SchemaObject {
  readonly objectType: 'view' | 'materialized-view';
  readonly relation: TableName;
  /** `pg_get_viewdef`, without the trailing semicolon. */
  readonly query: string;
  /** `security_invoker=true`, `check_option=local`, ... */
  readonly options: string[];
  /** Materialized views: whether it holds data (`relispopulated`); a query on an unpopulated one fails. */
  readonly populated: boolean;
}

/** Views and materialized views of the compared schemas, by name: definition and options. */
export async function readViews(db: CatalogClient, scope: SideScope): Promise<View[]> {
  const r = await db.query<{
    s: string;
    n: string;
    kind: string;
    def: string;
    options: string[] | null;
    populated: boolean;
  }>(
    `SELECT n.nspname AS s, c.relname AS n, c.relkind::text AS kind, pg_get_viewdef(c.oid) AS def,
            c.reloptions::text[] AS options, c.relispopulated AS populated
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_class', 'c.oid')}`,
    [scope.schemas],
  );
  return r.rows.map((v) => {
    const relation = { schema: v.s, table: v.n };
    const query = normalizeSpace(v.def).replace(/;$/, '');
    // A view's options change what it does (security_invoker, check_option); a materialized view's are storage.
    const options = v.kind === 'v' ? [...(v.options ?? [])].sort() : [];
    return {
      objectType: v.kind === 'm' ? 'materialized-view' : 'view',
      key: JSON.stringify([v.kind, v.s, v.n]),
      name: formatTableName(relation),
      definition: options.length ? `WITH (${options.join(', ')}) AS ${query}` : query,
      relation,
      query,
      options,
      populated: v.populated,
    };
  });
}

function create(v: View, orReplace: boolean): string {
  const options = v.options.length ? ` WITH (${v.options.join(', ')})` : '';
  return v.objectType === 'view'
    ? `CREATE ${orReplace ? 'OR REPLACE ' : ''}VIEW ${qualify(v.relation)}${options} AS ${v.query}`
    : `CREATE MATERIALIZED VIEW ${qualify(v.relation)}${options} AS ${v.query}`;
}

/**
 * Both directions (a view on the target only is a warning), and whether the target's materialized view is
 * populated when the source's is (a query on it fails until it is refreshed).
 */
export function compareViews(source: readonly View[], target: readonly View[]): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  for (const type of ['view', 'materialized-view'] as const) {
    out.push(
      ...compareObjects(
        source.filter((v) => v.objectType === type),
        target.filter((v) => v.objectType === type),
        {
          what: type === 'view' ? 'view' : 'materialized view',
          extraSeverity: 'warning',
          fixMissing: (s) => create(s, false),
          fixDifferent: (s) =>
            type === 'view' ? create(s, true) : `DROP MATERIALIZED VIEW ${qualify(s.relation)}; ${create(s, false)}`,
        },
      ),
    );
  }
  const targetByKey = new Map(target.map((v) => [v.key, v]));
  for (const s of source) {
    const t = targetByKey.get(s.key);
    if (s.objectType !== 'materialized-view' || !t || !s.populated || t.populated) continue;
    out.push(
      difference({
        objectType: 'materialized-view',
        object: s.name,
        kind: 'different',
        code: 'materialized-view-unpopulated',
        severity: 'error',
        source: 'populated',
        target: 'not populated',
        message: `materialized view ${s.name} holds no data on the target (created WITH NO DATA?): querying it fails`,
        fix: `REFRESH MATERIALIZED VIEW ${qualify(s.relation)}`,
      }),
    );
  }
  return out;
}
