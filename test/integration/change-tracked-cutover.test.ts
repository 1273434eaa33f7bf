/**
 * The flat freeze and the dead man's switch, end to end: the synthesized machine run with the real step handler
 * against two real PostgreSQL servers with native logical replication. Every key changed on either side after
 * tracking started is re-verified before the switch; whatever ends an execution before the switch, the source ends
 * unfrozen and no tracking slot is left.
 */
import { ERRORS, type StepEvent } from '../../contract';
import { createStepHandler } from '../../lambda/engine/cutover/steps';
import { sleep } from '../../lambda/engine/helpers';
import {
  count,
  dropFixtures,
  fixture,
  roleState,
  run,
  stepsRun,
  trackingSlots,
  type Fixture,
} from '../support/cutover-fixture';
import { sql } from '../support/databases';

jest.setTimeout(90_000);

afterAll(dropFixtures);

/** Runs `sql` on the target as a superuser bypassing replication triggers: a change nobody replicated. */
async function changeTargetBehindReplication(f: Fixture, statement: string): Promise<void> {
  await sql(f.target, `SET session_replication_role = replica; ${statement}`);
}

/** The step handler, with `before` run once before the first event of `step`. */
function once(f: Fixture, step: StepEvent['step'], before: () => Promise<void>) {
  const real = createStepHandler(f.deps);
  let done = false;
  return async (event: StepEvent): Promise<unknown> => {
    if (event.step === step && !done) {
      done = true;
      await before();
    }
    return real(event);
  };
}

const NOT_FROZEN = { canLogin: true, connectionLimit: -1 };

describe('a difference the replication cannot explain rolls back before the switch', () => {
  test('a row changed on the target by someone else after its range was verified', async () => {
    const f = await fixture({ rows: 60 });
    const handler = once(f, 'checkLag', () =>
      changeTargetBehindReplication(f, `UPDATE public.orders SET note = 'tampered' WHERE id = 7`),
    );
    const result = await run(f, { migrationId: 'tamper-change', mode: 'execute' }, handler);
    expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.validationFailed, lastState: 'RolledBack' });
    expect(result.cause).toMatch(/public\.orders: 1 row\(s\) — changed \(id\)=\(7\)/);
    expect(stepsRun(result)).not.toContain('SwitchTraffic');
    expect(await roleState(f)).toEqual(NOT_FROZEN);
    expect(await trackingSlots(f)).toEqual([]);
  });

  test('an extra row and a deleted row on the target', async () => {
    const f = await fixture({ rows: 40 });
    const handler = once(f, 'checkLag', () =>
      changeTargetBehindReplication(
        f,
        `INSERT INTO public.orders (id, note) VALUES (100000, 'ghost'); DELETE FROM public.orders WHERE id = 3`,
      ),
    );
    const result = await run(f, { migrationId: 'tamper-rows', mode: 'execute' }, handler);
    expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.validationFailed, lastState: 'RolledBack' });
    expect(result.cause).toContain('extra (id)=(100000)');
    expect(result.cause).toContain('missing (id)=(3)');
    expect(stepsRun(result)).not.toContain('SwitchTraffic');
    expect(await roleState(f)).toEqual(NOT_FROZEN);
  });
});

describe('changes replication does carry are re-verified and pass', () => {
  test('a primary-key update on the source: old and new key both re-verified', async () => {
    const f = await fixture({ rows: 30 });
    const handler = once(f, 'checkLag', async () => {
      await sql(f.source, `UPDATE public.orders SET id = 5000 WHERE id = 5`);
    });
    const result = await run(f, { migrationId: 'pk-update', mode: 'execute' }, handler);
    expect({ status: result.status, cause: result.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    const record = f.deps.state.snapshot()['pk-update'];
    expect(record.tracking?.keysVerified).toBeGreaterThanOrEqual(2);
    expect(await count(f.target)).toBe(30);
    expect(await sql(f.target, `SELECT id FROM public.orders WHERE id IN (5, 5000)`)).toEqual([{ id: '5000' }]);
  });

  test('a TRUNCATE on the source while waiting is re-verified by ranges', async () => {
    const f = await fixture({ rows: 30 });
    const handler = once(f, 'checkLag', async () => {
      await sql(f.source, `TRUNCATE public.orders; INSERT INTO public.orders (note) VALUES ('after truncate')`);
    });
    const result = await run(f, { migrationId: 'truncate', mode: 'execute' }, handler);
    expect({ status: result.status, cause: result.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    expect(await count(f.target)).toBe(1);
    const checks = result.events.filter((e) => e.state === 'CheckLag' && e.type === 'StateExited').length;
    expect(checks).toBeGreaterThanOrEqual(2);
  });

  test('a burst of 100,000 row updates while waiting', async () => {
    const f = await fixture({ rows: 2000 });
    const handler = once(f, 'checkLag', async () => {
      await sql(
        f.source,
        `DO $$ BEGIN FOR i IN 1..50 LOOP UPDATE public.orders SET amount = coalesce(amount, 0) + 1; END LOOP; END $$`,
      );
    });
    const result = await run(f, { migrationId: 'burst', mode: 'execute' }, handler);
    expect({ status: result.status, cause: result.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    const record = f.deps.state.snapshot().burst;
    expect(record.tracking?.changesRead).toBeGreaterThanOrEqual(100_000);
    // The proof inside the freeze re-verifies keys still in flight (at most the 2,000 distinct ones), not 100k rows.
    expect(record.phases.changeProof?.summary?.keysVerified).toBeLessThanOrEqual(2000);
  });
});

test('dry run: tracking slots are created and dropped, nothing else changes', async () => {
  const f = await fixture({ rows: 20 });
  const result = await run(f, { migrationId: 'dry-track', mode: 'dry-run' });
  expect(result.status).toBe('SUCCEEDED');
  expect(stepsRun(result)).toContain('StartTracking');
  expect(await trackingSlots(f)).toEqual([]);
  expect(await roleState(f)).toEqual(NOT_FROZEN);
});

describe("the dead man's switch", () => {
  test('an execution that times out after the freeze is restored by the watchdog', async () => {
    const f = await fixture({ rows: 20 });
    // The final sync hangs (the marker is late) past the execution's timeout.
    const handler = once(f, 'finalSync', () => sleep(2500));
    const result = await run(f, { migrationId: 'timeout', mode: 'execute' }, handler, { timeoutMs: 2000 });
    expect(result.status).toBe('TIMED_OUT');
    expect(stepsRun(result)).toContain('FreezeWrites');
    expect(result.watchdog).toMatchObject({ outcome: 'restored', restoredRoles: [f.role] });
    expect(await roleState(f)).toEqual(NOT_FROZEN);
    expect(await trackingSlots(f)).toEqual([]);
    expect(f.deps.notifier.notices.some((n) => n.subject.includes('execution ended — restored'))).toBe(true);
  });

  test('an execution aborted after the freeze is restored by the watchdog', async () => {
    const f = await fixture({ rows: 20 });
    const controller = new AbortController();
    const handler = once(f, 'finalSync', async () => {
      controller.abort();
      await sleep(200);
    });
    const result = await run(f, { migrationId: 'abort', mode: 'execute' }, handler, { signal: controller.signal });
    expect(result.status).toBe('ABORTED');
    expect(result.watchdog).toMatchObject({ outcome: 'restored' });
    expect(await roleState(f)).toEqual(NOT_FROZEN);
    expect(await trackingSlots(f)).toEqual([]);
  });

  test('past the point of no return the watchdog leaves the source frozen and says so', async () => {
    const f = await fixture({ rows: 20 });
    const controller = new AbortController();
    const handler = once(f, 'stopReplication', async () => {
      controller.abort();
      await sleep(200);
    });
    const result = await run(f, { migrationId: 'abort-late', mode: 'execute' }, handler, {
      signal: controller.signal,
    });
    expect(result.status).toBe('ABORTED');
    expect(result.watchdog).toMatchObject({ outcome: 'past-point-of-no-return' });
    expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });
  });

  test('a failure at StopReplication after the switch reports the real replication state', async () => {
    const f = await fixture({
      rows: 20,
      replication: (real) => ({
        description: real.description,
        status: () => real.status(),
        stop: async () => {
          throw new Error('target unreachable');
        },
      }),
    });
    const result = await run(f, { migrationId: 'stop-fails', mode: 'execute' });
    expect(result).toMatchObject({ status: 'FAILED', lastState: 'FailedAfterSwitch' });
    const notice = f.deps.notifier.notices.find((n) => n.subject.includes('FAILED after the switch'));
    expect(notice?.message).toMatch(/forward replication \(.*\) is running/);
    expect(notice?.message).not.toContain('is stopped');
  });
});
