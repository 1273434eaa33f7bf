/**
 * What a publication over a list of tables is made of, on the server it is created on. PostgreSQL 13+: the tables
 * themselves and `publish_via_partition_root` as asked. PostgreSQL 12 has neither the option nor partitioned tables in
 * a publication (it always publishes partitions as themselves): a partitioned table is published as its leaf
 * partitions, as they are when the publication is made (a partition attached later is not in it).
 */
import type { ClientBase, Pool } from 'pg';
import type { TableName } from '../../../contract';
import { qualify } from './identifiers';

type Queryable = Pick<Pool | ClientBase, 'query'>;

/** The first major whose publications take partitioned tables and `publish_via_partition_root`. */
export const PARTITIONED_PUBLICATION_MAJOR = 13;

export interface PublicationMembers {
  /** `"s"."t", ...` for `FOR TABLE` / `SET TABLE` (empty when there are none). */
  readonly list: string;
  /** ` WITH (...)`, or empty where the server has no such option. */
  readonly withClause: string;
}

export async function publicationMembers(
  db: Queryable,
  tables: readonly TableName[],
  options: { readonly viaPartitionRoot: boolean },
): Promise<PublicationMembers> {
  const { rows } = await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  if (rows[0].v >= PARTITIONED_PUBLICATION_MAJOR * 10_000) {
    return {
      list: tables.map(qualify).join(', '),
      withClause: ` WITH (publish_via_partition_root = ${options.viaPartitionRoot})`,
    };
  }
  if (tables.length === 0) return { list: '', withClause: '' };
  // pg_partition_tree returns no rows for a table that is neither partitioned nor a partition (PostgreSQL 12).
  const leaves = await db.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM unnest($1::text[]) WITH ORDINALITY AS s(name, i)
       LEFT JOIN LATERAL pg_partition_tree(s.name::regclass) pt ON true
       JOIN pg_class c ON c.oid = coalesce(pt.relid, s.name::regclass) JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE coalesce(pt.isleaf, true)
      ORDER BY s.i, pt.level, c.relname`,
    [tables.map(qualify)],
  );
  return { list: leaves.rows.map(qualify).join(', '), withClause: '' };
}
