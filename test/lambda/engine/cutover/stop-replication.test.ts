import { createContext } from '../../../../lambda/engine/cutover/common';
import { parseExecutionInput } from '../../../../lambda/engine/cutover/validate-input';
import { STOP_GIVE_UP_MS, stopReplication } from '../../../../lambda/engine/cutover/stop-replication';
import type { CutoverDeps } from '../../../../lambda/engine/cutover/deps';
import type { ReplicationPort } from '../../../../lambda/engine/ports';
import { ConsoleNotifier, MemoryStateStore, RecordingAlarmControl } from '../../../../rehearsal/local/local-cutover-deps';

/** A replication engine that accepts the stop request but never leaves "stopping" (a stuck DMS task). */
function stuckReplication(): ReplicationPort & { stops: number } {
  return {
    description: 'stuck task',
    stops: 0,
    async status() {
      return { state: 'stopping', fullLoadComplete: true, lagSeconds: null, detail: 'status stopping' };
    },
    async stop() {
      this.stops += 1;
    },
  };
}

function setup(clock: { now: number }) {
  const replication = stuckReplication();
  const deps: CutoverDeps = {
    source: async () => 'postgres://unused',
    target: async () => 'postgres://unused',
    tables: { include: [{ schema: 'public' }] },
    replication,
    state: new MemoryStateStore(),
    notifier: new ConsoleNotifier(() => undefined),
    alarms: new RecordingAlarmControl(),
    defaults: { applicationRoles: ['app'] },
    now: () => new Date(clock.now),
  };
  const input = parseExecutionInput({ migrationId: 'stuck', mode: 'execute' }, deps);
  return { deps, replication, ctx: createContext(deps, input) };
}

describe('stopReplication', () => {
  it('returns stopped: false while the task is still stopping, keeping the phase running', async () => {
    const clock = { now: Date.parse('2024-05-01T12:00:00Z') };
    const { deps, replication, ctx } = setup(clock);
    await deps.state.ensure(ctx.key, 'execute', ctx.iso());
    expect(await stopReplication(ctx, { waitMs: 0 })).toMatchObject({ stopped: false, state: 'stopping' });
    expect(replication.stops).toBe(1);
    expect((await deps.state.get(ctx.key))?.phases.stopReplication?.status).toBe('running');
  });

  it('fails when the task is still stopping long after it was asked to stop', async () => {
    const clock = { now: Date.parse('2024-05-01T12:00:00Z') };
    const { deps, ctx } = setup(clock);
    await deps.state.ensure(ctx.key, 'execute', ctx.iso());
    await stopReplication(ctx, { waitMs: 0 });
    clock.now += STOP_GIVE_UP_MS + 1_000;
    await expect(stopReplication(ctx, { waitMs: 0 })).rejects.toThrow(/still stopping after 30 minutes/);
    expect((await deps.state.get(ctx.key))?.phases.stopReplication).toMatchObject({ status: 'failed' });
  });
});
