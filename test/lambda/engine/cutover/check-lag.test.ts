import {
  CutoverError,
  type CutoverInput,
  type LagCheckResult,
  type StepEvent,
} from '../../../../contract';
import { describeCause } from '../../../../lambda/engine/cutover/finish';
import { createStepHandler } from '../../../../lambda/engine/cutover/steps';
import type { ReplicationPort, ReplicationStatus } from '../../../../lambda/engine/ports';
import { createLocalCutoverDeps } from '../../../../rehearsal/local/local-cutover-deps';

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
  it('counts consecutive good checks, resets on a bad one, and reports synced', async () => {
    const now = { t: Date.parse('2024-01-01T00:00:00Z') };
    const { replication, deps, step } = setup(now);
    const input = await step<CutoverInput>({
      step: 'validateInput',
      input: { migrationId: 'lag', consecutiveChecks: 3 } as never,
    });
    replication.statuses = [
      running(1),
      running(2),
      running(9),
      running(0, false),
      running(null),
      running(3),
      running(4),
      running(5),
    ];
    const results: LagCheckResult[] = [];
    let previous: { consecutive: number } | undefined;
    for (let i = 0; i < 8; i++) {
      now.t += 10_000;
      const r = await step<LagCheckResult>({ step: 'checkLag', input, ...(previous ? { previous } : {}) });
      results.push(r);
      previous = { consecutive: r.consecutive };
    }
    expect(results.map((r) => r.consecutive)).toEqual([1, 2, 0, 0, 0, 1, 2, 3]);
    expect(results.map((r) => r.synced)).toEqual([false, false, false, false, false, false, false, true]);
    expect(results[7]).toMatchObject({ lagSeconds: 5, timedOut: false, elapsedSeconds: 80 });
    const record = deps.state.snapshot()['lag#dry-run#2024-01-01T00:00:00.000Z'];
    expect(record.phases.waitForSync).toMatchObject({ status: 'succeeded', startedAt: '2024-01-01T00:00:10.000Z' });
    // Resumed: the phase is done, no more checks are needed.
    expect(await step({ step: 'checkLag', input })).toMatchObject({ synced: true, skipped: true });
  });

  it('times out after syncTimeoutSeconds without changing anything', async () => {
    const now = { t: Date.parse('2024-01-01T00:00:00Z') };
    const { replication, deps, step } = setup(now);
    const input = await step<CutoverInput>({
      step: 'validateInput',
      input: { migrationId: 'slow', syncTimeoutSeconds: 60 } as never,
    });
    replication.statuses = [running(30)];
    now.t += 59_000;
    expect(await step({ step: 'checkLag', input })).toMatchObject({ timedOut: false, consecutive: 0 });
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

  it('skips the traffic switch when none is configured', async () => {
    const { deps, step } = setup({ t: Date.now() });
    const input = await step<CutoverInput>({
      step: 'validateInput',
      input: { migrationId: 'nt', mode: 'execute', switchTrafficTo: 'x.example' } as never,
    });
    expect(await step({ step: 'switchTraffic', input })).toMatchObject({
      switched: false,
      reason: 'no traffic switch is configured',
    });
    expect(deps.state.snapshot().nt.phases.switchTraffic?.status).toBe('skipped');
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
