/**
 * The cutover's only dependency on the validation engine, isolated so it can be rewired in one place.
 */
export {
  aggregateResults,
  compareSequences,
  planRanges,
  preflight,
  recheck,
  syncSequences,
  validateRanges,
} from '../validation';
export type {
  HashMethod,
  PreflightReport,
  RowDifference,
  TableValidation,
  RangeResult,
  RangeTask,
  SequenceReport,
  ValidationPlan,
  ValidationReport,
} from '../validation';
