/**
 * The options only `zdm validate --mode full` takes that name rows and columns: --where (which rows of a table to
 * compare), --exclude-column (a column left out of the comparison), --show-values, --detail-rows and --patch-file.
 * Their syntax is checked here; whether the tables and columns exist is checked on the source (cli/main.ts).
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { showValue, UsageError } from './command-line';
import type { ColumnRef, RowFilter } from '../lambda/engine';

/** One identifier: "double quoted" (dots, colons and case kept) or plain. */
const IDENT_SOURCE = String.raw`("(?:[^"]|"")+"|[^.":\s]+)`;

/** The longest --where predicate. */
export const MAX_PREDICATE_LENGTH = 2000;
const TABLE_PREFIX = new RegExp(String.raw`^${IDENT_SOURCE}\.${IDENT_SOURCE}:`);

/** `schema.table:predicate` (the first ":" after the table name splits; the predicate may hold "::" casts). */
export function parseRowFilter(text: string): RowFilter {
  const m = TABLE_PREFIX.exec(text);
  const predicate = m ? text.slice(m[0].length).trim() : '';
  if (!m || !predicate) {
    throw new UsageError(
      `--where takes 'schema.table:SQL condition' (e.g. 'public.orders:id > 1000'), got ${showValue(text)}`,
    );
  }
  if (predicate.length > MAX_PREDICATE_LENGTH || predicate.includes('\0')) {
    throw new UsageError(
      `--where ${m[0].slice(0, -1)}: the condition must be at most ${MAX_PREDICATE_LENGTH} characters without NUL, got ${predicate.length}`,
    );
  }
  const unquote = (part: string): string => (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part);
  return { schema: unquote(m[1]), table: unquote(m[2]), predicate };
}

/** The longest --exclude-column value. */
export const MAX_COLUMN_REF_LENGTH = 400;

const IDENT = IDENT_SOURCE;
const COLUMN_REF = new RegExp(String.raw`^${IDENT}\.${IDENT}\.${IDENT}$`);

/** `schema.table.column`; a part in double quotes keeps its dots and case ("My.Schema"."T"."c"). */
export function parseColumnRef(text: string): ColumnRef {
  const m = text.length <= MAX_COLUMN_REF_LENGTH ? COLUMN_REF.exec(text) : null;
  if (!m) {
    throw new UsageError(
      `--exclude-column takes schema.table.column (double-quote a part that holds a dot), got ${showValue(text)}`,
    );
  }
  const unquote = (part: string): string => (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part);
  return { schema: unquote(m[1]), table: unquote(m[2]), column: unquote(m[3]) };
}

/** The command line's values of the row and column options (as node's parseArgs gives them). */
export interface RowAndColumnValues {
  readonly 'exclude-column'?: string[];
  readonly 'show-values'?: boolean;
  readonly 'detail-rows'?: string;
  readonly where?: string[];
  readonly 'patch-file'?: string;
}

/** The row and column options, checked in this order: --exclude-column (and its companions), --patch-file, --where. */
export function parseRowAndColumnOptions(
  command: string,
  mode: 'quick' | 'full',
  v: RowAndColumnValues,
): { excludeColumns: ColumnRef[]; patchFile?: string; rowFilters: RowFilter[] } {
  const excludeColumns = (v['exclude-column'] ?? []).map(parseColumnRef);
  if (command !== 'validate' && (excludeColumns.length || v['show-values'] || v['detail-rows'] !== undefined)) {
    throw new UsageError('--exclude-column, --show-values and --detail-rows apply to validate only');
  }
  if (excludeColumns.length && mode !== 'full')
    throw new UsageError('--exclude-column applies to validate --mode full');
  const patchFile = v['patch-file'];
  if (patchFile !== undefined) checkPatchFile(command, mode, patchFile);
  return { excludeColumns, patchFile, rowFilters: parseRowFilters(command, mode, v.where ?? []) };
}

/** --patch-file: validate --mode full only, a path whose directory exists and can be written to (checked now). */
function checkPatchFile(command: string, mode: 'quick' | 'full', patchFile: string): void {
  if (command !== 'validate' || mode !== 'full') throw new UsageError('--patch-file applies to validate --mode full');
  if (!patchFile || patchFile.length > 4096) {
    throw new UsageError(`--patch-file must be a file path, got ${showValue(patchFile)}`);
  }
  try {
    accessSync(dirname(resolvePath(patchFile)), fsConstants.W_OK);
  } catch {
    throw new UsageError(`--patch-file ${showValue(patchFile)}: its directory does not exist or is not writable`);
  }
}

/** Every --where: validate --mode full only, one condition per table. */
function parseRowFilters(command: string, mode: 'quick' | 'full', texts: readonly string[]): RowFilter[] {
  const rowFilters = texts.map(parseRowFilter);
  if (rowFilters.length && (command !== 'validate' || mode !== 'full')) {
    throw new UsageError('--where applies to validate --mode full only');
  }
  const seen = new Set<string>();
  for (const f of rowFilters) {
    const key = JSON.stringify([f.schema, f.table]);
    if (seen.has(key))
      throw new UsageError(`--where: one condition per table; ${f.schema}.${f.table} has two (AND them)`);
    seen.add(key);
  }
  return rowFilters;
}
