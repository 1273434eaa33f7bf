/**
 * The cutover's only dependency on the validation engine, isolated so it can be rewired in one place.
 */
export { aggregateResults, planRanges, recheck, validateRanges } from '../validation';
export { compareSequences, syncSequences } from '../sequences';
export { preflight } from '../preflight';
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
