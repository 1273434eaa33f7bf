/**
 * Which columns of a differing row differ: for a few keys, reads each column's text form (session settings pinned,
 * so equal values print equal) on both sides as an md5 and compares them. Descriptive only (the verdict is the row
 * hash's): it names columns, never values, unless `showValues` is asked for (rows may hold personal data).
 */
import type { Pool } from 'pg';
import { formatTableName, type TableName } from '../../../contract';
import { fromTable } from '../catalog';
import { quoteIdent } from '../pg/identifiers';
import { keyExprs, type Side } from './key-ranges';
import { tableContext, type TableContext } from './table-checksum';
import type { DifferenceKind } from './types';

export interface RowDiff {
  /** Key values as text, in key-column order. */
  readonly key: string[];
  readonly kind: DifferenceKind | 'equal';
  /** Columns whose values differ (a `changed` row); empty for a row missing on one side. */
  readonly columns: string[];
  /** The differing columns' text values on each side (only with `showValues`). */
  readonly values?: Record<string, { source: string | null; target: string | null }>;
}

export interface RowDiffOptions {
  /** Columns left out of the comparison. @default none */
  readonly excludeColumns?: readonly string[];
  /** Return the differing columns' values too. @default false */
  readonly showValues?: boolean;
  /** Rows compared at most (the rest are not described). @default 20 */
  readonly maxRows?: number;
}

interface SideRows {
  readonly byKey: Map<string, (string | null)[]>;
}

async function readRows(
  pool: Pool,
  side: Side,
  keyColumns: readonly string[],
  columns: readonly string[],
  keys: readonly (readonly string[])[],
  showValues: boolean,
): Promise<SideRows> {
  const casts = keyColumns.map((name) => side.table.columns.find((c) => c.name === name)!.castType);
  const params = keyColumns.map((_k, i) => keys.map((key) => key[i]));
  // One text[] per row: md5 of each column's text form (NULL stays NULL), or the text itself with showValues.
  const cell = (c: string): string => (showValues ? `t.${quoteIdent(c)}::text` : `md5(t.${quoteIdent(c)}::text)`);
  const r = await pool.query({
    text: `SELECT ${keyColumns.map((k) => `t.${quoteIdent(k)}::text`).join(', ')},
                  ARRAY[${columns.map(cell).join(', ') || 'NULL'}]::text[]
             FROM ${fromTable(side.table)} t
            WHERE (${keyExprs(side, keyColumns).join(', ')}) IN (
              SELECT ${casts.map((c, i) => `u.c${i}::${c}`).join(', ')}
                FROM unnest(${params.map((_p, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${params.map((_p, i) => `c${i}`).join(', ')}))`,
    values: params,
    rowMode: 'array',
  });
  const byKey = new Map<string, (string | null)[]>();
  for (const row of r.rows as unknown[][]) {
    byKey.set(JSON.stringify(row.slice(0, keyColumns.length)), row[keyColumns.length] as (string | null)[]);
  }
  return { byKey };
}

/** Describes the given keys of one table with a context already read (columns compared: those both sides have). */
export async function diffRowsWithContext(
  source: Pool,
  target: Pool,
  ctx: TableContext,
  keys: readonly (readonly string[])[],
  options: RowDiffOptions = {},
): Promise<RowDiff[]> {
  const excluded = new Set(options.excludeColumns ?? []);
  const targetNames = new Set(ctx.target.table.columns.map((c) => c.name));
  const columns = ctx.source.table.columns
    .map((c) => c.name)
    .filter((c) => targetNames.has(c) && !excluded.has(c))
    .sort();
  const asked = keys.slice(0, Math.max(1, options.maxRows ?? 20)).map((k) => [...k]);
  if (asked.length === 0) return [];
  const showValues = Boolean(options.showValues);
  const [s, t] = await Promise.all([
    readRows(source, ctx.source, ctx.keyColumns, columns, asked, showValues),
    readRows(target, ctx.target, ctx.keyColumns, columns, asked, showValues),
  ]);
  return asked.map((key) => {
    const k = JSON.stringify(key);
    const a = s.byKey.get(k);
    const b = t.byKey.get(k);
    if (!a || !b) {
      return { key, kind: !a && !b ? 'equal' : !a ? 'extra' : 'missing', columns: [] };
    }
    const differing = columns.filter((_c, i) => a[i] !== b[i]);
    const values = showValues
      ? Object.fromEntries(differing.map((c) => [c, { source: a[columns.indexOf(c)], target: b[columns.indexOf(c)] }]))
      : undefined;
    return {
      key,
      kind: differing.length ? 'changed' : 'equal',
      columns: differing,
      ...(values ? { values } : {}),
    };
  });
}

/** Describes the given keys (text forms, in the table's key-column order) of one table. */
export async function diffRows(
  source: Pool,
  target: Pool,
  table: TableName,
  keys: readonly (readonly string[])[],
  options: RowDiffOptions & { readonly keyColumns?: readonly string[] } = {},
): Promise<RowDiff[]> {
  const ctx = await tableContext(source, target, table, options.keyColumns, true);
  if ('error' in ctx) throw new Error(`${formatTableName(table)}: ${ctx.error}`);
  return diffRowsWithContext(source, target, ctx, keys, options);
}

/** `changed (id)=(7) in amount, note` / `missing (id)=(8) on the target`: bounded text for messages. */
export function describeRowDiff(keyColumns: readonly string[], d: RowDiff): string {
  const key = `(${keyColumns.join(', ')})=(${d.key.join(', ')})`;
  if (d.kind === 'missing') return `missing ${key} on the target`;
  if (d.kind === 'extra') return `extra ${key} on the target only`;
  if (d.kind === 'equal') return `${key} equal now`;
  const shown = d.columns.slice(0, 8).join(', ');
  const more = d.columns.length > 8 ? ` (+${d.columns.length - 8} more)` : '';
  return `changed ${key} in ${shown || 'its row hash only'}${more}`;
}
