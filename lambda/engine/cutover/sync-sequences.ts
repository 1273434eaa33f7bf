import { runPhase } from './phase-records';
import { withPools } from './pools';
import type { StepContext } from './step-context';
import { CutoverError, ERRORS } from '../../../contract';
import { compareSequences, syncSequences as syncTargetSequences } from './validation-adapter';
import { listBounded } from '../helpers';

/** Inside the freeze, nothing may read a whole table. */
const IN_FREEZE = { skipUnindexedColumns: true } as const;

/**
 * Reads, before the freeze, what SyncSequences reads inside it (changes nothing; errors are SyncSequences' to
 * report). The catalog lookups and per-table reads of hundreds of sequences cost a fresh server session several
 * hundred ms the first time and a fraction of it once its caches hold them: paid here, outside the freeze.
 */
export async function warmSequenceReads(ctx: StepContext): Promise<void> {
  await withPools(ctx, ({ source, target }) => compareSequences(source, target, ctx.deps.tables, IN_FREEZE)).catch(
    () => undefined,
  );
}

/**
 * Sets every target sequence past the source's value, read now (after the final sync and the stop; earlier
 * reads go stale). Dry run: compares only. Fails with ZdmValidationFailed when a sequence cannot be set.
 *
 * This runs inside the write freeze, so a column's max() is read only through a btree index that leads with it;
 * columns without one are named in the result (`columnsNotChecked`: their max() would read the whole table), except
 * those a unique index includes, which are read by a scan all the same and named (`columnsScanned`).
 */
export async function syncSequences(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'sequences', async () => {
    const execute = ctx.input.mode === 'execute';
    const report = await withPools(ctx, ({ source, target }) =>
      execute
        ? syncTargetSequences(source, target, ctx.deps.tables, IN_FREEZE)
        : compareSequences(source, target, ctx.deps.tables, IN_FREEZE),
    );
    const count = (status: string): number => report.sequences.filter((s) => s.status === status).length;
    const problems = report.sequences
      .filter((s) => s.status !== 'ok')
      .slice(0, 10)
      .map((s) => ({
        sequence: s.sequence,
        status: s.status,
        sourceNext: s.sourceNext,
        targetNext: s.targetNext,
        ...(s.error ? { error: s.error } : {}),
      }));
    const notChecked = report.sequences.flatMap((s) => s.columnsNotChecked ?? []);
    const scanned = report.sequences.flatMap((s) => s.columnsScanned ?? []);
    const result = {
      ...(execute ? {} : { dryRun: true }),
      ok: report.ok,
      sequences: report.sequences.length,
      set: report.sequences.filter((s) => s.action === 'set').length,
      behind: count('behind'),
      missing: count('missing'),
      errors: count('error'),
      problems,
      ...(notChecked.length
        ? { columnsNotChecked: notChecked.length, columnsNotCheckedSample: notChecked.slice(0, 10) }
        : {}),
      ...(scanned.length ? { columnsScanned: scanned.length, columnsScannedSample: scanned.slice(0, 10) } : {}),
    };
    const unchecked = notChecked.length
      ? ` ${notChecked.length} column(s) without an index were not read for their maximum (${listBounded(notChecked, 3)}).`
      : '';
    if (execute && !report.ok) {
      throw new CutoverError(
        ERRORS.validationFailed,
        `sequences: ${problems.length} sequence(s) could not be set past the source: ${JSON.stringify(problems.slice(0, 3))}`,
      );
    }
    return {
      result,
      line: execute
        ? `${result.set} of ${result.sequences} target sequence(s) moved past the source.${unchecked}`
        : `${result.sequences} sequence(s) compared; ${result.behind} behind and ${result.missing} missing on the target (would be set); changed nothing.${unchecked}`,
    };
  });
}
