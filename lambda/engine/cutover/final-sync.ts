import { randomUUID } from 'node:crypto';
import { getRecord, runPhase } from './phase-records';
import { sleep } from '../helpers';
import { withClient } from './pools';
import type { StepContext } from './step-context';
import { CutoverError, ERRORS } from '../../../contract';
import { markerArrived, markerTableExists, writeMarker } from './marker';

/** Poll interval on the target while writes are frozen: tight, the freeze is what the users feel. */
export const FINAL_SYNC_POLL_MS = 10;

/**
 * Proves the target has every write made before the freeze: writes a marker row on the source (after the
 * freeze; the token is stored first so a resumed run waits for the same row) and waits for it on the target.
 * Replication applies changes in commit order, so once the marker is there, everything before it is too.
 */
export async function finalSync(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'finalSync', async () => {
    if (ctx.input.mode === 'dry-run') {
      const exists = await withClient(ctx, 'source', markerTableExists);
      return {
        result: { dryRun: true, markerTableOnSource: exists, timeoutSeconds: ctx.input.finalSyncTimeoutSeconds },
        line: `would write a marker row on the source and wait up to ${ctx.input.finalSyncTimeoutSeconds}s for it on the target; measured nothing.`,
      };
    }
    const record = await getRecord(ctx);
    if (!record.freeze || record.freeze.restoredAt) {
      throw new Error('final sync needs frozen writes: the freezeWrites phase has not frozen the source');
    }
    const token = await ctx.deps.state.setMarkerTokenIfAbsent(ctx.key, randomUUID());
    const marker = await withClient(ctx, 'source', (c) => writeMarker(c, ctx.input.migrationId, token));
    const started = Date.now();
    const deadline = started + ctx.input.finalSyncTimeoutSeconds * 1000;
    const arrived = await withClient(ctx, 'target', async (client) => {
      for (;;) {
        if (await markerArrived(client, ctx.input.migrationId, token)) return true;
        if (Date.now() >= deadline) return false;
        await sleep(FINAL_SYNC_POLL_MS);
      }
    });
    const waitedMs = Date.now() - started;
    if (!arrived) {
      throw new CutoverError(
        ERRORS.finalSyncTimeout,
        `the marker row written on the source at LSN ${marker.lsn} did not reach the target within ` +
          `${ctx.input.finalSyncTimeoutSeconds}s (${ctx.deps.replication.description}); the target may be missing writes`,
      );
    }
    return {
      result: { token, sourceLsn: marker.lsn, markerWrittenAt: marker.writtenAt, waitedMs },
      line: `target caught up with the frozen source (marker at LSN ${marker.lsn} arrived after ${waitedMs} ms).`,
    };
  });
}
