import { quoteIdent, quoteLiteral } from '../pg/identifiers';
import type { CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { difference } from './difference';
import type { SchemaDifference } from '../validation/types';

export interface Extension extends SchemaObject {
  readonly objectType: 'extension';
  readonly version: string;
  readonly schema: string;
}

/** Every extension of the database (their objects are compared as the extension, not one by one). */
export async function readExtensions(db: CatalogClient): Promise<Extension[]> {
  const r = await db.query<{ name: string; version: string; schema: string }>(
    `SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
       FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`,
  );
  return r.rows.map((e) => ({
    objectType: 'extension',
    key: e.name,
    name: e.name,
    definition: '',
    version: e.version,
    schema: e.schema,
  }));
}

/** Missing: an error; on the target only: a warning; another version: a warning. */
export function compareExtensions(source: readonly Extension[], target: readonly Extension[]): SchemaDifference[] {
  const out = compareObjects(source, target, {
    what: 'extension',
    extraSeverity: 'warning',
    fixMissing: (s) => `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(s.name)} WITH SCHEMA ${quoteIdent(s.schema)}`,
  });
  const targetByName = new Map(target.map((t) => [t.name, t]));
  for (const s of source) {
    const t = targetByName.get(s.name);
    if (!t || t.version === s.version) continue;
    out.push(
      difference({
        objectType: 'extension',
        object: s.name,
        kind: 'different',
        code: 'extension-version',
        severity: 'warning',
        source: s.version,
        target: t.version,
        message: `extension ${s.name} is version ${s.version} on the source but ${t.version} on the target (update it if the target offers that version)`,
        fix: `ALTER EXTENSION ${quoteIdent(s.name)} UPDATE TO ${quoteLiteral(s.version)}`,
      }),
    );
  }
  return out;
}
