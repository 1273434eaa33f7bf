/**
 * One table selection drives the DMS table mappings, preflight and validation, so they never disagree.
 *
 * Names follow DMS selection rules: `%` matches any run of characters (including none); every other
 * character, `_` included, is literal. Names are compared exactly as stored in the catalog (case-sensitive).
 */
export interface TableRule {
  /** Schema name or pattern, e.g. `public`, `sales_%`, `%`. */
  readonly schema: string;
  /** Table name or pattern. @default '%' (every table in the schema) */
  readonly table?: string;
}

export interface TableSelection {
  /** Tables to migrate and check. At least one rule. */
  readonly include: readonly TableRule[];
  /** Tables to leave out, applied after `include`. @default - none */
  readonly exclude?: readonly TableRule[];
}

export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** The schema the cutover workflow owns on the source; its marker table is always replicated. */
export const ZDM_SCHEMA = 'zdm_cutover';
export const MARKER_TABLE = 'cutover_marker';
/**
 * Where the freeze records what it saved, on the frozen server itself. It belongs to that server: never selected,
 * so a `%` schema rule does not copy the source's record to the target (nor the reverse task the target's back).
 */
export const FREEZE_RECORD_TABLE = 'frozen_roles';
/**
 * Where the way back's guard records writes made on the old source outside the reverse replication while the way back
 * is open. It belongs to that server too: never selected.
 */
export const WAY_BACK_WRITES_TABLE = 'way_back_writes';
/** The workflow's tables that belong to the server they are on: never selected, never replicated. */
export const SERVER_LOCAL_TABLES: readonly string[] = [FREEZE_RECORD_TABLE, WAY_BACK_WRITES_TABLE];

/**
 * Tables DMS itself creates in a PostgreSQL endpoint's database, never user data, so never selected (DMS table
 * mappings, preflight, validation, schema diff). The DMS API reference (PostgreSQLSettings): `HeartbeatSchema` "Sets
 * the schema in which the heartbeat artifacts are created. The default value is public." and `DdlArtifactsSchema`
 * likewise defaults to `public`. With heartbeats on (this library's default, on the forward source and on Aurora for
 * the way back) `awsdms_heartbeat` lands in `public`, inside a `public` selection: a source-only table in the schema
 * diff, and rows the reverse task would carry back. Excluded by name in every schema, whatever `heartbeatSchema` is.
 */
export const DMS_ARTIFACT_TABLES: readonly string[] = ['awsdms_heartbeat', 'awsdms_ddl_audit'];

/** Schemas that are never user data. */
export const SYSTEM_SCHEMAS: readonly string[] = ['pg_catalog', 'information_schema', 'pg_toast'];

export function formatTableName(name: TableName): string {
  const part = (s: string): string => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(name.schema)}.${part(name.table)}`;
}

/** Throws an error naming the bad rule when a selection cannot be used. */
export function assertValidSelection(selection: TableSelection): void {
  if (!selection || !Array.isArray(selection.include) || selection.include.length === 0) {
    throw new Error('table selection: "include" must list at least one { schema, table } rule');
  }
  const check = (rule: TableRule, where: string, index: number): void => {
    for (const [field, value] of [
      ['schema', rule?.schema],
      ['table', rule?.table ?? '%'],
    ] as const) {
      if (typeof value !== 'string' || value.length === 0 || value.length > 63 || value.includes('\0')) {
        throw new Error(
          `table selection: ${where}[${index}].${field} must be a non-empty name of at most 63 characters, got ${JSON.stringify(value)}`,
        );
      }
    }
  };
  selection.include.forEach((r, i) => check(r, 'include', i));
  (selection.exclude ?? []).forEach((r, i) => check(r, 'exclude', i));
}

function patternToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .split('%')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`, 's');
}

function ruleMatches(rule: TableRule, name: TableName): boolean {
  return patternToRegExp(rule.schema).test(name.schema) && patternToRegExp(rule.table ?? '%').test(name.table);
}

/** Whether a table is in the selection (system schemas never are). */
export function isSelected(selection: TableSelection, name: TableName): boolean {
  if (SYSTEM_SCHEMAS.includes(name.schema) || name.schema.startsWith('pg_temp')) return false;
  if (DMS_ARTIFACT_TABLES.includes(name.table)) return false;
  if (name.schema === ZDM_SCHEMA && SERVER_LOCAL_TABLES.includes(name.table)) return false;
  if (!selection.include.some((rule) => ruleMatches(rule, name))) return false;
  return !(selection.exclude ?? []).some((rule) => ruleMatches(rule, name));
}

/** Filters catalog table names through the selection, in a stable order. */
export function selectTables(selection: TableSelection, tables: readonly TableName[]): TableName[] {
  return tables
    .filter((t) => isSelected(selection, t))
    .sort((a, b) => (a.schema === b.schema ? cmp(a.table, b.table) : cmp(a.schema, b.schema)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The selection plus the workflow's own marker table, which must always replicate. */
export function withMarkerTable(selection: TableSelection): TableSelection {
  const marker = { schema: ZDM_SCHEMA, table: MARKER_TABLE };
  const included = selection.include.some((r) => r.schema === marker.schema && (r.table ?? '%') === marker.table);
  return {
    include: included ? selection.include : [...selection.include, marker],
    exclude: (selection.exclude ?? []).filter((r) => !ruleMatches(r, marker)),
  };
}

/** DMS table-mapping document (selection rules) for the selection, marker table included. */
export function toDmsTableMappings(selection: TableSelection): { rules: Record<string, unknown>[] } {
  assertValidSelection(selection);
  const full = withMarkerTable(selection);
  const rules: Record<string, unknown>[] = [];
  const add = (rule: TableRule, action: 'include' | 'exclude'): void => {
    const id = String(rules.length + 1);
    rules.push({
      'rule-type': 'selection',
      'rule-id': id,
      'rule-name': `${action}-${id}`,
      'object-locator': { 'schema-name': rule.schema, 'table-name': rule.table ?? '%' },
      'rule-action': action,
    });
  };
  full.include.forEach((r) => add(r, 'include'));
  (full.exclude ?? []).forEach((r) => add(r, 'exclude'));
  DMS_ARTIFACT_TABLES.forEach((table) => add({ schema: '%', table }, 'exclude'));
  SERVER_LOCAL_TABLES.forEach((table) => add({ schema: ZDM_SCHEMA, table }, 'exclude'));
  return { rules };
}

/** Parses `schema.table` / `schema` / `"Quoted.Schema"."Tab"` command-line arguments into a rule. */
export function parseTableRule(text: string): TableRule {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let j = i + 1;
      let part = '';
      while (j < text.length) {
        if (text[j] === '"' && text[j + 1] === '"') {
          part += '"';
          j += 2;
        } else if (text[j] === '"') break;
        else part += text[j++];
      }
      if (j >= text.length) throw new Error(`table rule ${JSON.stringify(text)}: unterminated quote`);
      parts.push(part);
      i = j + 1;
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      parts.push(text.slice(i, end));
      i = end;
    }
    if (i < text.length) {
      if (text[i] !== '.') throw new Error(`table rule ${JSON.stringify(text)}: expected "." after a quoted name`);
      i++;
      if (i === text.length) throw new Error(`table rule ${JSON.stringify(text)}: empty table name`);
    }
  }
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => p.length === 0)) {
    throw new Error(`table rule ${JSON.stringify(text)}: expected "schema" or "schema.table"`);
  }
  return parts.length === 1 ? { schema: parts[0] } : { schema: parts[0], table: parts[1] };
}
