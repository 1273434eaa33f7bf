import { formatTableName, type TableName } from '../../../contract';
import { qualify, quoteIdent } from '../pg/identifiers';
import { notExtensionMember, type CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { normalizeConstraintDef } from './constraints';
import type { SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

export interface Domain extends SchemaObject {
  readonly objectType: 'domain';
  readonly domain: TableName;
  readonly base: string;
  readonly collation: string | null;
  readonly defaultExpr: string | null;
  readonly notNull: boolean;
}

export interface DomainConstraint extends SchemaObject {
  readonly objectType: 'domain-constraint';
  readonly domain: TableName;
  /** Key of the domain. */
  readonly domainKey: string;
  readonly constraintName: string;
}

export interface Domains {
  readonly domains: Domain[];
  readonly constraints: DomainConstraint[];
}

const describe = (d: Pick<Domain, 'base' | 'collation' | 'defaultExpr' | 'notNull'>): string =>
  [
    d.base,
    d.collation ? `COLLATE ${quoteIdent(d.collation)}` : '',
    d.defaultExpr !== null ? `DEFAULT ${d.defaultExpr}` : '',
    d.notNull ? 'NOT NULL' : '',
  ]
    .filter(Boolean)
    .join(' ');

/** Domains of the compared schemas (base type, collation, default, NOT NULL) and their CHECK constraints. */
export async function readDomains(db: CatalogClient, scope: SideScope): Promise<Domains> {
  const r = await db.query<{
    s: string;
    n: string;
    base: string;
    collation: string | null;
    def: string | null;
    notnull: boolean;
    cons: { name: string; def: string }[];
  }>(
    `SELECT n.nspname AS s, t.typname AS n, format_type(t.typbasetype, t.typtypmod) AS base,
            (SELECT collname FROM pg_collation WHERE oid = t.typcollation AND t.typcollation <> b.typcollation) AS collation,
            pg_get_expr(t.typdefaultbin, 0) AS def, t.typnotnull AS notnull,
            coalesce((SELECT json_agg(json_build_object('name', c.conname, 'def', pg_get_constraintdef(c.oid)))
                        FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'), '[]') AS cons
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type b ON b.oid = t.typbasetype
      WHERE t.typtype = 'd' AND n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_type', 't.oid')}`,
    [scope.schemas],
  );
  const domains: Domain[] = [];
  const constraints: DomainConstraint[] = [];
  for (const d of r.rows) {
    const domain = { schema: d.s, table: d.n };
    const name = formatTableName(domain);
    const key = JSON.stringify([d.s, d.n]);
    const shape = { base: d.base, collation: d.collation, defaultExpr: d.def, notNull: d.notnull };
    domains.push({ objectType: 'domain', key, name, definition: describe(shape), domain, ...shape });
    for (const c of d.cons) {
      const definition = normalizeConstraintDef(c.def);
      constraints.push({
        objectType: 'domain-constraint',
        key: JSON.stringify([d.s, d.n, definition]),
        name: `${name}: ${c.name}`,
        definition,
        domain,
        domainKey: key,
        constraintName: c.name,
      });
    }
  }
  return { domains, constraints };
}

function createDomain(d: Domain, constraints: readonly DomainConstraint[]): string {
  const checks = constraints
    .filter((c) => c.domainKey === d.key)
    .map((c) => ` CONSTRAINT ${quoteIdent(c.constraintName)} ${c.definition}`)
    .join('');
  return `CREATE DOMAIN ${qualify(d.domain)} AS ${describe(d)}${checks}`;
}

function alterDomain(s: Domain, t: Domain): string | undefined {
  if (s.base !== t.base || s.collation !== t.collation) return undefined;
  const alter = `ALTER DOMAIN ${qualify(s.domain)}`;
  const steps: string[] = [];
  if (s.defaultExpr !== t.defaultExpr)
    steps.push(s.defaultExpr === null ? `${alter} DROP DEFAULT` : `${alter} SET DEFAULT ${s.defaultExpr}`);
  if (s.notNull !== t.notNull) steps.push(`${alter} ${s.notNull ? 'SET' : 'DROP'} NOT NULL`);
  return steps.join('; ') || undefined;
}

/**
 * Domains both ways (a target-only domain is a warning), and the CHECK constraints of the domains on both sides by
 * definition (a target-only one is an error: it rejects values the source accepts).
 */
export function compareDomains(source: Domains, target: Domains): SchemaDifference[] {
  const both = new Set(source.domains.map((d) => d.key).filter((k) => target.domains.some((d) => d.key === k)));
  const onBoth = (list: readonly DomainConstraint[]): DomainConstraint[] => list.filter((c) => both.has(c.domainKey));
  const alter = (c: DomainConstraint): string => `ALTER DOMAIN ${qualify(c.domain)}`;
  return [
    ...compareObjects(source.domains, target.domains, {
      what: 'domain',
      extraSeverity: 'warning',
      fixMissing: (s) => createDomain(s, source.constraints),
      fixDifferent: alterDomain,
    }),
    ...compareObjects(onBoth(source.constraints), onBoth(target.constraints), {
      what: 'domain constraint',
      extraSeverity: 'error',
      fixMissing: (s) => `${alter(s)} ADD CONSTRAINT ${quoteIdent(s.constraintName)} ${s.definition}`,
      fixExtra: (t) => `${alter(t)} DROP CONSTRAINT ${quoteIdent(t.constraintName)}`,
    }),
  ];
}
