import { CutoverError, MAX_LAG_CHECKS, type CutoverInput, type StepEvent } from '../../../../contract';
import { Pool } from 'pg';
import { flushWal, RECHECK_DELAY_MS } from '../../../../lambda/engine/cutover/change-tracking';
import type { SyncCheck } from '../../../../lambda/engine/cutover/check-lag';
import { closeSharedPools } from '../../../../lambda/engine/cutover/connections';
import type { CutoverDeps } from '../../../../lambda/engine/cutover/deps';
import { describeCause } from '../../../../lambda/engine/cutover/finish';
import { CREATE_MARKER_TABLE_SQL, HEARTBEAT_TOKEN } from '../../../../lambda/engine/cutover/marker';
import { createStepHandler } from '../../../../lambda/engine/cutover/steps';
import type { ReplicationPort, ReplicationStatus } from '../../../../lambda/engine/ports';
import { createLocalCutoverDeps } from '../../../../rehearsal/local/local-cutover-deps';
import { createDatabasePair, dropPair, sql } from '../../../support/databases';

class FakeReplication implements ReplicationPort {
  readonly description = 'fake replication';
  statuses: ReplicationStatus[] = [];
  stops = 0;
  async status(): Promise<ReplicationStatus> {
    return this.statuses.length > 1 ? this.statuses.shift()! : this.statuses[0];
  }
  async stop(): Promise<void> {
    this.stops++;
  }
}

const running = (lagSeconds: number | null, fullLoadComplete = true): ReplicationStatus => ({
  state: 'running',
  fullLoadComplete,
  lagSeconds,
});

function setup(now: { t: number }) {
  const replication = new FakeReplication();
  const deps = createLocalCutoverDeps({
    sourceUrl: 'postgres://unused:secret-pw@127.0.0.1:1/none',
    targetUrl: 'postgres://unused:secret-pw@127.0.0.1:1/none',
    tables: { include: [{ schema: 'public' }] },
    replication,
    defaults: { applicationRoles: ['app'] },
    now: () => new Date(now.t),
  });
  const run = createStepHandler(deps);
  const step = async <T>(event: Partial<StepEvent> & { step: StepEvent['step'] }): Promise<T> =>
    (await run(event as StepEvent)) as T;
  return { replication, deps, step };
}

describe('checkLag', () => {
  const tag = `${process.pid}`;
  let pair: { name: string; source: string; target: string };
  const opened: CutoverDeps[] = [];

  /** Step handler on real databases; `target: 'source'` makes the source its own replica (heartbeat at once, no difference). */
  function onDatabases(now: { t: number }, target: 'source' | 'target') {
    const replication = new FakeReplication();
    const deps = createLocalCutoverDeps({
      sourceUrl: pair.source,
      targetUrl: target === 'source' ? pair.source : pair.target,
      tables: { include: [{ schema: 'public' }] },
      replication,
      defaults: { applicationRoles: ['app'] },
      now: () => new Date(now.t),
    });
    opened.push(deps);
    const run = createStepHandler(deps);
    const step = async <T>(event: Partial<StepEvent> & { step: StepEvent['step'] }): Promise<T> =>
      (await run(event as StepEvent)) as T;
    return { replication, deps, step };
  }

  /** Runs `statement` and waits until the server flushed it (decoding sees flushed WAL only; the tests commit asynchronously). */
  async function change(url: string, statement: string): Promise<void> {
    await sql(url, statement);
    const pool = new Pool({ connectionString: url, max: 1 });
    try {
      await flushWal(pool);
    } finally {
      await pool.end();
    }
  }

  /** validateInput + startTracking (the wait for sync verifies the keys the tracking slots report). */
  async function started(
    step: ReturnType<typeof onDatabases>['step'],
    raw: Record<string, unknown>,
  ): Promise<CutoverInput> {
    const input = await step<CutoverInput>({ step: 'validateInput', input: raw as never });
    await step({ step: 'startTracking', input });
    return input;
  }

  beforeAll(async () => {
    pair = await createDatabasePair('check_lag');
    for (const url of [pair.source, pair.target]) {
      await sql(url, `create table public.t (id int primary key, v text)`);
      await sql(url, `insert into public.t select g, 'row ' || g from generate_series(1, 5) g`);
      for (const statement of CREATE_MARKER_TABLE_SQL) await sql(url, statement);
    }
  });

  afterAll(async () => {
    for (const deps of opened) await closeSharedPools(deps);
    if (!pair) return;
    // a database with logical slots cannot be dropped
    for (const url of [pair.source, pair.target]) {
      await sql(
        url,
        `select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = current_database()`,
      );
    }
    await dropPair(pair.name);
  });

  it('counts consecutive good checks, resets on a bad one, and reports synced', async () => {
    const now = { t: Date.parse('2024-01-01T00:00:00Z') };
    const { replication, deps, step } = onDatabases(now, 'source');
    const input = await started(step, { migrationId: `lag-${tag}`, consecutiveChecks: 3 });
    replication.statuses = [
      running(1),
      running(2),
      running(9),
      running(0, false),
      { state: 'stopped', fullLoadComplete: true, lagSeconds: 0 },
      running(3),
      running(4),
      running(5),
    ];
    const results: SyncCheck[] = [];
    let previous: { consecutive: number; iterations: number } | undefined;
    for (let i = 0; i < 8; i++) {
      now.t += 10_000;
      const r = await step<SyncCheck>({ step: 'checkLag', input, ...(previous ? { previous } : {}) });
      results.push(r);
      previous = { consecutive: r.consecutive, iterations: r.iterations! };
    }
    expect(results.map((r) => r.consecutive)).toEqual([1, 2, 0, 0, 0, 1, 2, 3]);
    expect(results.map((r) => r.iterations)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(results.map((r) => r.synced)).toEqual([false, false, false, false, false, false, false, true]);
    // the engine's lag counts when it is larger than the heartbeat's
    expect(results[7]).toMatchObject({ lagSeconds: 5, engineLagSeconds: 5, timedOut: false, elapsedSeconds: 80 });
    expect(results[7].heartbeatLagSeconds).toEqual(expect.any(Number));
    const record = deps.state.snapshot()[`lag-${tag}#dry-run#2024-01-01T00:00:00.000Z`];
    expect(record.phases.waitForSync).toMatchObject({ status: 'succeeded', startedAt: '2024-01-01T00:00:10.000Z' });
    // Resumed: the phase is done, no more checks are needed.
    expect(await step({ step: 'checkLag', input })).toMatchObject({ synced: true, skipped: true });
  });

  it('times out after syncTimeoutSeconds, or after the iteration bound, without changing anything', async () => {
    const now = { t: Date.parse('2024-01-01T00:00:00Z') };
    const { replication, deps, step } = onDatabases(now, 'source');
    const input = await started(step, { migrationId: `slow-${tag}`, syncTimeoutSeconds: 60 });
    replication.statuses = [running(30)];
    now.t += 59_000;
    expect(await step({ step: 'checkLag', input })).toMatchObject({ timedOut: false, consecutive: 0, iterations: 1 });
    // the state machine carries the iteration count: the last allowed check times out however little time passed
    expect(
      await step({ step: 'checkLag', input, previous: { consecutive: 0, iterations: MAX_LAG_CHECKS - 1 } }),
    ).toMatchObject({ timedOut: true, synced: false, iterations: MAX_LAG_CHECKS });
    now.t += 2_000;
    expect(await step({ step: 'checkLag', input })).toMatchObject({
      timedOut: true,
      synced: false,
      elapsedSeconds: 61,
    });
    expect(deps.notifier.notices.at(-1)?.subject).toMatch(/waitForSync timed out/);
    expect(replication.stops).toBe(0);
    expect(deps.alarms.calls).toEqual([]);
  });

  it('measures lag with the heartbeat: a target it does not reach is never in sync, whatever the engine says', async () => {
    const now = { t: Date.now() };
    const { replication, step } = onDatabases(now, 'target');
    const id = `beat-${tag}`;
    const input = await started(step, { migrationId: id, consecutiveChecks: 1, lagThresholdSeconds: 5 });
    replication.statuses = [running(0)];
    // no heartbeat on the target yet
    expect(await step({ step: 'checkLag', input })).toMatchObject({
      heartbeatLagSeconds: null,
      lagSeconds: null,
      consecutive: 0,
      synced: false,
    });
    // a stale heartbeat: a stalled subscriber
    const beat = (age: string): Promise<unknown> =>
      sql(
        pair.target,
        `insert into zdm_cutover.cutover_marker (migration_id, token, written_at) values ($1, $2, clock_timestamp() - $3::interval)
         on conflict (migration_id, token) do update set written_at = excluded.written_at`,
        [id, HEARTBEAT_TOKEN, age],
      );
    await beat('60 seconds');
    const stale = await step<SyncCheck>({ step: 'checkLag', input, previous: { consecutive: 0, iterations: 1 } });
    expect(stale).toMatchObject({ engineLagSeconds: 0, consecutive: 0, synced: false });
    expect(stale.lagSeconds).toBeGreaterThanOrEqual(59);
    // a fresh one
    await beat('0 seconds');
    const fresh = await step<SyncCheck>({ step: 'checkLag', input, previous: { consecutive: 0, iterations: 2 } });
    expect(fresh).toMatchObject({ consecutive: 1, synced: true });
    expect(fresh.lagSeconds).toBeLessThanOrEqual(5);
  });

  it('re-verifies the keys changed since tracking started: one that converges is dropped, one that outlives the recheck delay fails the wait', async () => {
    const now = { t: Date.now() };
    const { replication, deps, step } = onDatabases(now, 'target');
    const id = `keys-${tag}`;
    const input = await started(step, { migrationId: id, consecutiveChecks: 3 });
    replication.statuses = [running(0)];
    let previous = { consecutive: 0, iterations: 0 };
    const check = async (): Promise<SyncCheck> => {
      const r = await step<SyncCheck>({ step: 'checkLag', input, previous });
      previous = { consecutive: r.consecutive, iterations: r.iterations! };
      return r;
    };

    await change(pair.source, `update public.t set v = 'changed' where id = 1`);
    expect(await check()).toMatchObject({ keysVerified: 1, pendingKeys: 1 });
    // replication catches up: the key is equal again
    await change(pair.target, `update public.t set v = 'changed' where id = 1`);
    expect(await check()).toMatchObject({ pendingKeys: 0 });

    await change(pair.source, `update public.t set v = 'never replicated' where id = 2`);
    expect(await check()).toMatchObject({ pendingKeys: 1 });
    now.t += RECHECK_DELAY_MS - 1_000;
    expect(await check()).toMatchObject({ pendingKeys: 1 });
    now.t += 2_000;
    // With the lag unknown (no heartbeat yet) the difference may still be in flight: it stays pending, never synced.
    expect(await check()).toMatchObject({ pendingKeys: 1, synced: false, consecutive: 0 });
    // With replication healthy (a fresh heartbeat, lag under the threshold) it cannot be: fatal, the columns named.
    await sql(
      pair.target,
      `insert into zdm_cutover.cutover_marker (migration_id, token, written_at) values ($1, $2, clock_timestamp())
       on conflict (migration_id, token) do update set written_at = excluded.written_at`,
      [id, HEARTBEAT_TOKEN],
    );
    await expect(check()).rejects.toMatchObject({
      name: 'ZdmValidationFailed',
      message: expect.stringMatching(/public\.t: 1 row\(s\) — changed \(id\)=\(2\) in v/),
    });
    expect(deps.state.snapshot()[`${id}#dry-run#${input.startedAt}`].phases.waitForSync?.status).toBe('failed');
  });

  it('sees a schema change between rounds: table contexts kept from the last round are read again', async () => {
    const now = { t: Date.now() };
    const { replication, step } = onDatabases(now, 'target');
    const input = await started(step, { migrationId: `schema-${tag}`, consecutiveChecks: 3 });
    replication.statuses = [running(0)];
    let previous = { consecutive: 0, iterations: 0 };
    const check = async (): Promise<SyncCheck> => {
      const r = await step<SyncCheck>({ step: 'checkLag', input, previous });
      previous = { consecutive: r.consecutive, iterations: r.iterations! };
      return r;
    };
    const both = async (statement: string): Promise<void> => {
      await change(pair.source, statement);
      await change(pair.target, statement);
    };
    await both(`update public.t set v = 'same' where id = 3`);
    expect(await check()).toMatchObject({ keysVerified: 1, pendingKeys: 0, rangeChecksPending: 0 });
    // The target's table gets a column the source's does not have: its rows can no longer be compared by key.
    await change(pair.target, `alter table public.t add column extra int default 1`);
    try {
      await both(`update public.t set v = 'same again' where id = 3`);
      expect(await check()).toMatchObject({ keysVerified: 0, rangeChecksPending: 1, consecutive: 0 });
    } finally {
      await sql(pair.target, `alter table public.t drop column extra`);
    }
  });

  it('fails when replication has failed', async () => {
    const now = { t: Date.now() };
    const { replication, step } = setup(now);
    const input = await step<CutoverInput>({ step: 'validateInput', input: { migrationId: 'broken' } as never });
    replication.statuses = [
      { state: 'failed', fullLoadComplete: true, lagSeconds: null, detail: 'task failed: disk full' },
    ];
    await expect(step({ step: 'checkLag', input })).rejects.toMatchObject({
      name: 'ZdmReplicationFailed',
      message: expect.stringContaining('disk full'),
    });
  });

  it('fails when change tracking was not started', async () => {
    const now = { t: Date.now() };
    const { replication, step } = onDatabases(now, 'source');
    const input = await step<CutoverInput>({
      step: 'validateInput',
      input: { migrationId: `untracked-${tag}` } as never,
    });
    replication.statuses = [running(0)];
    await expect(step({ step: 'checkLag', input })).rejects.toThrow(/change tracking was not started/);
  });
});

describe('step dispatch and small steps', () => {
  it('fails when the step is unknown or the input is missing', async () => {
    const { step } = setup({ t: Date.now() });
    await expect(step({ step: 'nope' as never })).rejects.toThrow(/unknown cutover step "nope"/);
    await expect(step({ step: 'preflight' })).rejects.toThrow(/needs "input"/);
  });

  it('keeps a dry run and an execute run with the same migrationId apart', async () => {
    const { deps, step } = setup({ t: Date.parse('2024-02-02T00:00:00Z') });
    const dry = await step<CutoverInput>({ step: 'validateInput', input: { migrationId: 'same' } as never });
    const exec = await step<CutoverInput>({
      step: 'validateInput',
      input: { migrationId: 'same', mode: 'execute' } as never,
    });
    await deps.state.putPhase('same#dry-run#2024-02-02T00:00:00.000Z', 'preflight', {
      status: 'succeeded',
      startedAt: 'x',
    });
    expect(Object.keys(deps.state.snapshot()).sort()).toEqual(['same', 'same#dry-run#2024-02-02T00:00:00.000Z']);
    expect(deps.state.snapshot().same.phases).toEqual({});
    expect(dry.mode).toBe('dry-run');
    expect(exec.mode).toBe('execute');
    // A second execute validateInput resumes the same record.
    await step({ step: 'validateInput', input: { migrationId: 'same', mode: 'execute' } as never });
    expect(Object.keys(deps.state.snapshot())).toHaveLength(2);
  });

  it('announces a resume with the phases already done', async () => {
    const { deps, step } = setup({ t: Date.now() });
    await step({ step: 'validateInput', input: { migrationId: 'again', mode: 'execute' } as never });
    await deps.state.putPhase('again', 'preflight', { status: 'succeeded', startedAt: 'x', endedAt: 'y' });
    await step({ step: 'validateInput', input: { migrationId: 'again', mode: 'execute' } as never });
    expect(deps.notifier.notices.at(-1)).toMatchObject({
      subject: 'zdm again: cutover resumed',
      message: expect.stringContaining('already done: preflight'),
    });
  });

  it('requests approval with the exact CLI commands and the task token', async () => {
    const { deps, step } = setup({ t: Date.now() });
    const input = await step<CutoverInput>({
      step: 'validateInput',
      input: { migrationId: 'ask', mode: 'execute', requireApproval: true } as never,
    });
    await step({ step: 'requestApproval', input, taskToken: 'AAAA/token+1==' });
    const notice = deps.notifier.notices.at(-1)!;
    expect(notice.subject).toBe('zdm ask: approval needed');
    expect(notice.message).toContain(
      `aws stepfunctions send-task-success --task-token 'AAAA/token+1==' --task-output '{"approved":true}'`,
    );
    expect(notice.message).toContain(
      `aws stepfunctions send-task-failure --task-token 'AAAA/token+1==' --error ZdmApprovalRejected`,
    );
    expect(deps.state.snapshot().ask.phases.approval?.status).toBe('running');
    await expect(step({ step: 'requestApproval', input })).rejects.toThrow(/task token/);
  });

  it('skips the traffic switch when none is configured, handing over at the point of no return', async () => {
    const { deps, step } = setup({ t: Date.now() });
    const input = await step<CutoverInput>({
      step: 'validateInput',
      input: { migrationId: 'nt', mode: 'execute', switchTrafficTo: 'x.example' } as never,
    });
    expect(await step({ step: 'switchTraffic', input })).toMatchObject({
      switched: false,
      reason: 'no traffic switch is configured',
      handedOver: true,
    });
    expect(deps.state.snapshot().nt.phases.switchTraffic?.status).toBe('skipped');
    // the operator repoints the application now: past this, nothing is rolled back automatically
    expect(deps.state.snapshot().nt.pointOfNoReturn).toMatchObject({ what: 'handed-over' });
    // a dry run hands nothing over
    const dry = await step<CutoverInput>({ step: 'validateInput', input: { migrationId: 'nt-dry' } as never });
    expect(await step({ step: 'switchTraffic', input: dry })).toMatchObject({ switched: false, handedOver: false });
    expect(deps.state.snapshot()[`nt-dry#dry-run#${dry.startedAt}`].pointOfNoReturn).toBeUndefined();
  });

  it('rolls back a cutover whose record was never created, and redacts passwords from errors', async () => {
    const { replication, step } = setup({ t: Date.now() });
    replication.statuses = [running(0)];
    const input = {
      migrationId: 'ghost',
      mode: 'execute',
      startedAt: new Date().toISOString(),
    } as unknown as CutoverInput;
    expect(await step({ step: 'rollback', input, error: { Error: 'ZdmBadInput', Cause: 'bad' } })).toMatchObject({
      rolledBack: true,
      restoredRoles: [],
    });
    await step({ step: 'validateInput', input: { migrationId: 'pw', mode: 'execute' } as never });
    const error = await step({ step: 'preflight', input: { ...input, migrationId: 'pw' } }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/cannot connect to postgres:\/\/unused:\*\*\*@127.0.0.1:1\/none/);
    expect((error as Error).message).not.toContain('secret-pw');
  });

  it('parses a Lambda error cause', () => {
    expect(
      describeCause({
        Error: 'ZdmValidationFailed',
        Cause: JSON.stringify({ errorType: 'X', errorMessage: 'rows differ' }),
      }),
    ).toBe('ZdmValidationFailed: rows differ');
    expect(describeCause({ Error: 'States.Timeout', Cause: 'plain text' })).toBe('States.Timeout: plain text');
    expect(describeCause(undefined)).toBe('unknown error');
    expect(new CutoverError('ZdmSyncTimeout', 'x').name).toBe('ZdmSyncTimeout');
  });
});
