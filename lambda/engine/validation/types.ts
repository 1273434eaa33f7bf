/**
 * Public, JSON-serializable shapes of the validation engine (preflight, counts, checksums, sequences, schema).
 * Everything here crosses process boundaries (Lambda payloads, Step Functions Map items, `zdm --json`).
 */
import type { TableName } from '../../../contract';

export type Severity = 'error' | 'warning';

/** A value of a key column as text (its PostgreSQL text form), or a number for integer keys that fit a double. */
export type KeyValue = string | number;

/** Options shared by every check that talks to both databases. */
export interface EngineOptions {
  /** Queries in flight per database at once. @default 2 (set it to the pool size) */
  readonly concurrency?: number;
  /** Called with progress as work completes. Never called with rows. */
  readonly onProgress?: (progress: Progress) => void;
}

export interface Progress {
  /** `differences`: key ranges of the tables whose block totals differed, bisected down to rows. */
  readonly phase: 'plan' | 'counts' | 'checksums' | 'differences' | 'recheck';
  readonly done: number;
  readonly total: number;
  /** Rows covered so far (checksums only; estimated). */
  readonly rowsDone?: number;
  readonly rowsTotal?: number;
  readonly table?: string;
}

// ---------------------------------------------------------------------------------------------- preflight

export interface PreflightOptions {
  /** Accept tables without a primary key when they have REPLICA IDENTITY FULL (DMS can then replicate them, slowly). @default false */
  readonly allowReplicaIdentityFull?: boolean;
  /** A transaction open longer than this is reported. @default 300 */
  readonly longTransactionSeconds?: number;
  /** A replication slot retaining more WAL than this is reported. @default 1 GiB */
  readonly slotRetainedWalBytes?: number;
}

export interface PreflightFinding {
  readonly severity: Severity;
  /** Stable machine-readable id, e.g. `wal-level`, `no-primary-key`, `unsupported-type`. */
  readonly code: string;
  /** What it is about: a setting name, `schema.table`, `schema.table.column`, a slot name, a pid. */
  readonly object: string;
  readonly message: string;
  /** What to do about it. */
  readonly action: string;
}

export interface PreflightReport {
  /** True when there is no finding of severity `error`. */
  readonly ok: boolean;
  readonly serverVersion: string;
  readonly tablesChecked: number;
  readonly findings: PreflightFinding[];
}

// ---------------------------------------------------------------------------------------------- counts

export interface CountsOptions extends EngineOptions {
  /** Exact `count(*)` (default) or the planner's estimate (`reltuples`, instant, approximate). @default 'exact' */
  readonly method?: 'exact' | 'estimate';
}

export interface TableCount {
  /** Display name `schema.table` (parts quoted when they need it). */
  readonly table: string;
  readonly name: TableName;
  readonly sourceRows: number | null;
  readonly targetRows: number | null;
  readonly status: TableStatus;
  readonly error?: string;
}

export interface CountsReport {
  readonly ok: boolean;
  readonly method: 'exact' | 'estimate';
  readonly tables: TableCount[];
  readonly durationMs: number;
}

// ---------------------------------------------------------------------------------------------- checksums

export type TableStatus = 'match' | 'mismatch' | 'error';
export type DifferenceKind = 'missing' | 'extra' | 'changed';

export interface RowDifference {
  /** Primary-key column → value. */
  readonly key: Record<string, KeyValue>;
  /** `missing`: on the source, not on the target; `extra`: on the target only; `changed`: on both, different. */
  readonly kind: DifferenceKind;
  /** Set by `recheck`: still different after the delay (`confirmed`) or now equal (`converged`). */
  readonly recheck?: 'confirmed' | 'converged';
}

/** A column of a table, e.g. one left out of the comparison (`zdm validate --exclude-column`). */
export interface ColumnRef {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
}

/** The rows of one table to compare: a SQL condition (`zdm validate --where`). */
export interface RowFilter {
  readonly schema: string;
  readonly table: string;
  readonly predicate: string;
}

export interface ChecksumOptions extends EngineOptions {
  /** Columns left out of the row hashes (never a key column). @default - none */
  readonly excludeColumns?: readonly ColumnRef[];
  /**
   * Per table, a SQL condition over its columns (alias `t`): only the rows it selects are compared, on both sides.
   * It is run as given: the caller checks it (`zdm validate --where` is the operator's SQL on their own databases).
   * @default - every row
   */
  readonly rowFilters?: readonly RowFilter[];
  /** Rows per planned range. @default 200_000 */
  readonly rangeRows?: number;
  /** A differing range with at most this many rows (on either side) is compared row by row. @default 2_000 */
  readonly leafRows?: number;
  /** Differences listed per table (the total is always counted up to this cap, see `differencesTruncated`). @default 1000 */
  readonly maxDifferences?: number;
  /**
   * Compare numeric and interval values exactly as stored (`1.10` ≠ `1.1`, `1 day` ≠ `24 hours`), as DMS copies them.
   * Set false to compare them as PostgreSQL's `=` does. Floats always compare by value (`-0` = `0`, NaN = NaN).
   * @default true
   */
  readonly exactNumeric?: boolean;
  /** Force a hash method (`text` is what a PostgreSQL 12/13 side gets). @default - `record` when both sides have hash_record_extended */
  readonly hashMethod?: HashMethod;
}

/**
 * One unit of checksum work: the rows of `table` whose key is `> lower` and `<= upper` (a missing bound is open).
 * Bounds are full key tuples (text forms, one per key column). JSON-serializable: a Step Functions Map item.
 */
export interface RangeTask {
  readonly id: string;
  readonly table: TableName;
  readonly keyColumns: string[];
  readonly lower?: string[];
  readonly upper?: string[];
  /** Planner's estimate of rows in the range. */
  readonly estimatedRows?: number;
}

export interface TablePlan {
  readonly table: string;
  readonly name: TableName;
  readonly keyColumns: string[];
  readonly ranges: number;
  readonly estimatedRows: number;
  /** Set when the table cannot be checksummed (missing on target, no key, columns differ). */
  readonly error?: string;
}

export interface ValidationPlan {
  readonly tables: TablePlan[];
  readonly tasks: RangeTask[];
  readonly options: { readonly exactNumeric: boolean; readonly hashMethod: HashMethod };
}

/** `record`: hash_record_extended per row (PostgreSQL 14+ on both sides); `text`: hashtextextended of the row's text form. */
export type HashMethod = 'record' | 'text';

export interface RangeResult {
  readonly taskId: string;
  readonly table: string;
  readonly name: TableName;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly match: boolean;
  readonly differences: RowDifference[];
  /** Differences found (may exceed `differences.length` when capped). */
  readonly differenceCount: number;
  /** Differing sub-ranges not resolved to rows because the cap was reached; the count is then a lower bound. */
  readonly unresolvedRanges: number;
  readonly rangesChecked: number;
  readonly durationMs: number;
  readonly error?: string;
}

export interface TableValidation {
  readonly table: string;
  readonly name: TableName;
  readonly sourceRows: number | null;
  readonly targetRows: number | null;
  readonly status: TableStatus;
  readonly differences: RowDifference[];
  readonly differenceCount: number;
  readonly differencesTruncated: boolean;
  /** True when some differing ranges were not bisected (cap reached): `differenceCount` is then at least this. */
  readonly differenceCountIsLowerBound: boolean;
  /** Checksum queries per side: block ranges (first pass) plus key ranges (where the blocks' totals differed). */
  readonly rangesChecked: number;
  /** Block ranges read in the first pass (the side that needed more); absent when the table was read by keys only. */
  readonly blockRangesChecked?: number;
  readonly confirmed?: number;
  readonly converged?: number;
  readonly durationMs: number;
  readonly error?: string;
}

export interface ValidationReport {
  readonly ok: boolean;
  readonly mode: 'quick' | 'full';
  readonly tables: TableValidation[];
  readonly summary: {
    readonly tables: number;
    readonly matched: number;
    readonly mismatched: number;
    readonly errors: number;
    readonly differences: number;
    readonly sourceRows: number;
    readonly targetRows: number;
  };
  readonly hashMethod?: HashMethod;
  readonly durationMs: number;
}

export interface ValidateOptions extends ChecksumOptions {
  /** `quick`: exact row counts; `full`: counts and checksums of every row, bisected to the differing rows. @default 'full' */
  readonly mode?: 'quick' | 'full';
  /**
   * `full` reads each table first in block ranges (sequential reads, PostgreSQL 14+ on both sides) and compares
   * the table's totals; only a table whose totals differ is read again by key ranges to find the rows. Set false to
   * read every table by key ranges only.
   * @default true
   */
  readonly blockScan?: boolean;
}

export interface RecheckOptions extends EngineOptions {
  /** Must match the options the report was made with. */
  readonly excludeColumns?: readonly ColumnRef[];
  readonly rowFilters?: readonly RowFilter[];
  /** Wait this long before re-reading the rows. @default 0 */
  readonly delayMs?: number;
  /** Must match the options the report was made with. */
  readonly exactNumeric?: boolean;
  readonly hashMethod?: HashMethod;
}

// ---------------------------------------------------------------------------------------------- sequences

export interface SequenceOptions {
  /** Extra headroom added past the highest value seen. @default 0 */
  readonly margin?: number;
  /**
   * Leave out of `targetColumnMax` the columns that no btree index leads with (named in `columnsNotChecked`): their
   * max() reads the whole table. The cutover sets this inside the write freeze. A column that a unique index
   * includes is read all the same (named in `columnsScanned`): a value handed out again would fail an insert.
   * @default false
   */
  readonly skipUnindexedColumns?: boolean;
}

export interface SequenceResult {
  /** `schema.sequence` */
  readonly sequence: string;
  /** `schema.table.column` the sequence is owned by (serial / identity / `OWNED BY`), if any. */
  readonly ownedBy?: string;
  /**
   * Every `schema.table.column` that draws from the sequence (its owner, identity columns, and columns whose default
   * calls `nextval` on it, owned or not). The target sequence is set past the highest value in each of them.
   */
  readonly usedBy?: string[];
  /** The value the next `nextval` returns on the source (null when the sequence is missing there). */
  readonly sourceNext: string | null;
  readonly targetNext: string | null;
  /** Highest (lowest for descending) value on the target over every column in `usedBy` (but `columnsNotChecked`). */
  readonly targetColumnMax: string | null;
  /**
   * Columns of `usedBy` whose maximum was not read (`skipUnindexedColumns`: no btree index leads with them, and no
   * unique index includes them, so a value handed out again cannot fail an insert).
   */
  readonly columnsNotChecked?: string[];
  /** With `skipUnindexedColumns`: columns read by a scan all the same, because a unique index includes them. */
  readonly columnsScanned?: string[];
  /**
   * `ok`: the target will not hand out a used value; `behind`: it would; `missing`: no such sequence on target;
   * `error`: it could not be read or set, or a selected table draws from a sequence the selection cannot cover.
   */
  readonly status: 'ok' | 'behind' | 'missing' | 'error';
  /** What `syncSequences` did: `set` (moved forward to `targetNext`) or `unchanged`. */
  readonly action?: 'set' | 'unchanged';
  readonly error?: string;
}

export interface SequenceReport {
  readonly ok: boolean;
  readonly synced: boolean;
  readonly sequences: SequenceResult[];
}

// ---------------------------------------------------------------------------------------------- schema

/** What a schema difference is about. */
export type SchemaObjectType =
  | 'table'
  | 'column'
  | 'column-default'
  | 'generated-column'
  | 'primary-key'
  | 'unique'
  | 'foreign-key'
  | 'check'
  | 'exclusion'
  | 'index'
  | 'trigger'
  | 'partition'
  | 'view'
  | 'materialized-view'
  | 'function'
  | 'procedure'
  | 'aggregate'
  | 'domain'
  | 'domain-constraint'
  | 'enum'
  | 'extension'
  | 'sequence';

/** `missing`: on the source, not on the target; `extra`: on the target only; `different`: on both, not the same. */
export type SchemaDifferenceKind = 'missing' | 'different' | 'extra';

/**
 * Stable machine-readable id of a difference: `<objectType>-<kind>` (`check-missing`, `view-different`, ...), or one of
 * the more specific ones: the target's materialized view holds no data, a trigger is enabled differently, a partition
 * exists as a table on the target but is not attached, enum labels are in another order, extension versions differ.
 */
export type SchemaDifferenceCode =
  | `${SchemaObjectType}-${SchemaDifferenceKind}`
  | 'materialized-view-unpopulated'
  | 'trigger-enabled'
  | 'partition-detached'
  | 'enum-label-order'
  | 'extension-version';

export interface SchemaDifference {
  readonly objectType: SchemaObjectType;
  /**
   * `schema.table`, `schema.table.column`, `schema.table: <constraint / index / trigger / partition>`,
   * `schema.name` (views, sequences, domains, enums), `schema.function(argument types)`, `schema.domain: <constraint>`,
   * or an extension name.
   */
  readonly object: string;
  readonly kind: SchemaDifferenceKind;
  readonly code: SchemaDifferenceCode;
  /** `error`: the target would behave differently (or the migration would fail); `warning`: worth a look. */
  readonly severity: Severity;
  /** The source's definition (bounded in length). */
  readonly source?: string;
  /** The target's definition (bounded in length). */
  readonly target?: string;
  /** One line, bounded in length. */
  readonly message: string;
  /**
   * What to run when that is clear: SQL for the target (every identifier quoted), unless the text says otherwise
   * (a `pg_dump` command, or a statement to run on the source first).
   */
  readonly fix?: string;
}

export interface SchemaReport {
  /** True when there is no difference of severity `error`. */
  readonly ok: boolean;
  readonly tablesChecked: number;
  /** The schemas compared (those of the selected tables, without the workflow's own and system schemas). */
  readonly schemas: string[];
  readonly errors: number;
  readonly warnings: number;
  readonly differences: SchemaDifference[];
}
