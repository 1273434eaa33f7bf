import { formatTableName, type TableName } from '../../../contract';
import { qualify, quoteLiteral } from '../pg/identifiers';
import { notExtensionMember, type CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { clip, difference } from './difference';
import type { SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

export interface EnumType extends SchemaObject {
  readonly objectType: 'enum';
  readonly type: TableName;
  /** In sort order. */
  readonly labels: string[];
}

const labelList = (labels: readonly string[]): string => labels.map(quoteLiteral).join(', ');

/** Enum types of the compared schemas, with their labels in sort order. */
export async function readEnums(db: CatalogClient, scope: SideScope): Promise<EnumType[]> {
  const r = await db.query<{ s: string; n: string; labels: string[] }>(
    `SELECT n.nspname AS s, t.typname AS n,
            coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
                       WHERE e.enumtypid = t.oid), '{}') AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typtype = 'e' AND n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_type', 't.oid')}`,
    [scope.schemas],
  );
  return r.rows.map((e) => {
    const type = { schema: e.s, table: e.n };
    return {
      objectType: 'enum',
      key: JSON.stringify([e.s, e.n]),
      name: formatTableName(type),
      definition: `ENUM (${labelList(e.labels)})`,
      type,
      labels: e.labels,
    };
  });
}

/** `ALTER TYPE ... ADD VALUE` for each source label the target lacks, each placed next to its source neighbour. */
function addLabels(s: EnumType, targetLabels: readonly string[]): string {
  const present = new Set(targetLabels);
  const steps: string[] = [];
  s.labels.forEach((label, i) => {
    if (present.has(label)) return;
    const after = s.labels
      .slice(0, i)
      .reverse()
      .find((l) => present.has(l));
    const before = s.labels.slice(i + 1).find((l) => present.has(l));
    const place =
      after !== undefined
        ? ` AFTER ${quoteLiteral(after)}`
        : before !== undefined
          ? ` BEFORE ${quoteLiteral(before)}`
          : '';
    steps.push(`ALTER TYPE ${qualify(s.type)} ADD VALUE IF NOT EXISTS ${quoteLiteral(label)}${place}`);
    present.add(label);
  });
  return steps.join('; ');
}

/**
 * Enum types both ways (a target-only type is a warning); for types on both sides: labels missing on the target (an
 * error: DMS cannot write those values), labels on the target only (a warning), and labels in another order (an
 * error: comparisons and ORDER BY differ; the type has to be recreated, labels cannot be moved).
 */
export function compareEnums(source: readonly EnumType[], target: readonly EnumType[]): SchemaDifference[] {
  // Types on both sides are compared label by label below, instead of as one definition.
  const out = compareObjects(source, target, {
    what: 'enum type',
    extraSeverity: 'warning',
    fixMissing: (s) => `CREATE TYPE ${qualify(s.type)} AS ${s.definition}`,
  }).filter((d) => d.kind !== 'different');
  const targetByKey = new Map(target.map((t) => [t.key, t]));
  for (const s of source) {
    const t = targetByKey.get(s.key);
    if (!t) continue;
    const inTarget = new Set(t.labels);
    const inSource = new Set(s.labels);
    const missing = s.labels.filter((l) => !inTarget.has(l));
    const extra = t.labels.filter((l) => !inSource.has(l));
    const base = {
      objectType: 'enum' as const,
      object: s.name,
      kind: 'different' as const,
      source: s.definition,
      target: t.definition,
    };
    if (missing.length) {
      out.push(
        difference({
          ...base,
          severity: 'error',
          message: `enum type ${s.name} lacks label(s) ${clip(labelList(missing))} on the target`,
          fix: addLabels(s, t.labels),
        }),
      );
    }
    if (extra.length) {
      out.push(
        difference({
          ...base,
          severity: 'warning',
          message: `enum type ${s.name} has label(s) ${clip(labelList(extra))} on the target only`,
        }),
      );
    }
    const common = s.labels.filter((l) => inTarget.has(l));
    const targetOrder = t.labels.filter((l) => inSource.has(l));
    if (common.some((l, i) => targetOrder[i] !== l)) {
      out.push(
        difference({
          ...base,
          code: 'enum-label-order',
          severity: 'error',
          message: `enum type ${s.name} orders its labels differently: ${clip(labelList(common))} on the source, ${clip(labelList(targetOrder))} on the target`,
        }),
      );
    }
  }
  return out;
}
