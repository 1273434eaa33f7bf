/**
 * Public API of the validation engine, shared by the Lambda handlers and the `zdm` CLI. Preflight, sequences and the
 * schema diff have their own folders (../preflight, ../sequences, ../schema); their report types are declared here
 * (./types).
 *
 * Every function takes `pg.Pool`s made by `createPool` (session settings pinned), the one `TableSelection`,
 * and an options object, and returns plain JSON-serializable data.
 *
 * ```ts
 * preflight(source: Pool, selection: TableSelection, options?: PreflightOptions): Promise<PreflightReport>
 * countRows(source: Pool, target: Pool, selection: TableSelection, options?: CountsOptions): Promise<CountsReport>
 * validate(source: Pool, target: Pool, selection: TableSelection, options?: ValidateOptions): Promise<ValidationReport>
 * planRanges(source: Pool, target: Pool, selection: TableSelection, options?: ChecksumOptions): Promise<ValidationPlan>
 * validateRanges(source: Pool, target: Pool, tasks: RangeTask[], options?: ChecksumOptions): Promise<RangeResult[]>
 * aggregateResults(plan: ValidationPlan, results: RangeResult[], options?: ChecksumOptions): ValidationReport
 * recheck(source: Pool, target: Pool, report: ValidationReport, options?: RecheckOptions): Promise<ValidationReport>
 * compareSequences(source: Pool, target: Pool, selection: TableSelection, options?: SequenceOptions): Promise<SequenceReport>
 * syncSequences(source: Pool, target: Pool, selection: TableSelection, options?: SequenceOptions): Promise<SequenceReport>
 * diffSchema(source: Pool, target: Pool, selection: TableSelection): Promise<SchemaReport>
 * ```
 *
 * Step Functions fan-out: `planRanges` → Map over `plan.tasks` (chunks) with `validateRanges` → `aggregateResults`
 * (optionally → `recheck`). `validate` does the same in one process.
 */
export * from './types';
export { countRows } from './counts';
export { planRanges } from './key-ranges';
export { validateRanges } from './range-checksum';
export { aggregateResults, validate } from './validate';
export { recheck } from './recheck';
