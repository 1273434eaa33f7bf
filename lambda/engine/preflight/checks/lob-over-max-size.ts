import type { ColumnInfo, TableInfo } from '../../catalog';
import { fromTable } from '../../catalog';
import { quoteIdent } from '../../pg/identifiers';
import { withPooledClient } from '../../pg/connection';
import { finding } from '../context';
import type { PreflightCheck, PreflightContext } from '../types';

/** DMS's `LobMaxSize` when none is given: the construct's default (`lobMaxSize`, `Size.kibibytes(32)`). */
export const DEFAULT_LOB_MAX_SIZE_KIB = 32;
/** Tables larger than this (relpages × 8 KiB) are not scanned: their largest values are reported as unknown. */
export const DEFAULT_LOB_SCAN_MAX_TABLE_BYTES = 2 * 1024 ** 3;
/** Statement timeout of each table's scan: a scan that takes longer is reported as unknown. */
export const DEFAULT_LOB_SCAN_TIMEOUT_MS = 30_000;

/**
 * Whether DMS treats the column as a LOB, per the DMS PostgreSQL source type mapping: `text`, `bytea`, `json`,
 * `jsonb`, `xml`, `character varying` without a length, and arrays are migrated as (N)CLOB / BLOB.
 */
export function isDmsLob(c: ColumnInfo): boolean {
  if (c.typeCategory === 'A') return true;
  if (['text', 'bytea', 'json', 'jsonb', 'xml'].includes(c.typeName)) return true;
  return c.typeName === 'varchar' && c.type === 'character varying';
}

/**
 * Size of a value as DMS reads it: `octet_length` of text, bytea and varchar is read from the TOAST header (no
 * detoasting); json, jsonb, xml and arrays are measured in their text form, which DMS transfers.
 */
function sizeExpression(c: ColumnInfo): string {
  const column = quoteIdent(c.name);
  return ['text', 'bytea', 'varchar'].includes(c.typeName) && c.typeCategory !== 'A'
    ? `octet_length(${column})`
    : `octet_length(${column}::text)`;
}

const human = (bytes: number): string =>
  bytes >= 1024 ** 2 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;

interface TableScan {
  readonly table: TableInfo;
  readonly columns: readonly ColumnInfo[];
}

/** `column → largest value in bytes` (null: no value), or the reason it is unknown. */
async function largestValues(
  ctx: PreflightContext,
  scan: TableScan,
  timeoutMs: number,
): Promise<Map<string, number | null> | { unknown: string }> {
  const select = scan.columns.map((c, i) => `max(${sizeExpression(c)}) AS c${i}`).join(', ');
  return withPooledClient(ctx.db, async (client) => {
    await client.query('BEGIN READ ONLY');
    try {
      await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      const { rows } = await client.query<Record<string, string | null>>(
        `SELECT ${select} FROM ${fromTable(scan.table)}`,
      );
      return new Map(scan.columns.map((c, i) => [c.name, rows[0][`c${i}`] === null ? null : Number(rows[0][`c${i}`])]));
    } catch (error) {
      if ((error as { code?: string }).code === '57014') return { unknown: `the scan took over ${timeoutMs} ms` };
      throw error;
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

export const lobOverMaxSize: PreflightCheck = {
  code: 'lob-over-max-size',
  side: 'source',
  scope: 'tables',
  severity: 'error',
  description:
    'No value of a column DMS treats as a LOB (text, bytea, json, jsonb, xml, unbounded varchar, arrays) is larger ' +
    'than lobMaxSize: in limited LOB mode DMS fails the task on a longer value (FailTasksOnLobTruncation), possibly ' +
    'hours into the full load. The local replication does not model this.',
  fix:
    'Raise lobMaxSize (the replication option, up to 100 MiB) above the largest value, or replicate these tables ' +
    'in full LOB mode; then re-run preflight.',
  async run(ctx) {
    if (ctx.options.fullLobMode) return [];
    const maxKiB = ctx.options.lobMaxSizeKiB ?? DEFAULT_LOB_MAX_SIZE_KIB;
    if (!Number.isFinite(maxKiB) || maxKiB <= 0) {
      throw new Error(`lobMaxSizeKiB must be a positive number of KiB, got ${JSON.stringify(maxKiB)}`);
    }
    const maxBytes = maxKiB * 1024;
    const maxTableBytes = ctx.options.lobScanMaxTableBytes ?? DEFAULT_LOB_SCAN_MAX_TABLE_BYTES;
    const timeoutMs = ctx.options.lobScanTimeoutMs ?? DEFAULT_LOB_SCAN_TIMEOUT_MS;
    const catalog = await ctx.catalog();
    const findings = [];
    // One scan per table, one at a time: bounded by the table size limit and each scan's statement timeout.
    for (const table of catalog.tables) {
      const columns = table.columns.filter(isDmsLob);
      if (columns.length === 0) continue;
      const names = columns.map((c) => c.name).join(', ');
      const tableBytes = Math.max(0, table.pages) * 8192;
      const measured =
        tableBytes > maxTableBytes
          ? { unknown: `the table is about ${human(tableBytes)}, over the ${human(maxTableBytes)} scan limit` }
          : await largestValues(ctx, { table, columns }, timeoutMs);
      if ('unknown' in measured) {
        findings.push(
          finding(
            lobOverMaxSize,
            table.display,
            `largest values of LOB column(s) ${names} unknown (${measured.unknown}): DMS fails the task on a value over ` +
              `lobMaxSize ${maxKiB} KiB (limited LOB mode)`,
            {
              severity: 'warning',
              action: `Measure them yourself (SELECT max(octet_length(<column>)) FROM ${table.display}); if any is over ${maxKiB} KiB, ${lobOverMaxSize.fix}`,
            },
          ),
        );
        continue;
      }
      for (const c of columns) {
        const largest = measured.get(c.name);
        if (largest === null || largest === undefined || largest <= maxBytes) continue;
        findings.push(
          finding(
            lobOverMaxSize,
            `${table.display}.${c.name}`,
            `column ${c.name} (${c.type}) holds a value of ${human(largest)} (${largest} bytes), over lobMaxSize ` +
              `${maxKiB} KiB: DMS in limited LOB mode fails the task on it` +
              (ctx.options.lobLimitUnknown ? ' (this replication has no such limit; DMS would)' : ''),
            {
              ...(ctx.options.lobLimitUnknown ? { severity: 'warning' as const } : {}),
              action: `Raise lobMaxSize to at least ${Math.ceil(largest / 1024)} KiB (up to 100 MiB), or replicate ${table.display} in full LOB mode.`,
            },
          ),
        );
      }
    }
    return findings;
  },
};
