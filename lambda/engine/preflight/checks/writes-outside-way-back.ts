import { guardedBreak } from '../../cutover/way-back-guard';
import { finding } from '../context';
import type { PreflightCheck } from '../types';

/**
 * A fallback makes the old source the application's database again, with what the way back brought it. A write made
 * there outside the reverse replication while the application was on Aurora (recorded by the way back's guard, see
 * cutover/way-back-guard.ts) is not on Aurora: after the fallback the two would differ, and the fallback's proof could
 * not say which one is right. Found on the target of the check: the fallback's target is the old source. Nothing to
 * find in a cutover (its target has no guard).
 */
export const writesOutsideWayBack: PreflightCheck = {
  code: 'writes-outside-way-back',
  side: 'target',
  scope: 'server',
  severity: 'error',
  description:
    'No write reached a selected table of the old source outside the reverse replication while the application was on Aurora.',
  fix:
    'Find who wrote (the writer is named) and stop them; carry each write to Aurora by hand (or undo it on the old ' +
    "source), then clear the guard's record: DELETE FROM zdm_cutover.way_back_writes; and run the fallback again.",
  async run(ctx) {
    const broken = await guardedBreak(ctx.db);
    return broken ? [finding(writesOutsideWayBack, 'old source', broken)] : [];
  },
};
