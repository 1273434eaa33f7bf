/**
 * Server-level preflight checks against the real test servers (PostgreSQL 16, wal_level=logical, 20 slots and WAL
 * senders, wal_sender_timeout 60s). Settings that need a restart to change (wal_level, ...) are made non-compliant
 * by overriding what the check read; capacity and sessions are made non-compliant for real.
 */
import { Client, type Pool } from 'pg';
import {
  createPreflightContext,
  preflight,
  preflightTarget,
  runChecks,
  SOURCE_CHECKS,
  type PreflightCheck,
  type PreflightContext,
  type PreflightRunOptions,
  type ServerSettings,
} from '../../../../lambda/engine/preflight';
import {
  longTransaction,
  maxSlotWalKeepSize,
  preparedTransaction,
  replicationSlotRetainsWal,
  replicationSlots,
  serverVersion,
  targetLogicalDecoding,
  targetReplicationSlots,
  walLevel,
  walSenderTimeout,
  walSenders,
} from '../../../../lambda/engine/preflight/checks';
import { sql } from '../../../support/databases';
import { openPair, type Pair } from '../validation/helpers';

let p: Pair;
const selection = { include: [{ schema: 'public' }] };

beforeAll(async () => {
  p = await openPair('preflight_server');
  await p.both(`CREATE TABLE public.t (id int PRIMARY KEY)`);
});
afterAll(() => p.close());

function context(options: PreflightRunOptions = {}, side: 'source' | 'target' = 'source'): PreflightContext {
  return createPreflightContext(side, side === 'source' ? p.source : p.target, selection, options);
}

/** The context with some settings replaced (as if the server were configured so). */
function withSettings(ctx: PreflightContext, over: Partial<ServerSettings>): PreflightContext {
  return { ...ctx, settings: async () => ({ ...(await ctx.settings()), ...over }) };
}

async function codes(check: PreflightCheck, ctx: PreflightContext): Promise<string[]> {
  return (await check.run(ctx)).map((f) => f.code);
}

describe('settings', () => {
  it('server-version accepts PostgreSQL 16', async () => {
    expect(await serverVersion.run(context())).toEqual([]);
  });

  it('server-version fails when the source is older than 12, and the table checks are skipped', async () => {
    const f = await serverVersion.run(withSettings(context(), { versionNum: 110005, version: '11.5' }));
    expect(f).toEqual([expect.objectContaining({ code: 'server-version', severity: 'error' })]);
    expect(f[0].message).toContain('11.5');
    const all = await runChecks(SOURCE_CHECKS, withSettings(context(), { versionNum: 110005, version: '11.5' }));
    // The servers are shared with other test files: their slots may show up in the server-wide slot check.
    expect(all.map((x) => x.code).filter((c) => c !== 'replication-slot-retains-wal')).toEqual(['server-version']);
    expect(SOURCE_CHECKS.filter((c) => c.scope === 'tables').map((c) => c.code)).toContain('no-tables');
  });

  it('wal-level accepts logical', async () => {
    expect(await walLevel.run(context())).toEqual([]);
  });

  it('wal-level fails when wal_level is replica, saying how to fix it on RDS too', async () => {
    const [f] = await walLevel.run(withSettings(context(), { walLevel: 'replica' }));
    expect(f).toMatchObject({ code: 'wal-level', severity: 'error', object: 'wal_level' });
    expect(f.message).toContain('replica');
    expect(f.action).toContain('rds.logical_replication');
  });

  it('wal-sender-timeout accepts 60s, 0 and exactly 10000 ms', async () => {
    expect(await walSenderTimeout.run(context())).toEqual([]);
    for (const ms of [0, 10_000]) {
      expect(await walSenderTimeout.run(withSettings(context(), { walSenderTimeoutMs: ms }))).toEqual([]);
    }
  });

  it('wal-sender-timeout fails when it is between 1 and 9999 ms', async () => {
    for (const ms of [1, 5000, 9999]) {
      const f = await walSenderTimeout.run(
        withSettings(context(), { walSenderTimeoutMs: ms, walSenderTimeout: `${ms}ms` }),
      );
      expect(f).toEqual([expect.objectContaining({ code: 'wal-sender-timeout', severity: 'error' })]);
    }
  });

  it('max-slot-wal-keep-size accepts unlimited (-1)', async () => {
    expect((await context().settings()).maxSlotWalKeepSizeMb).toBe(-1);
    expect(await maxSlotWalKeepSize.run(context())).toEqual([]);
  });

  it('max-slot-wal-keep-size fails when it is under 10 GB (warning)', async () => {
    expect(await codes(maxSlotWalKeepSize, withSettings(context(), { maxSlotWalKeepSizeMb: 1024 }))).toEqual([
      'max-slot-wal-keep-size',
    ]);
  });
});

describe('capacity', () => {
  it('replication-slots accepts a server with room for the DMS slot and the tracking slot', async () => {
    const s = await context().settings();
    expect(s.maxReplicationSlots - s.usedReplicationSlots).toBeGreaterThanOrEqual(2);
    expect(await replicationSlots.run(context())).toEqual([]);
  });

  it('replication-slots fails when the DMS and change-tracking slots do not both fit', async () => {
    const s = await context().settings();
    const free = s.maxReplicationSlots - s.usedReplicationSlots;
    // Exactly enough for DMS alone: the tracking slot is one too many.
    const [f] = await replicationSlots.run(context({ replicationSlots: free, trackingSlots: 1 }));
    expect(f).toMatchObject({ code: 'replication-slots', severity: 'error' });
    expect(f.message).toMatch(
      new RegExp(`needs ${free + 1}: ${free} for DMS replication and 1 for the workflow's change tracking`),
    );
    // With DMS running already (its slot exists), only the tracking slot is needed.
    expect(await replicationSlots.run(context({ replicationSlots: 0, trackingSlots: free }))).toEqual([]);
  });

  it('wal-senders accepts a server with a free WAL sender', async () => {
    expect(await walSenders.run(context())).toEqual([]);
  });

  it('wal-senders fails when DMS needs more WAL senders than are free', async () => {
    const [f] = await walSenders.run(context({ replicationSlots: 1000 }));
    expect(f).toMatchObject({ code: 'wal-senders', severity: 'error', object: 'max_wal_senders' });
  });
});

describe('sessions and slots', () => {
  it('long-transaction fails when a transaction is open longer than the limit (warning), not for a shorter one', async () => {
    const c = new Client(p.sourceUrl);
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT txid_current()');
      const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await new Promise((r) => setTimeout(r, 20));
      const found = await longTransaction.run(context({ longTransactionSeconds: 0 }));
      expect(found).toContainEqual(expect.objectContaining({ code: 'long-transaction', object: `pid ${pid}` }));
      const short = await longTransaction.run(context({ longTransactionSeconds: 3600 }));
      expect(short.map((f) => f.object)).not.toContain(`pid ${pid}`);
    } finally {
      await c.end();
    }
  });

  it('prepared-transaction accepts a server without prepared transactions', async () => {
    expect(await preparedTransaction.run(context())).toEqual([]);
  });

  it('prepared-transaction fails when a prepared transaction is pending (warning)', async () => {
    // The test servers run with max_prepared_transactions = 0: what the catalog would return is given here.
    const ctx = context();
    const db = { query: async () => ({ rows: [{ gid: 'tx-1', age: 42 }] }) } as unknown as Pool;
    expect(await preparedTransaction.run({ ...ctx, db })).toEqual([
      expect.objectContaining({ code: 'prepared-transaction', object: 'prepared transaction tx-1' }),
    ]);
  });

  it('replication-slot-retains-wal fails when a slot is inactive (warning), and not once it is dropped', async () => {
    const slot = `zdm_pf_${process.pid}`;
    await sql(p.sourceUrl, `SELECT pg_create_physical_replication_slot($1, true)`, [slot]);
    try {
      expect(await replicationSlotRetainsWal.run(context())).toContainEqual(
        expect.objectContaining({ code: 'replication-slot-retains-wal', object: `slot ${slot}` }),
      );
    } finally {
      await sql(p.sourceUrl, `SELECT pg_drop_replication_slot($1)`, [slot]);
    }
    const after = await replicationSlotRetainsWal.run(context());
    expect(after.map((f) => f.object)).not.toContain(`slot ${slot}`);
  });
});

describe('target', () => {
  it('target-logical-decoding accepts wal_level=logical, or rds.logical_replication on Aurora', async () => {
    expect(await targetLogicalDecoding.run(context({}, 'target'))).toEqual([]);
    const aurora = withSettings(context({}, 'target'), { walLevel: 'replica', rdsLogicalReplication: 'on' });
    expect(await targetLogicalDecoding.run(aurora)).toEqual([]);
  });

  it('target-logical-decoding fails when the target cannot decode logically', async () => {
    const off = withSettings(context({}, 'target'), { walLevel: 'replica', rdsLogicalReplication: 'off' });
    const [f] = await targetLogicalDecoding.run(off);
    expect(f).toMatchObject({ code: 'target-logical-decoding', severity: 'error', object: 'target wal_level' });
    expect(f.message).toContain('rds.logical_replication is off');
    expect(f.action).toContain('DB cluster parameter group');
  });

  it('target-replication-slots accepts room for the tracking slot', async () => {
    expect(await targetReplicationSlots.run(context({}, 'target'))).toEqual([]);
  });

  it('target-replication-slots fails when the target has no room for the tracking slots', async () => {
    expect(await codes(targetReplicationSlots, context({ trackingSlots: 1000 }, 'target'))).toEqual([
      'target-replication-slots',
    ]);
  });

  it('fails when the target has no room for tracking slots, once preflight() is given the target', async () => {
    const sourceOnly = await preflight(p.source, selection, { trackingSlots: 1000 });
    expect(sourceOnly.findings.map((f) => f.code)).not.toContain('target-replication-slots');
    const both = await preflight(p.source, selection, { target: p.target, trackingSlots: 1000 });
    expect(both.ok).toBe(false);
    expect(both.findings.map((f) => f.code)).toEqual(
      expect.arrayContaining(['replication-slots', 'target-replication-slots']),
    );
    const target = await preflightTarget(p.target);
    expect(target).toMatchObject({ ok: true, tablesChecked: 0, findings: [] });
  });
});
