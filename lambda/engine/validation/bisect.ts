/**
 * Narrows a differing range down to rows: split it into sub-ranges at keys taken from the side with more rows,
 * checksum each on both sides, recurse into those that differ; at `leafRows` or fewer rows fetch (key, row hash)
 * pairs from both sides and diff them. Memory stays bounded by `leafRows` and the difference cap.
 */
import type { Pool } from 'pg';
import { fromTable } from '../catalog';
import { quoteIdent } from '../pg/identifiers';
import { keyExprs, rangeWhere, type Side } from './key-ranges';
import { checksum, type Checksum, type TableContext } from './table-checksum';
import type { ChecksumOptions, KeyValue, RowDifference } from './types';

const FANOUT = 16;

export interface Resolution {
  differences: RowDifference[];
  differenceCount: number;
  unresolvedRanges: number;
  rangesChecked: number;
}

export async function resolveRange(
  source: Pool,
  target: Pool,
  ctx: TableContext,
  lower: readonly string[] | undefined,
  upper: readonly string[] | undefined,
  s: Checksum,
  t: Checksum,
  options: ChecksumOptions,
  /** Rows still to be listed for this table, shared by the ranges of one `validateRanges` call. */
  budget: { remaining: number } = { remaining: options.maxDifferences ?? 1000 },
): Promise<Resolution> {
  const leafRows = Math.max(1, options.leafRows ?? 2000);
  const out: Resolution = { differences: [], differenceCount: 0, unresolvedRanges: 0, rangesChecked: 0 };

  const visit = async (
    lo: readonly string[] | undefined,
    hi: readonly string[] | undefined,
    sc: Checksum,
    tc: Checksum,
  ): Promise<void> => {
    if (budget.remaining <= 0) {
      out.unresolvedRanges++;
      out.differenceCount += Math.max(1, Math.abs(sc.rows - tc.rows));
      return;
    }
    if (Math.max(sc.rows, tc.rows) <= leafRows) {
      await diffLeaf(source, target, ctx, lo, hi, out, budget);
      return;
    }
    const [pool, side, rows] = sc.rows >= tc.rows ? [source, ctx.source, sc.rows] : [target, ctx.target, tc.rows];
    const cuts = await splitPoints(pool, side, ctx.keyColumns, lo, hi, Math.ceil(rows / FANOUT));
    if (cuts.length === 0) {
      await diffLeaf(source, target, ctx, lo, hi, out, budget);
      return;
    }
    const bounds: (readonly string[] | undefined)[] = [lo, ...cuts, hi];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [a, b] = [bounds[i], bounds[i + 1]];
      const [sub, tub] = await Promise.all([
        checksum(source, ctx.source, ctx.sourceHash, ctx.keyColumns, a, b),
        checksum(target, ctx.target, ctx.targetHash, ctx.keyColumns, a, b),
      ]);
      out.rangesChecked++;
      if (sub.rows !== tub.rows || sub.sum !== tub.sum) await visit(a, b, sub, tub);
    }
  };
  await visit(lower, upper, s, t);
  return out;
}

async function splitPoints(
  pool: Pool,
  side: Side,
  keyColumns: readonly string[],
  lower: readonly string[] | undefined,
  upper: readonly string[] | undefined,
  step: number,
): Promise<string[][]> {
  const where = rangeWhere(side, keyColumns, lower, upper, 2);
  const texts = keyColumns.map((k, i) => `t.${quoteIdent(k)}::text AS k${i}`);
  const r = await pool.query({
    text: `SELECT ${keyColumns.map((_k, i) => `k${i}`).join(', ')} FROM (
             SELECT ${texts.join(', ')}, row_number() OVER (ORDER BY ${keyExprs(side, keyColumns).join(', ')}) AS rn
               FROM ${fromTable(side.table)} t WHERE ${where.sql}) s
            WHERE rn % $1 = 0 ORDER BY rn`,
    values: [step, ...where.params],
    rowMode: 'array',
  });
  const cuts = r.rows as string[][];
  // The last cut may equal the range's upper bound; a sub-range (upper, upper] would be empty, so drop it.
  if (upper && cuts.length && JSON.stringify(cuts[cuts.length - 1]) === JSON.stringify(upper)) cuts.pop();
  return cuts;
}

async function leafRows(
  pool: Pool,
  side: Side,
  hash: string,
  keyColumns: readonly string[],
  lower: readonly string[] | undefined,
  upper: readonly string[] | undefined,
): Promise<Map<string, { key: string[]; hash: string }>> {
  const where = rangeWhere(side, keyColumns, lower, upper);
  const texts = keyColumns.map((k) => `t.${quoteIdent(k)}::text`);
  const r = await pool.query({
    text: `SELECT ${texts.join(', ')}, (${hash})::text FROM ${fromTable(side.table)} t WHERE ${where.sql}`,
    values: where.params,
    rowMode: 'array',
  });
  const map = new Map<string, { key: string[]; hash: string }>();
  for (const row of r.rows as string[][]) {
    const key = row.slice(0, keyColumns.length);
    map.set(JSON.stringify(key), { key, hash: row[keyColumns.length] });
  }
  return map;
}

async function diffLeaf(
  source: Pool,
  target: Pool,
  ctx: TableContext,
  lower: readonly string[] | undefined,
  upper: readonly string[] | undefined,
  out: Resolution,
  budget: { remaining: number },
): Promise<void> {
  const [s, t] = await Promise.all([
    leafRows(source, ctx.source, ctx.sourceHash, ctx.keyColumns, lower, upper),
    leafRows(target, ctx.target, ctx.targetHash, ctx.keyColumns, lower, upper),
  ]);
  const found: RowDifference[] = [];
  for (const [k, row] of s) {
    const other = t.get(k);
    if (!other) found.push({ key: keyObject(ctx, row.key), kind: 'missing' });
    else if (other.hash !== row.hash) found.push({ key: keyObject(ctx, row.key), kind: 'changed' });
  }
  for (const [k, row] of t) if (!s.has(k)) found.push({ key: keyObject(ctx, row.key), kind: 'extra' });
  out.differenceCount += found.length;
  for (const d of found) {
    if (budget.remaining <= 0) break;
    out.differences.push(d);
    budget.remaining--;
  }
}

/** `{ column: value }` for a key given as text forms; integers become numbers when exact. */
export function keyObject(
  ctx: Pick<TableContext, 'keyColumns' | 'integerKey'>,
  key: readonly string[],
): Record<string, KeyValue> {
  const obj: Record<string, KeyValue> = {};
  ctx.keyColumns.forEach((name, i) => {
    const n = Number(key[i]);
    obj[name] = ctx.integerKey[i] && Number.isSafeInteger(n) ? n : key[i];
  });
  return obj;
}
