/**
 * Per-row hash expressions, identical in meaning on source and target.
 *
 * - `record` method (PostgreSQL 14+ on both sides): `hashint8extended(hash_record_extended(ROW(<columns by name>), 0), 0)`
 *   (the outer hash undoes the record hash's linearity, see `rowHashSql`). Each column
 *   is hashed with its type's own extended hash when that is safe (equal values hash equal, no session setting
 *   involved), otherwise as its text form: enums (their hash uses the OID, which differs between databases), types
 *   without a hash function (json, xml, point, ...), domains, composites, ranges, user types, columns whose type
 *   differs between the sides, and, by default, unconstrained numeric and interval (so `1.10` ≠ `1.1` and
 *   `1 day` ≠ `24 hours`: DMS copies values exactly; `numeric(p,s)` has a fixed scale and keeps its native hash).
 * - `text` method (a side older than 14): `hashtextextended(ROW(<columns by name>)::text, 0)`.
 *
 * In both, NULL is distinct from '' and from 'NULL' (record hashing marks NULL fields; record text output writes
 * `""` for an empty string and nothing for NULL), and columns are combined in a fixed order by name.
 */
import { quoteIdent } from '../pg/identifiers';
import type { ColumnInfo } from '../catalog';
import type { HashMethod } from './types';

/** Built-in types whose default hash opclass has an extended hash function that is exact for our purpose. */
const NATIVE_SAFE = new Set([
  'bool',
  'int2',
  'int4',
  'int8',
  'oid',
  'float4',
  'float8',
  'text',
  'varchar',
  'bpchar',
  'name',
  'char',
  'bytea',
  'uuid',
  'date',
  'time',
  'timetz',
  'timestamp',
  'timestamptz',
  'jsonb',
  'inet',
  'cidr',
  'macaddr',
  'macaddr8',
  'pg_lsn',
]);
const VALUE_EQUAL = new Set(['numeric', 'interval']);

export interface ColumnHashPlan {
  readonly name: string;
  /** Hash with the type's own hash (true) or as text (false). */
  readonly native: boolean;
}

function nativeOk(c: ColumnInfo, exactNumeric: boolean): boolean {
  // numeric(p,s) stores every value at scale s, so its value hash is exact too.
  const fixedScale = /^numeric\(\d+,\d+\)(\[\])?$/.test(c.type);
  const ok = (typeName: string): boolean =>
    NATIVE_SAFE.has(typeName) || ((!exactNumeric || fixedScale) && VALUE_EQUAL.has(typeName));
  if (!c.builtinType) return false;
  if (c.typeKind === 'b' && c.typeCategory !== 'A') return ok(c.typeName);
  if (c.typeCategory === 'A' && c.elementTypeKind === 'b' && c.elementTypeName) return ok(c.elementTypeName);
  return false;
}

/** Decides, once for both sides, how each common column is hashed. Columns ordered by name. */
export function planColumnHashes(
  source: readonly ColumnInfo[],
  target: readonly ColumnInfo[],
  exactNumeric: boolean,
): ColumnHashPlan[] {
  const t = new Map(target.map((c) => [c.name, c]));
  return [...source]
    .filter((c) => t.has(c.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((c) => {
      const other = t.get(c.name)!;
      const native =
        nativeOk(c, exactNumeric) &&
        nativeOk(other, exactNumeric) &&
        c.type === other.type &&
        c.typeCategory === other.typeCategory;
      return { name: c.name, native };
    });
}

/** The SQL expression (a bigint) hashing one row of `alias`'s columns on one side. */
export function rowHashSql(
  plan: readonly ColumnHashPlan[],
  sideColumns: readonly ColumnInfo[],
  method: HashMethod,
  alias = 't',
): string {
  const cols = new Map(sideColumns.map((c) => [c.name, c]));
  const parts = plan.map((p) => {
    const ref = `${alias}.${quoteIdent(p.name)}`;
    if (method === 'text') {
      // Text forms tell -0 from 0, floats' hash functions do not: adding +0 turns -0 into 0 (NaN, ±Infinity stay).
      const typeName = cols.get(p.name)?.typeName;
      return typeName === 'float4' || typeName === 'float8' ? `(${ref} + 0::${typeName})` : ref;
    }
    if (!p.native) return `${ref}::text`;
    // Nondeterministic collations would hash by their sort key; "C" hashes the bytes.
    return cols.get(p.name)?.collatable ? `(${ref} COLLATE "C")` : ref;
  });
  const row = parts.length === 1 ? `ROW(${parts[0]})` : `(${parts.join(', ')})`;
  // hash_record_extended combines its fields linearly (h = 31 * h + field hash), so a plain sum over rows only
  // depends on each column's multiset of values: swapping a value between two rows would cancel out. Re-hashing
  // the row hash (hashint8extended mixes all 64 bits) makes the sum depend on which values share a row.
  return method === 'record'
    ? `hashint8extended(hash_record_extended(${row}, 0), 0)`
    : `hashtextextended(${row}::text, 0)`;
}
