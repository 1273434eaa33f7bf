import type { ClientBase, Pool } from 'pg';
import { checkIdleConnections, createPool, withPooledClient, type ConnectionSpec } from '../pg/connection';
import { quoteIdent } from '../pg/identifiers';
import type { ReplicationPort, ReplicationState, ReplicationStatus } from '../ports';

export interface NativeLogicalReplicationOptions {
  /** The publisher (source) database. */
  readonly source: ConnectionSpec;
  /** The subscriber (target) database, where the subscription lives. */
  readonly target: ConnectionSpec;
  /** Subscription name on the target (its slot on the source has the name recorded in pg_subscription). */
  readonly subscription: string;
  /** How long `stop()` waits for the apply and sync workers to exit. @default 15000 */
  readonly stopWaitMs?: number;
}

interface SubscriptionRow {
  oid: number;
  enabled: boolean;
  slot_name: string | null;
  apply_workers: number;
  workers: number;
  rels: number;
  not_ready: number;
}

interface SlotRow {
  caught_up: boolean | null;
  active: boolean;
  behind_bytes: string | null;
  replay_lag: number | null;
  since_reply: number | null;
}

/** Poll interval while the workers exit (inside the write freeze). */
const STOP_POLL_MS = 5;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function readSubscription(
  client: Pick<ClientBase, 'query'>,
  name: string,
): Promise<SubscriptionRow | undefined> {
  const { rows } = await client.query<SubscriptionRow>(
    `SELECT s.oid::int AS oid, s.subenabled AS enabled, s.subslotname::text AS slot_name,
            (SELECT count(*) FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.pid IS NOT NULL AND w.relid IS NULL)::int AS apply_workers,
            (SELECT count(*) FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.pid IS NOT NULL)::int AS workers,
            (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid)::int AS rels,
            (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate <> 'r')::int AS not_ready
       FROM pg_subscription s
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  return rows[0];
}

/** Errors the subscription's workers hit since its statistics were reset (PostgreSQL 15+; undefined before). */
export interface ApplyErrors {
  readonly apply: number;
  readonly sync: number;
}

/** The first major with `pg_stat_subscription_stats` (its apply and sync error counters). */
const SUBSCRIPTION_STATS_MAJOR = 15;

async function readApplyErrors(
  client: Pick<ClientBase, 'query'>,
  subscriptionOid: number,
): Promise<ApplyErrors | undefined> {
  const { rows } = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  if ((rows[0]?.v ?? 0) < SUBSCRIPTION_STATS_MAJOR * 10_000) return undefined;
  const stats = await client.query<{ apply: number; sync: number }>(
    `SELECT apply_error_count::int AS apply, sync_error_count::int AS sync
       FROM pg_stat_subscription_stats WHERE subid = $1`,
    [subscriptionOid],
  );
  return stats.rows[0] ?? { apply: 0, sync: 0 };
}

/** What the counters say, with where the error itself is (PostgreSQL logs it, no view keeps its text). */
export function describeApplyErrors(errors: ApplyErrors): string {
  return (
    `${errors.apply} apply error(s) and ${errors.sync} initial-copy error(s) so far (the subscriber's server log ` +
    `names each, e.g. a duplicate key or a missing column)`
  );
}

/**
 * Native PostgreSQL logical replication (publication on the source, subscription on the target) behind the
 * replication port. Used by the rehearsal and the tests; DMS is the production adapter.
 *
 * - state: `running` = subscription enabled and its apply worker running; `starting` = enabled, no worker yet
 *   (starting, or restarting after an apply error); `stopping` = disabled, worker still exiting; `stopped` =
 *   disabled, no worker; `unknown` = no such subscription.
 * - fullLoadComplete: every table of the subscription is in state `r` (ready) in `pg_subscription_rel`.
 * - lagSeconds (read on the source, from the subscription's slot): 0 when the slot's `confirmed_flush_lsn` has
 *   reached `pg_current_wal_lsn()` (the subscriber confirmed everything written so far). Otherwise the walsender's
 *   `replay_lag` from `pg_stat_replication` — how long ago the WAL the subscriber last confirmed as applied was
 *   written on the source, which is PostgreSQL's own measure of apply lag. When PostgreSQL has no sample
 *   (`replay_lag` is NULL: idle, or just connected), the time since the subscriber's last reply (`reply_time`),
 *   an upper bound. null when the slot is missing, or not connected and not caught up.
 * - stop: `ALTER SUBSCRIPTION … DISABLE`, then waits for the workers to exit. The slot is kept (the design keeps
 *   it until rollback is no longer possible); `teardownNativeReplication` drops it.
 */
export class NativeLogicalReplication implements ReplicationPort {
  readonly description: string;
  private readonly pools: { source?: Promise<Pool>; target?: Promise<Pool> } = {};

  constructor(private readonly options: NativeLogicalReplicationOptions) {
    this.description = `native logical replication subscription ${JSON.stringify(options.subscription)}`;
  }

  /**
   * One connection per side, kept between calls (status is polled, and `stop` runs inside the write freeze):
   * checked before each use and replaced when it died; idle ones close after 30 s and never hold the process.
   */
  private async withClient<T>(side: 'source' | 'target', fn: (c: Pick<ClientBase, 'query'>) => Promise<T>): Promise<T> {
    let pending = this.pools[side];
    if (!pending) {
      pending = createPool(this.options[side], {
        max: 1,
        applicationName: 'zdm-replication',
        idleTimeoutMillis: 30_000,
        allowExitOnIdle: true,
      });
      this.pools[side] = pending;
      pending.catch(() => {
        if (this.pools[side] === pending) delete this.pools[side];
      });
    }
    const pool = await pending;
    await checkIdleConnections(pool);
    return withPooledClient(pool, fn);
  }

  /** Closes the kept connections (they also close by themselves when idle). */
  async close(): Promise<void> {
    const pending = [this.pools.source, this.pools.target];
    delete this.pools.source;
    delete this.pools.target;
    await Promise.all(pending.map((p) => p?.then((pool) => pool.end()).catch(() => undefined)));
  }

  async status(): Promise<ReplicationStatus> {
    return (await this.statusWithErrors()).status;
  }

  /** `status`, and the subscription's error counters it read (undefined: no subscription, or PostgreSQL < 15). */
  async statusWithErrors(): Promise<{ readonly status: ReplicationStatus; readonly errors?: ApplyErrors }> {
    const sub = await this.withClient('target', (c) => readSubscription(c, this.options.subscription));
    if (!sub) {
      return {
        status: {
          state: 'unknown',
          fullLoadComplete: false,
          lagSeconds: null,
          detail: 'no such subscription on the target',
        },
      };
    }
    const errors = await this.withClient('target', (c) => readApplyErrors(c, sub.oid));
    const state: ReplicationState = sub.enabled
      ? sub.apply_workers > 0
        ? 'running'
        : 'starting'
      : sub.workers > 0
        ? 'stopping'
        : 'stopped';
    const fullLoadComplete = sub.rels > 0 && sub.not_ready === 0;
    let lagSeconds: number | null = null;
    let detail = `${sub.rels - sub.not_ready}/${sub.rels} tables ready`;
    if (errors && errors.apply + errors.sync > 0) {
      detail += `; ${describeApplyErrors(errors)}${state === 'starting' ? ', no apply worker running now' : ''}`;
    }
    if (sub.slot_name) {
      const slot = await this.withClient('source', async (c) => {
        const { rows } = await c.query<SlotRow>(
          `SELECT s.confirmed_flush_lsn >= pg_current_wal_lsn() AS caught_up, s.active,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::text AS behind_bytes,
                  extract(epoch FROM r.replay_lag)::float8 AS replay_lag,
                  extract(epoch FROM now() - r.reply_time)::float8 AS since_reply
             FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
            WHERE s.slot_name = $1`,
          [sub.slot_name],
        );
        return rows[0];
      });
      if (!slot) {
        detail += `; slot ${sub.slot_name} is missing on the source`;
      } else {
        detail += `; slot ${slot.active ? 'active' : 'inactive'}, ${slot.behind_bytes ?? '?'} bytes unconfirmed`;
        if (slot.caught_up) lagSeconds = 0;
        else if (slot.replay_lag !== null) lagSeconds = Math.max(0, slot.replay_lag);
        else if (slot.active && slot.since_reply !== null) lagSeconds = Math.max(0, slot.since_reply);
      }
    }
    return { status: { state, fullLoadComplete, lagSeconds, detail }, ...(errors ? { errors } : {}) };
  }

  async stop(): Promise<void> {
    await this.withClient('target', async (c) => {
      const sub = await readSubscription(c, this.options.subscription);
      if (!sub) throw new Error(`${this.description} does not exist on the target`);
      if (sub.enabled) await c.query(`ALTER SUBSCRIPTION ${quoteIdent(this.options.subscription)} DISABLE`);
      const deadline = Date.now() + (this.options.stopWaitMs ?? 15_000);
      for (;;) {
        const now = await readSubscription(c, this.options.subscription);
        if (!now || now.workers === 0 || Date.now() > deadline) return;
        await sleep(STOP_POLL_MS);
      }
    });
  }
}
