/**
 * The table selection of the constructs' public API: the same shape as the runtime's (contract/table-selection.ts,
 * where the names and the rules are documented and checked), with plain arrays so that jsii can describe it.
 */

/**
 * One rule of a table selection. Names follow DMS selection rules: `%` matches any run of characters (including
 * none); every other character, `_` included, is literal; names are case-sensitive, as stored in the catalog.
 */
export interface TableRule {
  /** Schema name or pattern, e.g. `public`, `sales_%`, `%`. */
  readonly schema: string;
  /** Table name or pattern. @default '%' (every table in the schema) */
  readonly table?: string;
}

/** The tables to migrate: drives the DMS table mappings, preflight and validation alike. */
export interface TableSelection {
  /** Tables to migrate and check. At least one rule. */
  readonly include: TableRule[];
  /** Tables to leave out, applied after `include`. @default - none */
  readonly exclude?: TableRule[];
}
