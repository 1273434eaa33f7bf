import type { TableInfo } from '../catalog';
import { qualify, quoteIdent } from '../pg/identifiers';
import type { CatalogClient } from './catalog-session';
import { compareObjects, type SchemaObject } from './compare-objects';
import { difference, normalizeSpace } from './difference';
import { oidsOf, tablesByOid, type SideScope } from './scope';
import type { SchemaDifference } from '../validation/types';

export interface TableTrigger extends SchemaObject {
  readonly objectType: 'trigger';
  readonly table: TableInfo;
  readonly triggerName: string;
  /** `tgenabled`: `O` enabled, `D` disabled, `R` replica only, `A` always. */
  readonly enabled: string;
}

/** User triggers (not the internal ones behind foreign keys), matched by table and name. */
export async function readTriggers(db: CatalogClient, scope: SideScope): Promise<TableTrigger[]> {
  const tables = tablesByOid(scope);
  const r = await db.query<{ rel: number; name: string; def: string; enabled: string }>(
    `SELECT tgrelid::int AS rel, tgname AS name, pg_get_triggerdef(oid) AS def, tgenabled::text AS enabled
       FROM pg_trigger WHERE tgrelid = ANY($1::oid[]) AND NOT tgisinternal`,
    [oidsOf(scope)],
  );
  return r.rows.map((t) => {
    const table = tables.get(t.rel)!;
    return {
      objectType: 'trigger',
      key: JSON.stringify([table.display, t.name]),
      name: `${table.display}: ${t.name}`,
      definition: normalizeSpace(t.def),
      table,
      triggerName: t.name,
      enabled: t.enabled,
    };
  });
}

const STATES: Record<string, { words: string; clause: string }> = {
  O: { words: 'enabled', clause: 'ENABLE TRIGGER' },
  D: { words: 'disabled', clause: 'DISABLE TRIGGER' },
  R: { words: 'enabled for replication sessions only', clause: 'ENABLE REPLICA TRIGGER' },
  A: { words: 'enabled always (replication sessions included)', clause: 'ENABLE ALWAYS TRIGGER' },
};
const state = (t: TableTrigger): { words: string; clause: string } => STATES[t.enabled] ?? STATES.O;

/** `ALTER TABLE ... ENABLE|DISABLE ... TRIGGER ...` giving the trigger the state of `like`. */
const setState = (t: TableTrigger, like: TableTrigger): string =>
  `ALTER TABLE ${qualify(t.table.name)} ${state(like).clause} ${quoteIdent(t.triggerName)}`;
const dropTrigger = (t: TableTrigger): string =>
  `DROP TRIGGER ${quoteIdent(t.triggerName)} ON ${qualify(t.table.name)}`;
const createTrigger = (s: TableTrigger): string =>
  s.enabled === 'O' ? s.definition : `${s.definition}; ${setState(s, s)}`;

/** Existence and definition both ways (a target-only trigger fires on the application's writes), and enabled state. */
export function compareTriggers(source: readonly TableTrigger[], target: readonly TableTrigger[]): SchemaDifference[] {
  const out = compareObjects(source, target, {
    what: 'trigger',
    extraSeverity: 'error',
    fixMissing: createTrigger,
    fixExtra: dropTrigger,
    fixDifferent: (s, t) => `${dropTrigger(t)}; ${createTrigger(s)}`,
  });
  const targetByKey = new Map(target.map((t) => [t.key, t]));
  for (const s of source) {
    const t = targetByKey.get(s.key);
    if (!t || t.definition !== s.definition || t.enabled === s.enabled) continue;
    out.push(
      difference({
        objectType: 'trigger',
        object: s.name,
        kind: 'different',
        code: 'trigger-enabled',
        severity: 'error',
        source: state(s).words,
        target: state(t).words,
        message: `trigger ${s.name} is ${state(s).words} on the source but ${state(t).words} on the target`,
        fix: setState(t, s),
      }),
    );
  }
  return out;
}
