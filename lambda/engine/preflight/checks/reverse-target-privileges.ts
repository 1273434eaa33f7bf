import { finding } from '../context';
import { listBounded } from '../../helpers';
import type { PreflightCheck } from '../types';

const WRITES = ['INSERT', 'UPDATE', 'DELETE'] as const;

/**
 * The way back writes on the source: after the switch the reverse replication applies every change made on the
 * target to the source, as the source's user (the DMS target endpoint of the reverse task reads the same secret).
 * Without INSERT, UPDATE and DELETE on a selected table, that table's changes cannot flow back: the way back would
 * break after the point of no return, when it is needed. Checked only with a reverse replication configured.
 */
export const reverseTargetPrivileges: PreflightCheck = {
  code: 'reverse-target-privileges',
  side: 'source',
  scope: 'tables',
  severity: 'error',
  description:
    "With the way back (reverse replication), the source's user may write every selected table (the reverse task applies the target's changes as it).",
  fix:
    "GRANT INSERT, UPDATE, DELETE ON <table> TO <the source secret's user> (and USAGE on its schema), or turn the way " +
    'back off (replication.reverseReplication: false).',
  async run(ctx) {
    if (!ctx.options.reverseReplication) return [];
    const catalog = await ctx.catalog();
    if (catalog.tables.length === 0) return [];
    const { rows } = await ctx.db.query<{ i: number; schema: boolean; missing: string[] }>(
      `SELECT u.i::int AS i, has_schema_privilege(n.nspname, 'USAGE') AS schema,
              array_remove(ARRAY[${WRITES.map((w) => `CASE WHEN has_table_privilege(c.oid, '${w}') THEN NULL ELSE '${w}' END`).join(', ')}], NULL) AS missing
         FROM unnest($1::oid[]) WITH ORDINALITY AS u(oid, i)
         JOIN pg_class c ON c.oid = u.oid JOIN pg_namespace n ON n.oid = c.relnamespace`,
      [catalog.tables.map((t) => t.oid)],
    );
    return rows
      .filter((r) => !r.schema || r.missing.length > 0)
      .map((r) => {
        const t = catalog.tables[r.i - 1];
        const lacks = [...(r.schema ? [] : [`USAGE on schema ${t.name.schema}`]), ...r.missing];
        return finding(
          reverseTargetPrivileges,
          t.display,
          `the source's user lacks ${listBounded(lacks)}: the reverse replication could not apply the target's ` +
            'changes to this table after the switch',
        );
      });
  },
};
