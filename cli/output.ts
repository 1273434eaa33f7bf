/** Human output for `zdm`: summary tables on stdout (progress on stderr is ./progress.ts). */
import type { DetailedDifference, TableDifferenceStats } from './row-columns';
import type {
  TableValidation,
  PreflightReport,
  SchemaReport,
  SequenceReport,
  ValidationReport,
} from '../lambda/engine';

export function table(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = header.map((_h, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n') + '\n';
}

/** A changed row's differing columns as text: names, or `name: source → target` with --show-values. */
function describeColumns(d: DetailedDifference): string {
  if (d.columnsNotRead) return ` (columns not read: ${d.columnsNotRead})`;
  if (!d.columns) return '';
  if (!d.columns.length) return ' (no column differs now: the row converged)';
  const shown = d.columns.map((c) =>
    'source' in c ? `${c.column}: ${JSON.stringify(c.source)} → ${JSON.stringify(c.target)}` : c.column,
  );
  return ` columns: ${shown.join(', ')}`;
}

export function formatValidation(
  r: ValidationReport & { tables: (TableValidation & { differenceStats?: TableDifferenceStats })[] },
  excludedColumns: readonly string[] = [],
): string {
  let out = table(
    ['table', 'source rows', 'target rows', 'status', 'differences'],
    r.tables.map((t) => [
      t.table,
      t.sourceRows,
      t.targetRows,
      t.status,
      t.status === 'error' ? t.error : `${t.differenceCount}${t.differenceCountIsLowerBound ? '+' : ''}`,
    ]),
  );
  for (const t of r.tables) {
    if (!t.differences.length) continue;
    out += `\n${t.table}: ${t.differenceCount}${t.differenceCountIsLowerBound ? '+' : ''} differing row(s)${t.differencesTruncated ? `, first ${t.differences.length} listed` : ''}\n`;
    for (const d of t.differences.slice(0, 20)) {
      out += `  ${d.kind.padEnd(8)} ${JSON.stringify(d.key)}${d.recheck ? ` (${d.recheck})` : ''}${describeColumns(d)}\n`;
    }
    if (t.differences.length > 20) out += `  ... ${t.differences.length - 20} more (use --json for all listed)\n`;
    const st = t.differenceStats;
    if (st) {
      const columns = Object.entries(st.columns).map(([c, n]) => `${c} ${n}`);
      out += `  listed: ${st.missing} missing, ${st.extra} extra, ${st.changed} changed${columns.length ? ` (differing columns, rows: ${columns.join(', ')})` : ''}\n`;
    }
  }
  if (excludedColumns.length) out += `\nLeft out of the comparison: ${excludedColumns.join(', ')}\n`;
  const s = r.summary;
  out += `\n${r.ok ? 'OK' : 'DIFFERENCES'}: ${s.tables} table(s), ${s.matched} match, ${s.mismatched} mismatch, ${s.errors} error, ${s.differences} differing row(s) (${r.mode}, ${(r.durationMs / 1000).toFixed(1)} s)\n`;
  return out;
}

export function formatPreflight(r: PreflightReport): string {
  let out = `PostgreSQL ${r.serverVersion}, ${r.tablesChecked} table(s) checked\n`;
  if (r.findings.length) {
    out += table(
      ['severity', 'check', 'object', 'finding'],
      r.findings.map((f) => [f.severity, f.code, f.object, f.message]),
    );
    const actions = [
      ...new Set(r.findings.filter((f) => f.severity === 'error').map((f) => `${f.object}: ${f.action}`)),
    ];
    if (actions.length) out += `\nTo do:\n${actions.map((a) => `  - ${a}`).join('\n')}\n`;
  }
  out += `\n${r.ok ? 'READY' : 'NOT READY'}: ${r.findings.filter((f) => f.severity === 'error').length} error(s), ${r.findings.filter((f) => f.severity === 'warning').length} warning(s)\n`;
  return out;
}

/** Counts by status, so the verdict names what is wrong: "DIFFERENCES: 1 of 2 sequence(s) behind". */
export function sequenceCounts(r: SequenceReport): Record<'ok' | 'behind' | 'missing' | 'error', number> {
  const counts = { ok: 0, behind: 0, missing: 0, error: 0 };
  for (const s of r.sequences) counts[s.status]++;
  return counts;
}

function sequenceSummary(r: SequenceReport): string {
  const c = sequenceCounts(r);
  const problems = [
    c.behind ? `${c.behind} behind` : '',
    c.missing ? `${c.missing} missing on the target` : '',
    c.error ? `${c.error} error(s)` : '',
  ].filter(Boolean);
  const total = r.sequences.length;
  if (r.synced) {
    const set = r.sequences.filter((s) => s.action === 'set').length;
    return `${r.ok ? 'OK' : 'DIFFERENCES'}: ${total} sequence(s) checked, ${set} set${problems.length ? `; ${problems.join(', ')}` : ''}`;
  }
  return r.ok
    ? `OK: ${total} sequence(s), none behind`
    : `DIFFERENCES: ${problems.join(', ')} (of ${total} sequence(s))`;
}

export function formatSequences(r: SequenceReport): string {
  return (
    table(
      ['sequence', 'owned by', 'source next', 'target next', 'column max', 'status', r.synced ? 'action' : ''],
      r.sequences.map((s) => [
        s.sequence,
        s.ownedBy,
        s.sourceNext,
        s.targetNext,
        s.targetColumnMax,
        s.error ?? s.status,
        s.action ?? '',
      ]),
    ) + `\n${sequenceSummary(r)}\n`
  );
}

export function formatSchema(r: SchemaReport): string {
  let out = '';
  if (r.differences.length) {
    out += table(
      ['severity', 'object type', 'object', 'kind', 'detail'],
      r.differences.map((d) => [d.severity, d.objectType, d.object, d.kind, d.message]),
    );
  }
  // The same fixes --json carries, in order, ready to review and run on the target.
  const fixes = r.differences.filter((d) => d.fix);
  if (fixes.length) {
    out += `\nTo fix (review, then run on the target unless a line says otherwise):\n`;
    for (const d of fixes) out += `  -- ${d.object} (${d.code})\n${indent(statement(d.fix!), '  ')}\n`;
  }
  return (
    out +
    `\n${r.ok ? 'OK' : 'DIFFERENCES'}: ${r.tablesChecked} table(s), ${r.differences.length} difference(s) ` +
    `(${r.errors} error(s), ${r.warnings} warning(s)), ${fixes.length} with a fix\n`
  );
}

/** A fix that is one SQL statement ends with ";" (so the block can be pasted into psql); prose stays as it is. */
function statement(fix: string): string {
  const text = fix.trimEnd();
  return /^(CREATE|ALTER|DROP|COMMENT|REFRESH|GRANT|SELECT)\b/.test(text) && !text.endsWith(';') ? `${text};` : text;
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');
}
