import { withClient } from './pools';
import type { StepContext } from './step-context';
import { forgetFreezeRecord, restoreRoleSql } from './freeze-record';

export { restoreRoleSql };

/**
 * Restores every role of the saved freeze exactly as saved (login, connection limit) and marks the freeze restored.
 * Idempotent: a restored freeze is left alone. Returns the roles restored now.
 */
export async function restoreSavedRoles(ctx: StepContext): Promise<string[]> {
  const freeze = (await ctx.deps.state.get(ctx.key))?.freeze;
  if (!freeze || freeze.restoredAt) return [];
  const restored: string[] = [];
  await withClient(ctx, 'source', async (client) => {
    for (const role of freeze.roles) {
      await client.query(restoreRoleSql(role));
      restored.push(role.role);
    }
    // Given back: the server-side record of the freeze goes (after the restore: a crash in between restores again).
    await forgetFreezeRecord(client, restored);
  });
  await ctx.deps.state.markFreezeRestored(ctx.key, ctx.iso());
  return restored;
}
