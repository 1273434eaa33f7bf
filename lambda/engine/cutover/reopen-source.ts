import { runPhase } from './phase-records';
import type { StepContext } from './step-context';
import { forgetFreezeRecord, restoreRoleSql } from './freeze-record';
import type { CutoverDeps } from './deps';
import { sharedPool } from './connections';
import { guardedBreak, removeWayBackGuard } from './way-back-guard';
import { CutoverError, ERRORS } from '../../../contract';

/**
 * Inside the fallback's freeze, before its switch: the way back's guard is checked one last time and removed, then
 * the old source's application roles get back exactly what the
 * cutover saved before freezing them (from the cutover's record), so the application can write there again.
 * Runs with the forward dependencies (the old source is their `source`).
 */
export async function reopenSource(ctx: StepContext, forward: CutoverDeps): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'reopenSource', async () => {
    const freeze = (await ctx.deps.state.get(ctx.input.migrationId))?.freeze;
    if (!freeze || freeze.restoredAt) {
      const line = freeze
        ? `the source's roles were restored at ${freeze.restoredAt}.`
        : `migration ${ctx.input.migrationId} froze no role on the source.`;
      return { result: { reopened: [], reason: line }, line, status: 'skipped' };
    }
    const roles = freeze.roles.map((r) => r.role);
    if (ctx.input.mode !== 'execute') {
      return { result: { dryRun: true, wouldReopen: roles }, line: `would restore ${roles.join(', ')} on the source.` };
    }
    const pool = await sharedPool(forward, 'source');
    // The last look at the way back's guard before the application writes there again (its writes would be recorded
    // as outside the way back): a write since the fallback's preflight fails the fallback here, before its switch.
    const broken = await guardedBreak(pool);
    if (broken) throw new CutoverError(ERRORS.lateWrites, broken);
    await removeWayBackGuard(pool);
    for (const role of freeze.roles) await pool.query(restoreRoleSql(role));
    await forgetFreezeRecord(pool, roles);
    await ctx.deps.state.markFreezeRestored(ctx.input.migrationId, ctx.iso());
    return {
      result: { reopened: roles },
      line: `${roles.join(', ')} have their original login settings on the source again (saved at ${freeze.frozenAt}).`,
    };
  });
}
