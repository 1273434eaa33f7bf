import { quoteIdent } from '../pg/identifiers';
import type { SavedRoleSettings } from '../ports';
import { withClient } from './pools';
import type { StepContext } from './step-context';

/** The statement that gives a frozen role its saved login settings back. */
export function restoreRoleSql(role: SavedRoleSettings): string {
  return `ALTER ROLE ${quoteIdent(role.role)} WITH ${role.canLogin ? 'LOGIN' : 'NOLOGIN'} CONNECTION LIMIT ${Math.trunc(role.connectionLimit)}`;
}

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
  });
  await ctx.deps.state.markFreezeRestored(ctx.key, ctx.iso());
  return restored;
}
