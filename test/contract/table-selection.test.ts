import {
  assertValidSelection,
  isSelected,
  parseTableRule,
  selectTables,
  toDmsTableMappings,
  withMarkerTable,
  ZDM_SCHEMA,
  MARKER_TABLE,
} from '../../contract';

describe('table selection', () => {
  const selection = {
    include: [{ schema: 'public' }, { schema: 'sales', table: 'order%' }],
    exclude: [{ schema: 'public', table: 'tmp_%' }],
  };

  it('matches DMS-style % wildcards and treats _ literally', () => {
    expect(isSelected(selection, { schema: 'public', table: 'users' })).toBe(true);
    expect(isSelected(selection, { schema: 'public', table: 'tmp_x' })).toBe(false);
    expect(isSelected(selection, { schema: 'public', table: 'tmpAx' })).toBe(true);
    expect(isSelected(selection, { schema: 'sales', table: 'orders' })).toBe(true);
    expect(isSelected(selection, { schema: 'sales', table: 'refunds' })).toBe(false);
    expect(isSelected({ include: [{ schema: '%' }] }, { schema: 'pg_catalog', table: 'pg_class' })).toBe(false);
  });

  it('is case-sensitive, as catalog names are', () => {
    expect(isSelected({ include: [{ schema: 'Public' }] }, { schema: 'public', table: 'a' })).toBe(false);
  });

  it('sorts selected tables by schema then name', () => {
    const out = selectTables(selection, [
      { schema: 'sales', table: 'orders' },
      { schema: 'public', table: 'b' },
      { schema: 'public', table: 'a' },
    ]);
    expect(out.map((t) => `${t.schema}.${t.table}`)).toEqual(['public.a', 'public.b', 'sales.orders']);
  });

  it('always includes the marker table, even past an exclude that would match it', () => {
    const full = withMarkerTable({ include: [{ schema: 'public' }], exclude: [{ schema: '%', table: 'cutover%' }] });
    expect(isSelected(full, { schema: ZDM_SCHEMA, table: MARKER_TABLE })).toBe(true);
  });

  it('produces DMS selection rules, includes before excludes', () => {
    const { rules } = toDmsTableMappings(selection);
    expect(rules.map((r) => r['rule-action'])).toEqual([
      'include',
      'include',
      'include',
      'exclude', // the selection's own
      'exclude', // DMS's heartbeat
      'exclude', // DMS's DDL audit table
      'exclude', // the freeze record
      'exclude', // the way back's guard record
    ]);
    expect(rules[1]).toEqual({
      'rule-type': 'selection',
      'rule-id': '2',
      'rule-name': 'include-2',
      'object-locator': { 'schema-name': 'sales', 'table-name': 'order%' },
      'rule-action': 'include',
    });
    expect(rules[2]['object-locator']).toEqual({ 'schema-name': ZDM_SCHEMA, 'table-name': MARKER_TABLE });
  });

  it("never selects DMS's own tables: the heartbeat (created in public by default) and the DDL audit table", () => {
    const all = { include: [{ schema: '%' }] };
    expect(isSelected(all, { schema: 'public', table: 'awsdms_heartbeat' })).toBe(false);
    expect(isSelected(all, { schema: 'zdm_cutover', table: 'awsdms_heartbeat' })).toBe(false);
    expect(isSelected(all, { schema: 'public', table: 'awsdms_ddl_audit' })).toBe(false);
    expect(isSelected(all, { schema: 'public', table: 'awsdms_heartbeats' })).toBe(true);
    const excluded = toDmsTableMappings(all)
      .rules.filter((r) => r['rule-action'] === 'exclude')
      .map((r) => r['object-locator']);
    expect(excluded).toEqual([
      { 'schema-name': '%', 'table-name': 'awsdms_heartbeat' },
      { 'schema-name': '%', 'table-name': 'awsdms_ddl_audit' },
      { 'schema-name': ZDM_SCHEMA, 'table-name': 'frozen_roles' },
      { 'schema-name': ZDM_SCHEMA, 'table-name': 'way_back_writes' },
    ]);
  });

  it("never selects the freeze record nor the guard's: each belongs to its server (a '%' schema would copy it across)", () => {
    const all = { include: [{ schema: '%' }] };
    expect(isSelected(all, { schema: ZDM_SCHEMA, table: 'frozen_roles' })).toBe(false);
    expect(isSelected(all, { schema: ZDM_SCHEMA, table: 'way_back_writes' })).toBe(false);
    expect(isSelected({ include: [{ schema: ZDM_SCHEMA }] }, { schema: ZDM_SCHEMA, table: 'frozen_roles' })).toBe(
      false,
    );
    expect(isSelected(all, { schema: ZDM_SCHEMA, table: MARKER_TABLE })).toBe(true);
    expect(isSelected(all, { schema: 'public', table: 'frozen_roles' })).toBe(true);
  });

  it('fails when include is empty', () => {
    expect(() => assertValidSelection({ include: [] })).toThrow(/"include" must list at least one/);
  });

  it('fails when a name is empty, naming the rule', () => {
    expect(() => assertValidSelection({ include: [{ schema: 'public', table: '' }] })).toThrow(
      /include\[0\]\.table .* got ""/,
    );
  });

  it('parses command-line rules, quoted names included', () => {
    expect(parseTableRule('public.users')).toEqual({ schema: 'public', table: 'users' });
    expect(parseTableRule('sales')).toEqual({ schema: 'sales' });
    expect(parseTableRule('"My.Schema"."x""y"')).toEqual({ schema: 'My.Schema', table: 'x"y' });
    expect(() => parseTableRule('a.b.c')).toThrow(/expected "schema" or "schema.table"/);
    expect(() => parseTableRule('"open')).toThrow(/unterminated quote/);
  });
});
