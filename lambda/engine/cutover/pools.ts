/** Database access of the cutover steps: the shared pools (connections.ts) of a step's context. */
import type { Pool, PoolClient } from 'pg';
import type { DatabaseSide } from '../../../contract';
import { withPooledClient } from '../pg/connection';
import { sharedPool, sharedPools } from './connections';
import type { StepContext } from './step-context';

/**
 * Runs `fn` with a pool per side (pinned session settings). The pools are shared across steps and kept open
 * (see connections.ts): `fn` must not end them.
 */
export async function withPools<T>(
  ctx: StepContext,
  fn: (pools: { source: Pool; target: Pool }) => Promise<T>,
): Promise<T> {
  return fn(await sharedPools(ctx.deps));
}

/**
 * Runs `fn` with one pooled connection of a side. The connection goes back to the pool when `fn` succeeds and
 * is destroyed when it fails (whatever session state the failure left behind goes with it).
 */
export async function withClient<T>(
  ctx: StepContext,
  side: DatabaseSide,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  return withPooledClient(await sharedPool(ctx.deps, side), fn);
}
