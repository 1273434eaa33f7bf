/**
 * Schema objects of the selected tables that exist on the source but not (or differently) on the target:
 * tables, columns (type, NOT NULL; and columns on the target only), primary keys, unique constraints, foreign keys, indexes and triggers.
 * Constraints and indexes are compared by definition, not by name (names often differ after a migration);
 * triggers by their full definition, name included.
 */
import type { Pool } from 'pg';
import { readCatalog, type TableInfo } from './catalog';
import type { TableSelection } from './table-selection';
import type { SchemaDifference, SchemaReport } from './validation/types';

interface Objects {
  primary: string | null;
  unique: Map<string, string>;
  foreign: Map<string, string>;
  indexes: Map<string, string>;
  triggers: Map<string, string>;
}

const noObjects = (): Objects => ({
  primary: null,
  unique: new Map(),
  foreign: new Map(),
  indexes: new Map(),
  triggers: new Map(),
});

async function objects(pool: Pool, oids: number[]): Promise<Map<number, Objects>> {
  const [cons, idx, trg] = await Promise.all([
    pool.query<{ rel: number; type: string; name: string; def: string }>(
      `SELECT conrelid::int AS rel, contype::text AS type, conname AS name, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE conrelid = ANY($1::oid[]) AND contype IN ('p', 'u', 'f')`,
      [oids],
    ),
    pool.query<{ rel: number; name: string; def: string }>(
      `SELECT i.indrelid::int AS rel, c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = ANY($1::oid[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))`,
      [oids],
    ),
    pool.query<{ rel: number; name: string; def: string }>(
      `SELECT tgrelid::int AS rel, tgname AS name, pg_get_triggerdef(oid) AS def
         FROM pg_trigger WHERE tgrelid = ANY($1::oid[]) AND NOT tgisinternal`,
      [oids],
    ),
  ]);
  const out = new Map<number, Objects>();
  const get = (rel: number): Objects => {
    let o = out.get(rel);
    if (!o) {
      o = noObjects();
      out.set(rel, o);
    }
    return o;
  };
  for (const c of cons.rows) {
    const o = get(c.rel);
    if (c.type === 'p') o.primary = c.def;
    else if (c.type === 'u') o.unique.set(c.def, c.name);
    else o.foreign.set(normalizeFk(c.def), c.name);
  }
  for (const i of idx.rows) get(i.rel).indexes.set(normalizeIndex(i.def), i.name);
  for (const t of trg.rows) get(t.rel).triggers.set(t.def, t.name);
  return out;
}

/** `CREATE [UNIQUE] INDEX name ON ...` without the index name. */
function normalizeIndex(def: string): string {
  return def.replace(/^(CREATE (?:UNIQUE )?INDEX )(?:"(?:[^"]|"")*"|\S+) ON /, '$1ON ');
}
function normalizeFk(def: string): string {
  return def.replace(/\s+NOT VALID$/, '');
}

export async function diffSchema(source: Pool, target: Pool, selection: TableSelection): Promise<SchemaReport> {
  const [sc, tc] = await Promise.all([readCatalog(source, selection), readCatalog(target, selection)]);
  const pairs = sc.tables.map((s) => [s, tc.byName(s.name)] as [TableInfo, TableInfo | undefined]);
  const [so, to] = await Promise.all([
    objects(
      source,
      sc.tables.map((t) => t.oid),
    ),
    objects(
      target,
      pairs.flatMap(([, t]) => (t ? [t.oid] : [])),
    ),
  ]);
  const diffs: SchemaDifference[] = [];
  const empty = noObjects();
  for (const [s, t] of pairs) {
    if (!t) {
      diffs.push({
        objectType: 'table',
        object: s.display,
        kind: 'missing',
        message: `table ${s.display} is missing on the target`,
      });
      continue;
    }
    const tcols = new Map(t.columns.map((c) => [c.name, c]));
    for (const c of s.columns) {
      const obj = `${s.display}.${c.name}`;
      const other = tcols.get(c.name);
      if (!other)
        diffs.push({
          objectType: 'column',
          object: obj,
          kind: 'missing',
          source: c.type,
          message: `column ${obj} (${c.type}) is missing on the target`,
        });
      else if (other.type !== c.type || other.notNull !== c.notNull) {
        const describe = (x: typeof c): string => `${x.type}${x.notNull ? ' NOT NULL' : ''}`;
        diffs.push({
          objectType: 'column',
          object: obj,
          kind: 'different',
          source: describe(c),
          target: describe(other),
          message: `column ${obj} is ${describe(c)} on the source but ${describe(other)} on the target`,
        });
      }
    }
    const scols = new Set(s.columns.map((c) => c.name));
    for (const c of t.columns) {
      if (scols.has(c.name)) continue;
      const obj = `${s.display}.${c.name}`;
      diffs.push({
        objectType: 'column',
        object: obj,
        kind: 'extra',
        target: c.type,
        message: `column ${obj} (${c.type}${c.notNull ? ' NOT NULL' : ''}) exists on the target only: DMS does not fill it${c.notNull ? ' (without a default, inserts fail)' : ''}, and full validation cannot compare the table`,
      });
    }
    const a = so.get(s.oid) ?? empty;
    const b = to.get(t.oid) ?? empty;
    if (a.primary && a.primary !== b.primary) {
      diffs.push({
        objectType: 'primary-key',
        object: s.display,
        kind: b.primary ? 'different' : 'missing',
        source: a.primary,
        ...(b.primary ? { target: b.primary } : {}),
        message: b.primary
          ? `primary key differs: ${a.primary} vs ${b.primary}`
          : `primary key ${a.primary} is missing on the target`,
      });
    }
    const compare = (
      objectType: SchemaDifference['objectType'],
      x: Map<string, string>,
      y: Map<string, string>,
      what: string,
    ): void => {
      for (const [def, name] of x) {
        if (!y.has(def)) {
          diffs.push({
            objectType,
            object: `${s.display}: ${name}`,
            kind: 'missing',
            source: def,
            message: `${what} ${name} (${def}) is missing on the target`,
          });
        }
      }
    };
    compare('unique', a.unique, b.unique, 'unique constraint');
    compare('foreign-key', a.foreign, b.foreign, 'foreign key');
    compare('index', a.indexes, b.indexes, 'index');
    compare('trigger', a.triggers, b.triggers, 'trigger');
  }
  return { ok: diffs.length === 0, tablesChecked: sc.tables.length, differences: diffs };
}
