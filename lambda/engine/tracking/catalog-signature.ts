/**
 * A cheap signature of everything the tracking reads take from the catalog of one database: the tables a publication
 * covers (relations by oid, each with its table) and, for each of those tables, what `readCatalog` reads of it
 * (columns, types, collations, unique indexes, kind, name, server settings) — but not its statistics. One query,
 * computed by the server, so catalog data read once can be reused across rounds while the signature is unchanged.
 *
 * Safe reuse rests on two rules:
 * - the signature includes the `xmin` of every catalog row it covers, so any change to one of them (ALTER TABLE,
 *   CREATE INDEX, a rename, a partition attached, a publication changed) changes it for good, even a change that is
 *   later undone (`xmin` never goes back); VACUUM and ANALYZE update statistics in place and leave it as it is;
 * - a signature is read *before* the catalog data stored under it: data read after the signature can only be newer,
 *   and if it is, the next signature differs from the stored one and the data is read again.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { quoteLiteral } from '../pg/identifiers';

/** A relation's `pg_class` row (and its schema's), by value and version: `(...)` of relation oid `rel`. */
const relation = (
  rel: string,
): string => `(SELECT concat_ws(':', c.oid, c.xmin, n.nspname, n.xmin, c.relname, c.relkind,
      c.relispartition) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ${rel})`;

/**
 * Every field `readCatalog` reads of a table's columns, by value, and the row versions behind them (attribute,
 * type, element type, collation). Correlated subqueries, so that each is an index lookup however large the catalog.
 */
const columns = (rel: string): string => `(SELECT string_agg(concat_ws(':', a.attnum, a.attname, a.xmin, a.atttypid,
      a.atttypmod, format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL),
      (SELECT concat_ws(':', t.xmin, t.typname, t.typtype, t.typcategory, t.typcollation, t.typnamespace, t.typelem)
         FROM pg_type t WHERE t.oid = a.atttypid),
      (SELECT concat_ws(':', e.xmin, e.typname, e.typtype) FROM pg_type t JOIN pg_type e ON e.oid = t.typelem
        WHERE t.oid = a.atttypid AND t.typcategory = 'A'),
      a.attnotnull, a.attcollation, (SELECT concat_ws(':', co.xmin, co.collname) FROM pg_collation co
        WHERE co.oid = a.attcollation),
      a.attidentity, a.attgenerated), ',' ORDER BY a.attnum)
    FROM pg_attribute a WHERE a.attrelid = ${rel} AND a.attnum > 0 AND NOT a.attisdropped)`;

/** Every index of a table (its key columns and validity decide the validation key), by value and version. */
const indexes = (rel: string): string => `(SELECT string_agg(concat_ws(':', i.indexrelid, i.xmin, i.indisprimary,
      i.indisunique, i.indisvalid, i.indisready, i.indislive, i.indnatts, i.indkey::text, i.indpred IS NULL,
      i.indexprs IS NULL), ',' ORDER BY i.indexrelid)
    FROM pg_index i WHERE i.indrelid = ${rel})`;

/**
 * The signature as a scalar SQL expression of the publication named by `name` (an SQL text expression: a parameter
 * such as `$1`, or a quoted literal): the server settings validation depends on, the publication's rows in
 * `pg_publication` and `pg_publication_rel`, every relation it publishes (as `pg_publication_tables` lists them) with
 * its root table (a partition's partitioned table), and each root table's `pg_class` row, columns and indexes.
 */
export function publicationSignatureSql(name: string): string {
  return `(WITH pub AS MATERIALIZED (
      SELECT g.relid AS rel, coalesce(pg_partition_root(g.relid), g.relid) AS root
        FROM pg_get_publication_tables((${name})::text) g),
    roots AS MATERIALIZED (SELECT DISTINCT root AS rel FROM pub)
    SELECT md5(concat_ws(E'\n',
      current_setting('server_version_num'),
      to_regprocedure('hash_record_extended(record,bigint)') IS NOT NULL,
      (SELECT concat_ws(':', d.oid, d.xmin, d.datcollate) FROM pg_database d WHERE d.datname = current_database()),
      (SELECT concat_ws(':', pb.xmin, to_jsonb(pb)) FROM pg_publication pb WHERE pb.pubname = ${name}),
      (SELECT string_agg(concat_ws(':', pr.oid, pr.xmin, pr.prrelid), ',' ORDER BY pr.oid)
         FROM pg_publication_rel pr JOIN pg_publication pb ON pb.oid = pr.prpubid WHERE pb.pubname = ${name}),
      (SELECT string_agg(concat_ws(':', p.rel, p.root, ${relation('p.rel')}), ',' ORDER BY p.rel) FROM pub p),
      (SELECT string_agg(concat_ws('|', r.rel, ${relation('r.rel')}, ${columns('r.rel')}, ${indexes('r.rel')}),
                         E'\n' ORDER BY r.rel)
         FROM roots r)
    )))`;
}

/**
 * The catalog signature of a publication's tables (see `publicationSignatureSql`). A named statement without
 * parameters (the name is a literal in it): each connection plans it once and reuses that plan, and planning it costs
 * more than running it.
 */
export async function catalogSignature(pool: Pick<Pool, 'query'>, publication: string): Promise<string> {
  const name = `zdm_catalog_signature_${createHash('sha256').update(publication).digest('hex').slice(0, 24)}`;
  const { rows } = await pool.query<{ s: string }>({
    name,
    text: `SELECT ${publicationSignatureSql(quoteLiteral(publication))} AS s`,
  });
  return rows[0].s;
}

/**
 * Values computed from one database's catalog, kept per pool under the signature read before them. `get` returns a
 * value only for the very signature it was stored under.
 */
export class SignedCache<T> {
  private readonly entries = new WeakMap<object, Map<string, { readonly signature: string; readonly value: T }>>();

  get(owner: object, key: string, signature: string): T | undefined {
    const entry = this.entries.get(owner)?.get(key);
    return entry && entry.signature === signature ? entry.value : undefined;
  }

  set(owner: object, key: string, signature: string, value: T): void {
    let map = this.entries.get(owner);
    if (!map) {
      map = new Map();
      this.entries.set(owner, map);
    }
    map.set(key, { signature, value });
  }
}
