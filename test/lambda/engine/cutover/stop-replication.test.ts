import { createContext } from '../../../../lambda/engine/cutover/step-context';
import { reportFailureAfterSwitch } from '../../../../lambda/engine/cutover/finish';
import { parseExecutionInput } from '../../../../lambda/engine/cutover/validate-input';
import { STOP_GIVE_UP_MS, stopReplication } from '../../../../lambda/engine/cutover/stop-replication';
import type { CutoverDeps } from '../../../../lambda/engine/cutover/deps';
import type { ReplicationPort } from '../../../../lambda/engine/ports';
import {
  ConsoleNotifier,
  MemoryStateStore,
  RecordingAlarmControl,
} from '../../../../rehearsal/local/local-cutover-deps';

/** A replication engine that accepts the stop request but never leaves "stopping" (a stuck DMS task). */
function stuckReplication(alarms: RecordingAlarmControl): ReplicationPort & { stops: number; alarmsAtStop: string[] } {
  return {
    description: 'stuck task',
    stops: 0,
    alarmsAtStop: [],
    async status() {
      return { state: 'stopping', fullLoadComplete: true, lagSeconds: null, detail: 'status stopping' };
    },
    async stop() {
      this.stops += 1;
      this.alarmsAtStop = [...alarms.calls];
    },
  };
}

function setup(clock: { now: number }) {
  const alarms = new RecordingAlarmControl();
  const replication = stuckReplication(alarms);
  const deps: CutoverDeps = {
    source: async () => 'postgres://unused',
    target: async () => 'postgres://unused',
    tables: { include: [{ schema: 'public' }] },
    replication,
    state: new MemoryStateStore(),
    notifier: new ConsoleNotifier(() => undefined),
    alarms,
    defaults: { applicationRoles: ['app'] },
    now: () => new Date(clock.now),
  };
  const input = parseExecutionInput({ migrationId: 'stuck', mode: 'execute' }, deps);
  return { deps, replication, notices: (deps.notifier as ConsoleNotifier).notices, ctx: createContext(deps, input) };
}

/** The record as the steps before StopReplication leave it: frozen, switched (the point of no return). */
async function pastTheSwitch(deps: CutoverDeps, ctx: ReturnType<typeof createContext>): Promise<void> {
  await deps.state.ensure(ctx.key, 'execute', ctx.iso());
  await deps.state.saveFreezeIfAbsent(ctx.key, {
    roles: [{ role: 'app', canLogin: true, connectionLimit: -1 }],
    frozenAt: ctx.iso(),
  });
  await deps.state.setPointOfNoReturnIfAbsent(ctx.key, { at: '2024-05-01T11:59:00.000Z', what: 'traffic-switched' });
}

describe('stopReplication', () => {
  it('turns the lag alarms off before asking the engine to stop; returns stopped: false while it is still stopping', async () => {
    const clock = { now: Date.parse('2024-05-01T12:00:00Z') };
    const { deps, replication, ctx } = setup(clock);
    await pastTheSwitch(deps, ctx);
    expect(await stopReplication(ctx, { waitMs: 0 })).toMatchObject({ stopped: false, state: 'stopping' });
    expect(replication.stops).toBe(1);
    expect(replication.alarmsAtStop).toEqual(['disable']);
    expect((await deps.state.get(ctx.key))?.phases.stopReplication?.status).toBe('running');
  });

  it('fails when the task is still stopping long after it was asked to stop; the failure after the switch is reported, nothing undone', async () => {
    const clock = { now: Date.parse('2024-05-01T12:00:00Z') };
    const { deps, ctx, notices } = setup(clock);
    await pastTheSwitch(deps, ctx);
    await stopReplication(ctx, { waitMs: 0 });
    clock.now += STOP_GIVE_UP_MS + 1_000;
    const error = (await stopReplication(ctx, { waitMs: 0 }).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/still stopping after 30 minutes/);
    expect((await deps.state.get(ctx.key))?.phases.stopReplication).toMatchObject({ status: 'failed' });

    // what ReportFailureAfterSwitch (its Catch) then runs
    const report = await reportFailureAfterSwitch(ctx, { Error: 'Error', Cause: error.message });
    expect(report).toMatchObject({
      failed: true,
      phase: 'stopReplication',
      replication: 'stopping (status stopping)',
      sourceFrozen: true,
    });
    const record = await deps.state.get(ctx.key);
    expect(record).toMatchObject({ status: 'failed' });
    expect(record?.freeze?.restoredAt).toBeUndefined();
    expect(notices.at(-1)?.subject).toBe('zdm stuck: cutover FAILED after the switch');
    expect(notices.at(-1)?.message).toMatch(
      /FAILED in phase stopReplication after the point of no return.*traffic was switched to the target at 2024-05-01T11:59:00.000Z.*\(stuck task\) is stopping.*still FROZEN/s,
    );
  });

  it('a dry run only reports: no alarm action is touched, the engine is not stopped', async () => {
    const clock = { now: Date.parse('2024-05-01T12:00:00Z') };
    const { deps, replication } = setup(clock);
    const dry = parseExecutionInput({ migrationId: 'stuck' }, deps);
    const ctx = createContext(deps, dry);
    await deps.state.ensure(ctx.key, 'dry-run', ctx.iso());
    expect(await stopReplication(ctx, { waitMs: 0 })).toMatchObject({
      dryRun: true,
      stopped: false,
      state: 'stopping',
      wouldDisableAlarms: true,
    });
    expect(replication.stops).toBe(0);
    expect((deps.alarms as RecordingAlarmControl).calls).toEqual([]);
  });
});
