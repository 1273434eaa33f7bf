/**
 * Executes the state machine the CutoverWorkflow construct synthesizes (aws-local-stepfunctions), with every
 * Task state mapped to the REAL step handler, against two real PostgreSQL 16 servers with native logical
 * replication between them. Assertions are on database state.
 */
import { CutoverError, ERRORS, type StepEvent } from '../../contract';
import { createStepHandler } from '../../lambda/engine/cutover/steps';
import { runCutover } from '../../rehearsal/local/run-state-machine';
import {
  appCanWrite,
  count,
  cutoverDefinition,
  dropFixtures,
  fixture,
  roleState,
  run,
  sourceMaxId,
  stepsRun,
  subscriptionOn,
  targetSequence,
  trackingSlots,
} from '../support/cutover-fixture';
import { sql } from '../support/databases';

jest.setTimeout(60_000);

afterAll(dropFixtures);

test('execute: target has every row, sequences past the source, source roles frozen, replication stopped', async () => {
  const f = await fixture();
  // live writes while it runs
  await sql(f.source, `INSERT INTO public.orders (note) SELECT 'late ' || g FROM generate_series(1, 50) g`);
  const result = await run(f, { migrationId: 'orders-happy', mode: 'execute' });
  expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'SUCCEEDED' });
  const steps = stepsRun(result);
  expect(steps.filter((s) => s !== 'CheckLag')).toEqual([
    'ValidateInput',
    'Preflight',
    'StartTracking',
    'PlanPreValidation',
    'AggregatePreValidation',
    // the read-first switch (none configured here: it records the phase as skipped)
    'SwitchReads',
    // the write freeze: O(1) and O(changes) steps only, no full validation
    'FreezeWrites',
    'FinalSync',
    'ProveChanges',
    'SyncSequences',
    'SwitchTraffic',
    // after the switch (the point of no return)
    'StopReplication',
    'CheckLateWrites',
    'DropTracking',
    'Complete',
  ]);
  expect(steps.filter((s) => s === 'CheckLag').length).toBeGreaterThanOrEqual(2);
  expect(await trackingSlots(f)).toEqual([]);
  const record = f.deps.state.snapshot()['orders-happy'];
  expect(record.pointOfNoReturn).toMatchObject({ what: 'handed-over' });
  expect(record.phases.changeProof?.summary).toMatchObject({ keysVerified: expect.any(Number) });
  expect(await count(f.target)).toBe(await count(f.source));
  expect(await count(f.target)).toBe(350);
  const seq = await targetSequence(f);
  expect(seq.last).toBeGreaterThanOrEqual(await sourceMaxId(f));
  expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });
  expect(await subscriptionOn(f)).toBe(false);
  expect(f.deps.state.snapshot()['orders-happy'].status).toBe('succeeded');
});

test('dry run changes nothing: roles, subscription and sequences as they were', async () => {
  const f = await fixture();
  const before = { role: await roleState(f), seq: await targetSequence(f) };
  const result = await run(f, { migrationId: 'orders-dry', mode: 'dry-run' });
  expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'SUCCEEDED' });
  expect(await roleState(f)).toEqual(before.role);
  expect(await targetSequence(f)).toEqual(before.seq);
  expect(await subscriptionOn(f)).toBe(true);
  expect(await trackingSlots(f)).toEqual([]);
  await appCanWrite(f);
});

test('waits, after the switch, for a replication stop that outlasts one StopReplication invocation', async () => {
  // DMS takes minutes to go from "stopping" to "stopped"; one invocation waits a bounded time only.
  let stopRequested = false;
  let stoppingReads = 0;
  const f = await fixture({
    rows: 40,
    replication: (real) => ({
      description: `${real.description} (slow to stop)`,
      status: async () => {
        if (stopRequested && stoppingReads < 3) {
          stoppingReads += 1;
          return { state: 'stopping', fullLoadComplete: true, lagSeconds: 0 };
        }
        return real.status();
      },
      stop: async () => {
        stopRequested = true;
        await real.stop();
      },
    }),
  });
  const result = await run(
    f,
    { migrationId: 'orders-slow-stop', mode: 'execute' },
    createStepHandler({ ...f.deps, stopWaitMs: 0 }),
  );
  expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'SUCCEEDED' });
  const steps = stepsRun(result);
  expect(steps.filter((s) => s === 'StopReplication').length).toBeGreaterThan(1);
  expect(steps.indexOf('SwitchTraffic')).toBeLessThan(steps.indexOf('StopReplication'));
  expect(steps.lastIndexOf('StopReplication')).toBeLessThan(steps.indexOf('CheckLateWrites'));
  expect(f.deps.state.snapshot()['orders-slow-stop'].phases.stopReplication).toMatchObject({
    status: 'succeeded',
    summary: { stopped: true },
  });
});

test('lag never converges: times out through Rollback, nothing changed', async () => {
  const f = await fixture({
    rows: 20,
    replication: (real) => ({
      description: `${real.description} (held back)`,
      status: async () => ({ ...(await real.status()), lagSeconds: 999 }),
      stop: () => real.stop(),
    }),
  });
  const result = await run(f, { migrationId: 'orders-lag', mode: 'execute', syncTimeoutSeconds: 4 });
  // (the cause is in the comparison: a failure names what went wrong instead)
  expect({ ...result, cause: result.error === ERRORS.syncTimeout ? undefined : result.cause }).toMatchObject({
    status: 'FAILED',
    error: ERRORS.syncTimeout,
    lastState: 'RolledBack',
    cause: undefined,
  });
  expect(stepsRun(result)).not.toContain('FreezeWrites');
  expect(stepsRun(result).filter((s) => s === 'CheckLag').length).toBeGreaterThan(1);
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  expect(await subscriptionOn(f)).toBe(true);
  await appCanWrite(f);
});

test('final sync fails after the freeze: rolls back, the source accepts logins and writes again', async () => {
  const f = await fixture({ rows: 50 });
  const real = createStepHandler(f.deps);
  const handler = async (event: StepEvent): Promise<unknown> => {
    if (event.step === 'finalSync') {
      // replication breaks right after the freeze: the marker never reaches the target
      await sql(f.target, `ALTER SUBSCRIPTION ${f.name} DISABLE`);
    }
    return real(event);
  };
  const result = await run(f, { migrationId: 'orders-final', mode: 'execute', finalSyncTimeoutSeconds: 1 }, handler);
  expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.finalSyncTimeout, lastState: 'RolledBack' });
  expect(stepsRun(result)).toContain('FreezeWrites');
  expect(stepsRun(result)).not.toContain('StopReplication');
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  await appCanWrite(f);
});

test('a failed execution re-run with the same migrationId resumes and completes', async () => {
  const f = await fixture({ rows: 120 });
  const real = createStepHandler(f.deps);
  let failOnce = true;
  const flaky = async (event: StepEvent): Promise<unknown> => {
    if (event.step === 'checkLateWrites' && failOnce) {
      failOnce = false;
      throw new Error('connection reset by peer');
    }
    return real(event);
  };
  const first = await run(f, { migrationId: 'orders-resume', mode: 'execute' }, flaky);
  expect(first).toMatchObject({
    status: 'FAILED',
    lastState: 'FailedAfterSwitch',
    cause: 'connection reset by peer',
  });
  expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });

  const second = await run(f, { migrationId: 'orders-resume', mode: 'execute' }, flaky);
  expect({ status: second.status, error: second.error, cause: second.cause }).toEqual({ status: 'SUCCEEDED' });
  const results = (second.output as { results: Record<string, { skipped?: boolean }> }).results;
  for (const done of ['freezeWrites', 'finalSync', 'proveChanges', 'syncSequences', 'switchTraffic', 'stopReplication'])
    expect(results[done]).toMatchObject({ skipped: true });
  expect(results.checkLateWrites?.skipped).toBeFalsy();
  expect(await trackingSlots(f)).toEqual([]);
  expect((await targetSequence(f)).last).toBeGreaterThanOrEqual(await sourceMaxId(f));
  expect(await count(f.target)).toBe(await count(f.source));
  expect(f.deps.state.snapshot()['orders-resume'].status).toBe('succeeded');
});

test('bad input is rejected before anything is touched', async () => {
  const f = await fixture({ rows: 5 });
  const result = await run(f, { migrationId: 'no spaces allowed', mode: 'explode' });
  expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.badInput, lastState: 'InvalidInput' });
  expect(stepsRun(result)).toEqual(['ValidateInput']);
  expect(Object.keys(f.deps.state.snapshot())).toEqual([]);
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  expect(await subscriptionOn(f)).toBe(true);
  // an execution input that is not an object gets the same input error, not States.Runtime
  const array = await run(f, [] as never);
  expect(array).toMatchObject({ status: 'FAILED', error: ERRORS.badInput, lastState: 'InvalidInput' });
});

test('approval rejected: rolls back before the freeze', async () => {
  const f = await fixture({ rows: 5 });
  const result = await runCutover({
    definition: await cutoverDefinition(),
    stepHandler: createStepHandler(f.deps),
    input: { migrationId: 'orders-reject', mode: 'execute', requireApproval: true },
    waitTimeOverrideMs: 50,
    approve: ({ taskToken }) => {
      expect(taskToken).toMatch(/^local-task-token-/);
      return 'reject';
    },
  });
  expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.rejected, lastState: 'RolledBack' });
  expect(stepsRun(result)).toContain('RequestApproval');
  expect(stepsRun(result)).not.toContain('FreezeWrites');
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  void CutoverError;
});

test('a database error in one lag look is tried once more (step errors never are: definition.test)', async () => {
  const f = await fixture({ rows: 10 });
  const real = createStepHandler(f.deps);
  let failures = 0;
  const handler = async (event: StepEvent): Promise<unknown> => {
    if (event.step === 'checkLag' && failures === 0) {
      failures++;
      // as pg names its errors (DatabaseError.name)
      throw Object.assign(new Error('cache lookup failed for relation 12345'), { name: 'error' });
    }
    return real(event);
  };
  const result = await run(f, { migrationId: 'lag-retried', mode: 'dry-run' }, handler);
  expect({ status: result.status, cause: result.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
  expect(failures).toBe(1);
});
