import type { Pool, PoolClient } from 'pg';
import { withPooledClient } from '../pg/connection';

/** What the schema readers query through. */
export type CatalogClient = Pick<PoolClient, 'query'>;

/**
 * Runs catalog reads in one read-only snapshot with `search_path` set to `pg_catalog` only, so that every name the
 * deparsing functions print (`pg_get_expr`, `pg_get_viewdef`, `pg_get_constraintdef`, `format_type`, ...) is
 * schema-qualified, the same way on both databases whatever their role or database settings.
 */
export function withCatalogSession<T>(pool: Pool, read: (client: CatalogClient) => Promise<T>): Promise<T> {
  return withPooledClient(pool, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET LOCAL search_path = pg_catalog, pg_temp`);
    const result = await read(client);
    await client.query('COMMIT');
    return result;
  });
}

/** `AND NOT <object is a member of an extension>`: extension objects are compared as their extension. */
export function notExtensionMember(catalog: 'pg_class' | 'pg_proc' | 'pg_type', oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;
}
