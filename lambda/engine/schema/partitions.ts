import { formatTableName, type TableName } from '../../../contract';
import type { TableInfo } from '../catalog';
import { qualify } from '../pg/identifiers';
import type { CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { difference } from './difference';
import { isExcludedSchema, oidsOf, tablesByOid, type SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

/** A partition attached to a partitioned table of the selection (at any depth), with its bound. */
export interface Partition extends SchemaObject {
  readonly objectType: 'partition';
  readonly parent: TableName;
  readonly child: TableName;
  readonly childDisplay: string;
}

export interface Partitions {
  readonly attached: Partition[];
  /** `PARTITION BY ...` of each selected partitioned table, by display name. */
  readonly keys: Map<string, string>;
  /** Display names of the tables in the database that are not partitions (a detached partition is one). */
  readonly standalone: Set<string>;
}

export async function readPartitions(db: CatalogClient, scope: SideScope): Promise<Partitions> {
  const tables = tablesByOid(scope);
  const oids = oidsOf(scope);
  // One client: the queries run one after the other.
  const attached = await db.query<{ ps: string; pt: string; cs: string; ct: string; bound: string }>(
    `SELECT pn.nspname AS ps, p.relname AS pt, cn.nspname AS cs, c.relname AS ct,
              pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
         JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
        WHERE c.relispartition AND pg_partition_root(c.oid) = ANY($1::oid[])`,
    [oids],
  );
  const keys = await db.query<{ rel: number; key: string }>(
    `SELECT oid::int AS rel, pg_get_partkeydef(oid) AS key FROM pg_class WHERE oid = ANY($1::oid[]) AND relkind = 'p'`,
    [oids],
  );
  const standalone = await db.query<{ s: string; t: string }>(
    `SELECT n.nspname AS s, c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition`,
  );
  return {
    attached: attached.rows.map((r) => {
      const parent = { schema: r.ps, table: r.pt };
      const child = { schema: r.cs, table: r.ct };
      const childDisplay = formatTableName(child);
      return {
        objectType: 'partition',
        key: JSON.stringify([formatTableName(parent), childDisplay]),
        name: `${formatTableName(parent)}: ${childDisplay}`,
        definition: r.bound,
        parent,
        child,
        childDisplay,
      };
    }),
    keys: new Map(keys.rows.map((k) => [tables.get(k.rel)!.display, `PARTITION BY ${k.key}`])),
    standalone: new Set(
      standalone.rows.filter((r) => !isExcludedSchema(r.s)).map((r) => formatTableName({ schema: r.s, table: r.t })),
    ),
  };
}

/** Display names of the source's partitions (a target table of that name is a detached partition, not an extra table). */
export const partitionNames = (p: Partitions): Set<string> => new Set(p.attached.map((a) => a.childDisplay));

const attach = (p: Partition): string =>
  `ALTER TABLE ${qualify(p.parent)} ATTACH PARTITION ${qualify(p.child)} ${p.definition}`;
const detach = (p: Partition): string => `ALTER TABLE ${qualify(p.parent)} DETACH PARTITION ${qualify(p.child)}`;

/**
 * Partition keys of the paired tables, and partitions both ways: missing (or present as a detached table: rows in
 * its range then fail to insert), bound different, or attached on the target only (a warning).
 */
export function comparePartitions(
  source: Partitions,
  target: Partitions,
  paired: readonly (readonly [TableInfo, TableInfo])[],
): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  const unpartitioned = 'not partitioned';
  for (const [s] of paired) {
    const a = source.keys.get(s.display) ?? unpartitioned;
    const b = target.keys.get(s.display) ?? unpartitioned;
    if (a === b) continue;
    out.push(
      difference({
        objectType: 'table',
        object: s.display,
        kind: 'different',
        severity: 'error',
        source: a,
        target: b,
        message: `table ${s.display}: ${a} on the source, ${b} on the target`,
      }),
    );
  }
  const diffs = compareObjects(source.attached, target.attached, {
    what: 'partition',
    extraSeverity: 'warning',
    fixMissing: (p) => `CREATE TABLE ${qualify(p.child)} PARTITION OF ${qualify(p.parent)} ${p.definition}`,
    fixExtra: detach,
    fixDifferent: (s) => `${detach(s)}; ${attach(s)}`,
  });
  const byName = new Map(source.attached.map((p) => [p.name, p]));
  for (const d of diffs) {
    const p = byName.get(d.object);
    if (d.kind !== 'missing' || !p || !target.standalone.has(p.childDisplay)) {
      out.push(d);
      continue;
    }
    out.push(
      difference({
        objectType: 'partition',
        object: d.object,
        kind: 'missing',
        code: 'partition-detached',
        severity: 'error',
        source: p.definition,
        message: `table ${p.childDisplay} is a partition of ${formatTableName(p.parent)} (${p.definition}) on the source but is not attached on the target`,
        fix: attach(p),
      }),
    );
  }
  return out;
}
