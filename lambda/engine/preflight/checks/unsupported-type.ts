import type { ColumnInfo } from '../../catalog';
import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** Types DMS migrates as text or with known problems for PostgreSQL → PostgreSQL. */
const TRICKY_BUILTIN: Record<string, string> = {
  inet: 'network address',
  cidr: 'network address',
  macaddr: 'MAC address',
  macaddr8: 'MAC address',
  tsvector: 'text search vector',
  tsquery: 'text search query',
  money: 'money (locale-dependent)',
  xml: 'XML',
  point: 'geometric',
  line: 'geometric',
  lseg: 'geometric',
  box: 'geometric',
  path: 'geometric',
  polygon: 'geometric',
  circle: 'geometric',
  bit: 'bit string',
  varbit: 'bit string',
  pg_lsn: 'LSN',
  txid_snapshot: 'snapshot',
  pg_snapshot: 'snapshot',
};
const KIND_LABEL: Record<string, string> = { e: 'enum', r: 'range', m: 'multirange', c: 'composite', d: 'domain' };

/** Why DMS handles a column's type poorly, or undefined when it handles it well. */
export function trickyTypeLabel(c: ColumnInfo): string | undefined {
  const elemKind = c.elementTypeKind;
  return (
    KIND_LABEL[c.typeKind] ??
    (elemKind ? KIND_LABEL[elemKind] : undefined) ??
    (c.builtinType
      ? (TRICKY_BUILTIN[c.typeName] ?? (c.elementTypeName ? TRICKY_BUILTIN[c.elementTypeName] : undefined))
      : 'user-defined')
  );
}

export const unsupportedType: PreflightCheck = {
  code: 'unsupported-type',
  side: 'source',
  scope: 'tables',
  severity: 'warning',
  description:
    'Selected columns use types DMS migrates faithfully (not enums, domains, ranges, network, geometric...).',
  fix: 'Create the target table with the same type before the full load (DMS in do-nothing mode) and validate this column.',
  async run(ctx) {
    const catalog = await ctx.catalog();
    return catalog.tables.flatMap((t) =>
      t.columns.flatMap((c) => {
        const label = trickyTypeLabel(c);
        return label
          ? [
              finding(
                unsupportedType,
                `${t.display}.${c.name}`,
                `column type ${c.type} (${label}${c.typeCategory === 'A' ? ' array' : ''}) is migrated by DMS as text or not at all`,
              ),
            ]
          : [];
      }),
    );
  },
};
