/**
 * Re-verifies changed rows by key on both sides with the validation engine's own row hash (same column plan, same
 * hash method), a bounded batch of keys per query.
 */
import type { Pool } from 'pg';
import { formatTableName, type TableName } from '../../../contract';
import { mapLimit } from '../helpers';
import { tableContext, type TableContext } from '../validation/range-checksum';
import { rowsByKey } from '../validation/recheck';
import type { HashMethod } from '../validation/types';
import { SignedCache } from './catalog-signature';
import type { KeyCheck, KeyStatus, KeyVerification } from './types';

export interface VerifyKeysOptions {
  /** Key columns the keys are given in. @default the table's validation key (primary key, else unique index) */
  readonly keyColumns?: readonly string[];
  /** As in validation: unconstrained numeric compared by text form. @default true */
  readonly exactNumeric?: boolean;
  /** Use the hash method pre-validation used. @default `record` when both sides support it */
  readonly hashMethod?: HashMethod;
  /** Keys per query. @default 1000 */
  readonly batchSize?: number;
  /** Batches in flight at once. @default 2 */
  readonly concurrency?: number;
  /**
   * Catalog signatures of both databases that cover this table (`TrackedChanges.catalog`), read before this call:
   * the table's context (columns, key, row hash on both sides) is reused while both are the ones it was read under,
   * and read again otherwise. @default none: the context is read
   */
  readonly catalog?: { readonly source: string; readonly target: string };
}

/**
 * Contexts by source pool, under both signatures. A context is a function of the catalog data the signatures cover
 * (and of the options in the key), so one stored under equal signatures is the context a fresh read would return.
 */
const contexts = new SignedCache<TableContext>();

function statusOf(source: string | undefined, target: string | undefined): KeyStatus {
  if (source === undefined) return target === undefined ? 'equal' : 'extra';
  if (target === undefined) return 'missing';
  return source === target ? 'equal' : 'changed';
}

/**
 * Compares the rows with the given keys (text forms, as `pgoutput` sends them with the pinned session settings):
 * `equal` (same hash, or absent on both sides), `missing` / `extra` on the target, or `changed`.
 */
export async function verifyKeys(
  source: Pool,
  target: Pool,
  table: TableName,
  keys: readonly (readonly string[])[],
  options: VerifyKeysOptions = {},
): Promise<KeyVerification> {
  const display = formatTableName(table);
  const exactNumeric = options.exactNumeric ?? true;
  const signed = options.catalog && JSON.stringify([options.catalog.source, options.catalog.target]);
  const cacheKey = JSON.stringify([
    table.schema,
    table.table,
    options.keyColumns ?? null,
    exactNumeric,
    options.hashMethod,
  ]);
  let ctx: TableContext | { error: string } | undefined = signed ? contexts.get(source, cacheKey, signed) : undefined;
  if (!ctx) {
    ctx = await tableContext(source, target, table, options.keyColumns, exactNumeric, options.hashMethod);
    if (signed && !('error' in ctx)) contexts.set(source, cacheKey, signed, ctx);
  }
  const keyColumns = 'error' in ctx ? [...(options.keyColumns ?? [])] : ctx.keyColumns;
  if ('error' in ctx) return { table, display, keyColumns, checked: [], error: ctx.error };
  const wrong = keys.find((k) => k.length !== keyColumns.length);
  if (wrong) throw new Error(`${display}: key ${JSON.stringify(wrong)} does not match key (${keyColumns.join(', ')})`);

  const unique = [...new Map(keys.map((k) => [JSON.stringify(k), [...k]])).values()];
  const size = Math.max(1, options.batchSize ?? 1000);
  const batches: string[][][] = [];
  for (let i = 0; i < unique.length; i += size) batches.push(unique.slice(i, i + size));
  const checked = await mapLimit(batches, options.concurrency ?? 2, async (batch): Promise<KeyCheck[]> => {
    const [s, t] = await Promise.all([
      rowsByKey(source, ctx.source, ctx.sourceHash, keyColumns, batch),
      rowsByKey(target, ctx.target, ctx.targetHash, keyColumns, batch),
    ]);
    const asked = new Set(batch.map((key) => JSON.stringify(key)));
    // Rows are matched back by their keys' text forms: a key given in another form (`007` for 7) would read as
    // absent on both sides, so refuse it rather than call its row equal.
    const stray = [...s.keys(), ...t.keys()].find((k) => !asked.has(k));
    if (stray) throw new Error(`${display}: key ${stray} was asked for in another text form`);
    return batch.map((key) => {
      const k = JSON.stringify(key);
      return { key, status: statusOf(s.get(k), t.get(k)) };
    });
  });
  return { table, display, keyColumns, checked: checked.flat() };
}
