/**
 * `zdm validate --patch-file <path>`: SQL that would make the listed differing rows of the target equal to the
 * source — INSERT the missing rows, DELETE the extra ones, UPDATE the differing columns of the changed ones — read
 * from the source by key when the file is written. It holds row values (personal data, maybe): it is written only
 * when asked, readable by its owner only, and never printed.
 */
import { writeFileSync } from 'node:fs';
import type { Pool } from 'pg';
import { formatTableName } from '../contract';
import { qualify, quoteIdent, quoteLiteral, type TableValidation, type ValidationReport } from '../lambda/engine';
import type { DetailedDifference } from './row-columns';

export interface PatchSummary {
  readonly file: string;
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  /** Rows not in the patch: beyond the listed cap, or gone from the source since. */
  readonly skipped: number;
  /** Some differences were not listed (--max-differences): the patch does not cover them. */
  readonly partial: boolean;
}

/** Columns the target lets an INSERT or UPDATE set (not generated ones). */
async function writableColumns(target: Pool, t: TableValidation): Promise<Set<string>> {
  const { rows } = await target.query<{ attname: string }>(
    `SELECT a.attname FROM pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''`,
    [qualify(t.name)],
  );
  return new Set(rows.map((r) => r.attname));
}

async function sourceRow(source: Pool, t: TableValidation, key: Record<string, unknown>): Promise<object | undefined> {
  const columns = Object.keys(key);
  const where = columns.map((c, i) => `${quoteIdent(c)} = $${i + 1}`).join(' AND ');
  const { rows } = await source.query<{ r: object }>(
    `SELECT to_jsonb(t) AS r FROM ${qualify(t.name)} t WHERE ${where}`,
    columns.map((c) => String(key[c])),
  );
  return rows[0]?.r;
}

/** `(k1, k2) = (SELECT k1, k2 FROM jsonb_populate_record(NULL::t, '<key json>'))`: typed as the target's columns. */
function keyPredicate(table: string, key: Record<string, unknown>): string {
  const cols = Object.keys(key).map(quoteIdent).join(', ');
  return `(${cols}) = (SELECT ${cols} FROM jsonb_populate_record(NULL::${table}, ${quoteLiteral(JSON.stringify(key))}))`;
}

/** Writes the patch for the listed differences of `report` to `file` (mode 0600); returns what it holds. */
export async function writePatch(
  source: Pool,
  target: Pool,
  report: ValidationReport,
  file: string,
  excludedColumns: ReadonlySet<string>,
): Promise<PatchSummary> {
  const lines: string[] = [
    `-- zdm validate --patch-file, ${new Date().toISOString()}: makes the listed differing rows of the target equal`,
    `-- to the source as read now. Review it first. While replication runs, rows may still be in flight: apply it only`,
    `-- to rows replication will not change again (or with replication stopped). Run it on the TARGET.`,
    `BEGIN;`,
  ];
  let inserts = 0;
  let updates = 0;
  let deletes = 0;
  let skipped = 0;
  let partial = false;
  for (const t of report.tables) {
    if (t.differences.length < t.differenceCount || t.differenceCountIsLowerBound) partial = true;
    if (!t.differences.length) continue;
    const table = qualify(t.name);
    const writable = await writableColumns(target, t);
    lines.push('', `-- ${formatTableName(t.name)}`);
    for (const d of t.differences as DetailedDifference[]) {
      if (d.recheck === 'converged') continue;
      if (d.kind === 'extra') {
        lines.push(`DELETE FROM ${table} WHERE ${keyPredicate(table, d.key)};`);
        deletes++;
        continue;
      }
      const row = await sourceRow(source, t, d.key);
      if (!row) {
        lines.push(`-- ${JSON.stringify(d.key)}: no longer on the source, left out`);
        skipped++;
        continue;
      }
      const json = quoteLiteral(JSON.stringify(row));
      if (d.kind === 'missing') {
        const cols = Object.keys(row)
          .filter((c) => writable.has(c))
          .map(quoteIdent)
          .join(', ');
        lines.push(
          `INSERT INTO ${table} (${cols}) OVERRIDING SYSTEM VALUE SELECT ${cols} FROM jsonb_populate_record(NULL::${table}, ${json});`,
        );
        inserts++;
        continue;
      }
      // changed: the differing columns when they were read, else every non-key column.
      const names = (d.columns?.map((c) => c.column) ?? Object.keys(row).filter((c) => !(c in d.key))).filter(
        (c) => writable.has(c) && !excludedColumns.has(`${formatTableName(t.name)}.${c}`),
      );
      if (!names.length) {
        skipped++;
        continue;
      }
      const cols = names.map(quoteIdent).join(', ');
      const set = names.length === 1 ? `${cols} = (SELECT ${cols} FROM` : `(${cols}) = (SELECT ${cols} FROM`;
      lines.push(
        `UPDATE ${table} SET ${set} jsonb_populate_record(NULL::${table}, ${json})) WHERE ${keyPredicate(table, d.key)};`,
      );
      updates++;
    }
  }
  if (partial) {
    lines.push('', '-- PARTIAL: some tables have more differences than were listed (--max-differences): run again.');
  }
  lines.push('', 'COMMIT;', '');
  writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  return { file, inserts, updates, deletes, skipped, partial };
}
