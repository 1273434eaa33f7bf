/**
 * Connections of the cutover steps, reused across steps: one pool per side per `CutoverDeps` (a Lambda
 * container keeps its deps for its lifetime, the rehearsal and tests keep theirs for an execution).
 *
 * Opening a password-authenticated connection costs tens of milliseconds (measured locally: 20–60 ms under
 * load, TLS adds more in AWS), and the steps inside the write freeze used to open ~20 of them. Reuse is safe
 * because the steps keep no session state on these connections (a failed `withClient` callback destroys its
 * connection instead of returning it), and:
 * - every checkout first pings the idle connections (`SELECT 1`, bounded): a connection that died while idle
 *   (server restart, idle timeout, a frozen Lambda's dropped socket) is destroyed and replaced, never fatal;
 * - idle connections close after `SHARED_POOL_IDLE_MS` and never keep the process alive (`allowExitOnIdle`);
 * - a changed connection spec (rotated secret) gets a new pool; the old one is ended;
 * - connection errors are raised through `createPool` (redacted); the step handler redacts every message again;
 * - every connection, pooled or checked out, has an 'error' listener for its whole life (see `createPool`): one lost
 *   while a step waits between two queries (57P01, `pg_terminate_backend`, a restart) fails that step with a
 *   `ConnectionLostError` (retried or rolled back by the state machine), never the process.
 */
import type { Pool } from 'pg';
import { checkIdleConnections, createPool, type ConnectionSpec } from '../pg/connection';
import type { CutoverDeps } from './deps';
import { existingFallbackDeps } from './directions';
import type { DatabaseSide } from '../../../contract';

/** Connections per side and process (Map items of one validation run concurrently in the local runner). */
export const SHARED_POOL_MAX = 4;
/** Idle connections are closed after this long. */
export const SHARED_POOL_IDLE_MS = 30_000;
/** A pooled connection that does not answer `SELECT 1` within this long is replaced. */
export const LIVENESS_TIMEOUT_MS = 2_000;

interface Entry {
  readonly key: string;
  readonly pool: Promise<Pool>;
}

const pools = new WeakMap<CutoverDeps, Map<DatabaseSide, Entry>>();

function specKey(spec: ConnectionSpec): string {
  return typeof spec === 'string' ? spec : JSON.stringify(spec);
}

/** The shared pool of one side (opened on first use, checked on every later use). */
export async function sharedPool(deps: CutoverDeps, side: DatabaseSide): Promise<Pool> {
  const spec = await (side === 'source' ? deps.source() : deps.target());
  const key = specKey(spec);
  let sides = pools.get(deps);
  if (!sides) {
    sides = new Map();
    pools.set(deps, sides);
  }
  const existing = sides.get(side);
  if (existing) {
    const pool = existing.key === key ? await existing.pool.catch(() => undefined) : undefined;
    if (pool && !pool.ending && !pool.ended) {
      await checkIdleConnections(pool, LIVENESS_TIMEOUT_MS);
      return pool;
    }
    if (sides.get(side) === existing) sides.delete(side);
    // Spec changed (rotated secret) or the pool was ended: close it; steps still using it finish first.
    if (pool && !pool.ending) await pool.end().catch(() => undefined);
    else if (!pool) existing.pool.then((p) => p.end()).catch(() => undefined);
  }
  const current = sides.get(side);
  if (current && current.key === key) return current.pool;
  const entry: Entry = {
    key,
    pool: createPool(spec, {
      max: SHARED_POOL_MAX,
      applicationName: 'zdm-cutover',
      idleTimeoutMillis: SHARED_POOL_IDLE_MS,
      allowExitOnIdle: true,
    }),
  };
  sides.set(side, entry);
  const table = sides;
  // A pool that could not connect is not kept: the next step tries again.
  entry.pool.catch(() => {
    if (table.get(side) === entry) table.delete(side);
  });
  return entry.pool;
}

/** Both sides' shared pools. */
export async function sharedPools(deps: CutoverDeps): Promise<{ source: Pool; target: Pool }> {
  const [source, target] = await Promise.allSettled([sharedPool(deps, 'source'), sharedPool(deps, 'target')]);
  if (source.status === 'rejected') throw source.reason;
  if (target.status === 'rejected') throw target.reason;
  return { source: source.value, target: target.value };
}

/** Ends the shared pools of `deps` (tests, the rehearsal and the CLI call it when an execution is over). */
export async function closeSharedPools(deps: CutoverDeps): Promise<void> {
  const fallback = existingFallbackDeps(deps);
  if (fallback) await closeSharedPools(fallback);
  const sides = pools.get(deps);
  if (!sides) return;
  pools.delete(deps);
  await Promise.all(
    [...sides.values()].map((e) => e.pool.then((p) => (p.ending ? undefined : p.end())).catch(() => undefined)),
  );
}
