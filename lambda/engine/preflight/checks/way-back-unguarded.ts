import { finding } from '../context';
import { listBounded } from '../../helpers';
import type { PreflightCheck } from '../types';

/**
 * The way back's guard (cutover/way-back-guard.ts) is a trigger the source's user puts on each selected table after
 * the switch: it needs the TRIGGER privilege there (an owner or a superuser has it). Without it the way back still
 * opens, but a write made on the old source outside it is found only by a fallback's proof, not at once. A warning,
 * checked before anything is frozen, only with a reverse replication configured.
 */
export const wayBackUnguarded: PreflightCheck = {
  code: 'way-back-unguarded',
  side: 'source',
  scope: 'tables',
  severity: 'warning',
  description:
    "With the way back, the source's user may create triggers on every selected table (the guard that reports writes made on the old source outside the reverse replication).",
  fix: "GRANT TRIGGER ON <table> TO <the source secret's user>, or accept that such writes are found only by a fallback's proof.",
  async run(ctx) {
    if (!ctx.options.reverseReplication) return [];
    const catalog = await ctx.catalog();
    if (catalog.tables.length === 0) return [];
    const { rows } = await ctx.db.query<{ i: number }>(
      `SELECT u.i::int AS i FROM unnest($1::oid[]) WITH ORDINALITY AS u(oid, i)
        WHERE NOT has_table_privilege(u.oid, 'TRIGGER')`,
      [catalog.tables.map((t) => t.oid)],
    );
    if (rows.length === 0) return [];
    const tables = rows.map((r) => catalog.tables[r.i - 1].display);
    return [
      finding(
        wayBackUnguarded,
        tables.length === 1 ? tables[0] : `${tables.length} tables`,
        `the source's user lacks TRIGGER on ${listBounded(tables)}: after the switch, a write made there outside the ` +
          "way back is not reported at once (only a fallback's proof finds it)",
      ),
    ];
  },
};
