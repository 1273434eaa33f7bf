/** Human output for `zdm`: summary tables on stdout (progress on stderr is ./progress.ts). */
import type { PreflightReport, SchemaReport, SequenceReport, ValidationReport } from '../lambda/engine';

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

export function formatValidation(r: ValidationReport): string {
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
      out += `  ${d.kind.padEnd(8)} ${JSON.stringify(d.key)}${d.recheck ? ` (${d.recheck})` : ''}\n`;
    }
    if (t.differences.length > 20) out += `  ... ${t.differences.length - 20} more (use --json for all listed)\n`;
  }
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
    ) + `\n${r.ok ? 'OK' : 'DIFFERENCES'}: ${r.sequences.length} sequence(s)${r.synced ? ', synced' : ''}\n`
  );
}

export function formatSchema(r: SchemaReport): string {
  let out = '';
  if (r.differences.length) {
    out += table(
      ['object type', 'object', 'kind', 'detail'],
      r.differences.map((d) => [d.objectType, d.object, d.kind, d.message]),
    );
  }
  return out + `\n${r.ok ? 'OK' : 'DIFFERENCES'}: ${r.tablesChecked} table(s), ${r.differences.length} difference(s)\n`;
}
