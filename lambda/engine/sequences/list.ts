import type { Pool } from 'pg';
import { formatTableName, SYSTEM_SCHEMAS, type TableName } from '../../../contract';

/** A column that draws from a sequence. */
export interface SequenceUser {
  readonly table: TableName;
  readonly column: string;
  /** Its type is an integer or numeric (the sequence's values are its values, so its max counts). */
  readonly numeric: boolean;
}

/** A sequence and every column that draws from it, owned or not. */
export interface SequenceRow {
  readonly schema: string;
  readonly name: string;
  readonly increment: bigint;
  /** The column it is `OWNED BY` (serial) or the identity column it backs. */
  readonly owner?: SequenceUser;
  /** The owner, and every column whose default calls `nextval` on it. */
  readonly users: SequenceUser[];
}

/** A column default that calls `nextval` on a sequence that cannot be found. */
export interface UnresolvedUse {
  readonly table: TableName;
  readonly column: string;
  readonly expression: string;
}

export interface SequenceCatalog {
  readonly sequences: SequenceRow[];
  readonly unresolved: UnresolvedUse[];
}

export const seqKey = (schema: string, name: string): string => JSON.stringify([schema, name]);
export const userName = (u: Pick<SequenceUser, 'table' | 'column'>): string =>
  `${formatTableName(u.table)}.${u.column}`;

const NUMERIC_TYPES = `('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)`;

/**
 * Every sequence of the database and the columns that draw from it: ownership and identity (`pg_depend` deptype `a`
 * / `i`), defaults with a `nextval('s'::regclass)` (a dependency of the default, `pg_attrdef`), and defaults with
 * the old `nextval('s'::text)` form (no dependency: the name is resolved).
 */
export async function listSequences(pool: Pool): Promise<SequenceCatalog> {
  const system = [...SYSTEM_SCHEMAS];
  const [seqs, users] = await Promise.all([
    pool.query<{ oid: number; schema: string; name: string; increment: string }>(
      `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
        WHERE n.nspname <> ALL($1::text[])`,
      [system],
    ),
    pool.query<{
      seq: number | null;
      owner: boolean;
      schema: string;
      table: string;
      column: string;
      numeric: boolean;
      expr: string | null;
    }>(
      `WITH uses AS (
         SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid AS att, true AS owner, NULL::text AS expr
           FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
          WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
            AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
         UNION ALL
         SELECT u.seq, ad.adrelid, ad.adnum, false, e.expr
           FROM pg_attrdef ad CROSS JOIN LATERAL (SELECT pg_get_expr(ad.adbin, ad.adrelid) AS expr) e
           LEFT JOIN LATERAL (
             SELECT d.refobjid AS seq FROM pg_depend d JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
              WHERE d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
             UNION
             SELECT to_regclass(replace(m[1], '''''', ''''))::oid
               FROM regexp_matches(e.expr, 'nextval\\(\\(''((?:[^'']|'''')+)''::text\\)', 'g') m
           ) u ON true
          WHERE e.expr LIKE '%nextval(%')
       SELECT u.seq::int AS seq, u.owner, n.nspname AS schema, r.relname AS table, a.attname AS column,
              a.atttypid IN ${NUMERIC_TYPES} AS numeric, u.expr
         FROM uses u JOIN pg_class r ON r.oid = u.rel JOIN pg_namespace n ON n.oid = r.relnamespace
         JOIN pg_attribute a ON a.attrelid = u.rel AND a.attnum = u.att
        WHERE n.nspname <> ALL($1::text[]) AND NOT a.attisdropped`,
      [system],
    ),
  ]);
  const byOid = new Map<number, { owner?: SequenceUser; users: Map<string, SequenceUser> }>();
  const unresolved: UnresolvedUse[] = [];
  for (const u of users.rows) {
    const user: SequenceUser = { table: { schema: u.schema, table: u.table }, column: u.column, numeric: u.numeric };
    if (u.seq === null) {
      unresolved.push({ table: user.table, column: user.column, expression: u.expr ?? '' });
      continue;
    }
    const entry = byOid.get(u.seq) ?? { users: new Map<string, SequenceUser>() };
    if (u.owner) entry.owner = user;
    entry.users.set(userName(user), user);
    byOid.set(u.seq, entry);
  }
  return {
    sequences: seqs.rows.map((s) => {
      const entry = byOid.get(s.oid);
      const users = [...(entry?.users.values() ?? [])].sort((a, b) => (userName(a) < userName(b) ? -1 : 1));
      return {
        schema: s.schema,
        name: s.name,
        increment: BigInt(s.increment),
        ...(entry?.owner ? { owner: entry.owner } : {}),
        users,
      };
    }),
    unresolved,
  };
}
