/**
 * Every row proven, or no switch: the cases a hostile tester found switching traffic with rows missing or writes
 * lost, each run through the synthesized machine against two real PostgreSQL servers with native replication.
 */
import { Client } from 'pg';
import { ERRORS } from '../../contract';
import { createStepHandler } from '../../lambda/engine/cutover/steps';
import type { StepEvent } from '../../contract';
import {
  dropFixtures,
  fixture,
  roleState,
  run,
  stepsRun,
  trackingSlots,
  type Fixture,
} from '../support/cutover-fixture';
import { sql } from '../support/databases';

jest.setTimeout(120_000);

afterAll(dropFixtures);

const NOT_FROZEN = { canLogin: true, connectionLimit: -1 };

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

describe('a difference is a difference until it is proven gone', () => {
  test('rows deleted and changed on the target before the cutover: no switch, table, keys and columns named', async () => {
    const f = await fixture({ rows: 60 });
    // After the initial copy, behind replication's back: these rows never change again on the source.
    await sql(
      f.target,
      `SET session_replication_role = replica;
       DELETE FROM public.orders WHERE id BETWEEN 1 AND 10;
       UPDATE public.orders SET note = 'edited on the target' WHERE id BETWEEN 20 AND 24`,
    );
    const result = await run(f, { migrationId: 'pre-existing', mode: 'execute' });
    expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.validationFailed, lastState: 'RolledBack' });
    expect(stepsRun(result)).not.toContain('FreezeWrites');
    expect(stepsRun(result)).not.toContain('SwitchTraffic');
    expect(result.cause).toContain('public.orders: 15 row(s)');
    expect(result.cause).toMatch(/missing \(id\)=\(\d+\) on the target|changed \(id\)=\(2\d\) in note/);
    const record = f.deps.state.snapshot()['pre-existing'];
    expect(record.phases.preValidation?.summary).toMatchObject({ pendingTables: 1 });
    expect(await roleState(f)).toEqual(NOT_FROZEN);
    expect(await trackingSlots(f)).toEqual([]);
  });

  test('a difference that converges (the row is fixed on the target) does not stop the cutover', async () => {
    const f = await fixture({ rows: 30 });
    await sql(f.target, `SET session_replication_role = replica; UPDATE public.orders SET note = 'stale' WHERE id = 3`);
    // Fixed during the wait: the pending key is re-verified equal and leaves the pending set.
    const handler = once(f, 'checkLag', () =>
      sql(
        f.target,
        `SET session_replication_role = replica; UPDATE public.orders t SET note = 'order 3' WHERE id = 3`,
      ).then(() => undefined),
    );
    const result = await run(f, { migrationId: 'converges', mode: 'execute' }, handler);
    expect({ status: result.status, cause: result.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    const record = f.deps.state.snapshot().converges;
    expect(record.phases.preValidation?.summary).toMatchObject({ pendingTables: 1 });
  });
});

describe('writers the freeze does not block', () => {
  test('a second login role that can write, with a session open: refused in Preflight, nothing frozen; acknowledged: it runs', async () => {
    const f = await fixture({ rows: 10 });
    const writer = `${f.role}_batch`;
    await sql(f.source, `DROP ROLE IF EXISTS ${writer}`);
    await sql(f.source, `CREATE ROLE ${writer} LOGIN PASSWORD 'batch'`);
    await sql(f.source, `GRANT INSERT ON public.orders TO ${writer}`);
    const url = new URL(f.source);
    url.username = writer;
    url.password = 'batch';
    const session = new Client({ connectionString: url.toString() });
    session.on('error', () => undefined);
    await session.connect();
    try {
      const refused = await run(f, { migrationId: 'second-writer', mode: 'execute' });
      expect(refused).toMatchObject({ status: 'FAILED', lastState: 'RolledBack' });
      expect(refused.cause).toContain(`role "${writer}"`);
      expect(refused.cause).toContain('1 session(s) open in this database now');
      expect(stepsRun(refused)).not.toContain('FreezeWrites');
      expect(await roleState(f)).toEqual(NOT_FROZEN);

      const acknowledged = await run(f, {
        migrationId: 'second-writer-acknowledged',
        mode: 'dry-run',
        acknowledgedWriters: [writer],
      });
      expect({ status: acknowledged.status, cause: acknowledged.cause }).toEqual({
        status: 'SUCCEEDED',
        cause: undefined,
      });
    } finally {
      await session.end();
      await sql(f.source, `DROP OWNED BY ${writer}; DROP ROLE IF EXISTS ${writer}`).catch(() => undefined);
    }
  });

  test('a transaction open across the freeze by a role that is not frozen: the freeze waits, then rolls back naming it', async () => {
    const f = await fixture({ rows: 20 });
    const other = new Client({ connectionString: f.source, application_name: 'batch-job' });
    await other.connect();
    try {
      const handler = once(f, 'freezeWrites', async () => {
        // A superuser's UPDATE, still open when the application roles are frozen.
        await other.query('BEGIN');
        await other.query(`UPDATE public.orders SET amount = 0 WHERE id <= 5`);
      });
      const result = await run(f, { migrationId: 'in-flight', mode: 'execute', writersInFlightSeconds: 1 }, handler);
      expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.writersInFlight, lastState: 'RolledBack' });
      expect(result.cause).toMatch(
        /pid \d+ \(role "postgres", transaction [\d.]+ s old, idle in transaction\) on public\.orders/,
      );
      // Literals are blanked: a statement may hold data.
      expect(result.cause).toContain('UPDATE public.orders SET amount = 0 WHERE id <= 0');
      expect(stepsRun(result)).not.toContain('FinalSync');
      expect(await roleState(f)).toEqual(NOT_FROZEN);
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await other.end();
    }
  });

  test('a writer in flight that commits within the bound is waited for, and its write reaches the target', async () => {
    const f = await fixture({ rows: 20 });
    const other = new Client({ connectionString: f.source, application_name: 'batch-job' });
    await other.connect();
    try {
      let commit: Promise<unknown> | undefined;
      const handler = once(f, 'freezeWrites', async () => {
        await other.query('BEGIN');
        await other.query(`UPDATE public.orders SET note = 'committed inside the wait' WHERE id = 2`);
        commit = other.query(`SELECT pg_sleep(0.5); COMMIT`);
      });
      const result = await run(f, { migrationId: 'waited', mode: 'execute', writersInFlightSeconds: 20 }, handler);
      await commit;
      expect({ status: result.status, cause: result.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
      const freeze = f.deps.state.snapshot().waited.phases.freezeWrites?.summary;
      expect(freeze).toMatchObject({ writersWaitedFor: 1 });
      expect(await sql(f.target, `SELECT note FROM public.orders WHERE id = 2`)).toEqual([
        { note: 'committed inside the wait' },
      ]);
    } finally {
      await other.end();
    }
  });
});

test('a write after the marker by a role that was not frozen ends the execution in LateWritesFound', async () => {
  const f = await fixture({ rows: 20 });
  const handler = once(f, 'syncSequences', async () => {
    await sql(f.source, `INSERT INTO public.orders (note) VALUES ('written during the freeze')`);
  });
  const result = await run(f, { migrationId: 'late', mode: 'execute' }, handler);
  expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.lateWrites, lastState: 'LateWritesFound' });
  expect(stepsRun(result)).toContain('SwitchTraffic');
  expect(result.cause).toMatch(
    /1 change\(s\) reached the source after the final-sync marker .*public\.orders: 1 key\(s\) \(id\)=\(21\)/,
  );
  const subjects = f.deps.notifier.notices.map((n) => n.subject);
  expect(subjects).toEqual(
    expect.arrayContaining([
      expect.stringContaining('WRITES ON THE SOURCE AFTER THE FREEZE'),
      expect.stringContaining('LATE WRITES after the switch'),
    ]),
  );
  // The evidence is kept: the source's tracking slot holds the late change.
  expect((await trackingSlots(f)).length).toBeGreaterThan(0);
  await sql(
    f.source,
    // Only this fixture's database: the servers are shared with other test files, whose slots are theirs.
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
      WHERE slot_name LIKE 'zdm\\_trk\\_%' AND NOT active AND database = current_database()`,
  );
  await sql(
    f.target,
    // Only this fixture's database: the servers are shared with other test files, whose slots are theirs.
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
      WHERE slot_name LIKE 'zdm\\_trk\\_%' AND NOT active AND database = current_database()`,
  );
});

test('DDL on a replicated source table while waiting for sync is named, with the fix', async () => {
  const f = await fixture({ rows: 20, defaults: { syncTimeoutSeconds: 90 } });
  const handler = once(f, 'checkLag', async () => {
    await sql(f.source, `ALTER TABLE public.orders ADD COLUMN dba_note text`);
    // A change that carries the new column: the subscriber cannot apply it.
    await sql(f.source, `UPDATE public.orders SET dba_note = 'x' WHERE id = 1`);
  });
  const result = await run(f, { migrationId: 'ddl', mode: 'execute' }, handler);
  expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.replicationFailed, lastState: 'RolledBack' });
  expect(result.cause).toContain('blocked by a schema change');
  expect(result.cause).toContain('dba_note');
  expect(result.cause).toMatch(/fix on the target: ALTER TABLE "public"\."orders" ADD COLUMN "dba_note"/);
  expect(f.deps.notifier.notices.some((n) => n.subject.includes('schema changed'))).toBe(true);
  expect(stepsRun(result)).not.toContain('FreezeWrites');
  await sql(f.target, `ALTER TABLE public.orders ADD COLUMN dba_note text`);
});
