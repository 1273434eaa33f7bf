/**
 * What changed in a changed row: `zdm validate` reads each listed `changed` row on both sides (by its key, one
 * indexed lookup per side) and names the columns whose values differ — the values themselves only with
 * `--show-values` (rows may hold personal data). Per table, how many rows differ in each column.
 */
import type { Pool } from 'pg';
import { qualify, quoteIdent, type RowDifference, type TableValidation, type ValidationReport } from '../lambda/engine';

/** The longest value shown with --show-values. */
export const MAX_SHOWN_CELL = 200;

export interface ColumnDifference {
  readonly column: string;
  /** The values (their JSON form), with --show-values only. */
  readonly source?: unknown;
  readonly target?: unknown;
}

export interface DetailedDifference extends RowDifference {
  /** `changed` rows: the columns whose values differ (empty when the row converged or could not be read). */
  readonly columns?: ColumnDifference[];
  /** Set when the row was not read again: e.g. the detail limit was reached. */
  readonly columnsNotRead?: string;
}

export interface TableDifferenceStats {
  readonly missing: number;
  readonly extra: number;
  readonly changed: number;
  /** Column → changed rows (of those read) in which it differs, most frequent first. */
  readonly columns: Record<string, number>;
}

export interface DetailOptions {
  readonly showValues: boolean;
  /** `schema.table.column` display names to leave out (also left out of the checksums). */
  readonly excludeColumns: ReadonlySet<string>;
  /** Changed rows read again per table. */
  readonly maxRowsPerTable: number;
  /** `schema.table` → a predicate the operator gave (--where); the lookups add it too. */
  readonly where?: ReadonlyMap<string, string>;
}

function bounded(value: unknown): unknown {
  const text = JSON.stringify(value);
  if (text === undefined || text.length <= MAX_SHOWN_CELL) return value;
  return `${text.slice(0, MAX_SHOWN_CELL)}… (${text.length} characters)`;
}

async function readRow(pool: Pool, t: TableValidation, key: RowDifference['key']): Promise<Record<string, unknown>> {
  const columns = Object.keys(key);
  // `k = $n` lets PostgreSQL type the parameter as the key column and use the primary key's index.
  const where = columns.map((c, i) => `${quoteIdent(c)} = $${i + 1}`).join(' AND ');
  const { rows } = await pool.query<{ r: Record<string, unknown> }>(
    `SELECT to_jsonb(t) AS r FROM ${qualify(t.name)} t WHERE ${where}`,
    columns.map((c) => String(key[c])),
  );
  return rows[0]?.r ?? {};
}

/** Adds the differing columns to each listed `changed` row and per-table statistics; never throws for a row. */
export async function detailDifferences(
  source: Pool,
  target: Pool,
  report: ValidationReport,
  options: DetailOptions,
): Promise<ValidationReport & { tables: (TableValidation & { differenceStats?: TableDifferenceStats })[] }> {
  const tables = [];
  for (const t of report.tables) {
    if (!t.differences.length) {
      tables.push(t);
      continue;
    }
    const counts: Record<string, number> = {};
    let read = 0;
    const differences: DetailedDifference[] = [];
    for (const d of t.differences) {
      if (d.kind !== 'changed') {
        differences.push(d);
        continue;
      }
      if (read >= options.maxRowsPerTable) {
        differences.push({ ...d, columnsNotRead: `only the first ${options.maxRowsPerTable} changed rows are read` });
        continue;
      }
      read++;
      try {
        const [s, g] = await Promise.all([readRow(source, t, d.key), readRow(target, t, d.key)]);
        const names = [...new Set([...Object.keys(s), ...Object.keys(g)])].sort();
        const columns: ColumnDifference[] = [];
        for (const column of names) {
          if (options.excludeColumns.has(`${t.table}.${column}`)) continue;
          if (JSON.stringify(s[column]) === JSON.stringify(g[column])) continue;
          counts[column] = (counts[column] ?? 0) + 1;
          columns.push(
            options.showValues
              ? { column, source: bounded(s[column] ?? null), target: bounded(g[column] ?? null) }
              : { column },
          );
        }
        differences.push({ ...d, columns });
      } catch (error) {
        differences.push({ ...d, columnsNotRead: (error as Error).message.slice(0, 200) });
      }
    }
    const kinds = { missing: 0, extra: 0, changed: 0 };
    for (const d of t.differences) kinds[d.kind]++;
    const ordered = Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
    tables.push({ ...t, differences, differenceStats: { ...kinds, columns: ordered } });
  }
  return { ...report, tables };
}
