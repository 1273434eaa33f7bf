/**
 * Executes the state machine the CutoverWorkflow construct synthesizes (aws-local-stepfunctions), with every
 * Task state mapped to the REAL step handler, against two real PostgreSQL 16 servers with native logical
 * replication between them. Assertions are on database state.
 */
import { Client } from 'pg';
import { CutoverError, ERRORS, type StepEvent } from '../../contract';
import { createStepHandler } from '../../lambda/engine/cutover/steps';
import type { ReplicationPort } from '../../lambda/engine/ports';
import { NativeLogicalReplication } from '../../lambda/engine/replication/native-logical-replication';
import { createLocalCutoverDeps, type LocalCutoverDeps } from '../../rehearsal/local/local-cutover-deps';
import {
  setupNativeReplication,
  teardownNativeReplication,
  waitForNativeSync,
} from '../../rehearsal/local/native-replication-setup';
import { runCutover, synthesizeCutoverDefinition, type CutoverRunResult } from '../../rehearsal/local/run-state-machine';
import { createDatabasePair, dropPair, sql, roleSettings, subscriptionEnabled } from '../support/databases';

jest.setTimeout(60_000);

const TABLES = { include: [{ schema: 'public', table: 'orders' }] };
let definition: string;

beforeAll(async () => {
  definition = await synthesizeCutoverDefinition({ validationMaxConcurrency: 2 });
});

interface Fixture {
  readonly name: string;
  readonly source: string;
  readonly target: string;
  readonly role: string;
  readonly deps: LocalCutoverDeps;
  readonly replication: NativeLogicalReplication;
}

const fixtures: Fixture[] = [];
let counter = 0;

async function fixture(
  options: { rows?: number; replication?: (real: ReplicationPort) => ReplicationPort } = {},
): Promise<Fixture> {
  const pair = await createDatabasePair('zdm_sm');
  const role = `zdm_app_${process.pid}_${++counter}`;
  await sql(pair.source, `DROP ROLE IF EXISTS ${role}`);
  await sql(pair.source, `CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
  const ddl = `CREATE TABLE public.orders (id bigserial PRIMARY KEY, note text NOT NULL, amount numeric(12,2))`;
  await sql(pair.source, ddl);
  await sql(pair.target, ddl);
  await sql(pair.source, `GRANT ALL ON public.orders, public.orders_id_seq TO ${role}`);
  await sql(
    pair.source,
    `INSERT INTO public.orders (note, amount) SELECT 'order ' || g, g * 1.5 FROM generate_series(1, $1::int) g`,
    [options.rows ?? 300],
  );
  await setupNativeReplication({ source: pair.source, target: pair.target, tables: TABLES, name: pair.name });
  await waitForNativeSync(pair.target, pair.name);
  const replication = new NativeLogicalReplication({
    source: pair.source,
    target: pair.target,
    subscription: pair.name,
  });
  const deps = createLocalCutoverDeps({
    sourceUrl: pair.source,
    targetUrl: pair.target,
    tables: TABLES,
    replication: options.replication ? options.replication(replication) : replication,
    defaults: {
      applicationRoles: [role],
      lagThresholdSeconds: 5,
      consecutiveChecks: 2,
      syncTimeoutSeconds: 30,
      finalSyncTimeoutSeconds: 10,
    },
    rowsPerRange: 100,
  });
  const f = { name: pair.name, source: pair.source, target: pair.target, role, deps, replication };
  fixtures.push(f);
  return f;
}

afterAll(async () => {
  for (const f of fixtures) {
    await teardownNativeReplication({ source: f.source, target: f.target, name: f.name }).catch(() => undefined);
    await dropPair(f.name).catch(() => undefined);
    await sql(f.source.replace(/\/[^/]+$/, '/postgres'), `DROP ROLE IF EXISTS ${f.role}`).catch(() => undefined);
  }
});

function run(
  f: Fixture,
  input: Record<string, unknown>,
  stepHandler: (event: StepEvent) => Promise<unknown> = createStepHandler(f.deps),
): Promise<CutoverRunResult> {
  return runCutover({ definition, stepHandler, input, waitTimeOverrideMs: 50 });
}

async function roleState(f: Fixture): Promise<{ canLogin: boolean; connectionLimit: number }> {
  return roleSettings(f.source, f.role);
}

async function subscriptionOn(f: Fixture): Promise<boolean> {
  return subscriptionEnabled(f.target, f.name);
}

async function count(url: string): Promise<number> {
  return Number((await sql<{ n: string }>(url, `SELECT count(*) AS n FROM public.orders`))[0].n);
}

async function targetSequence(f: Fixture): Promise<{ last: number; called: boolean }> {
  const [r] = await sql<{ last_value: string; is_called: boolean }>(
    f.target,
    `SELECT last_value, is_called FROM public.orders_id_seq`,
  );
  return { last: Number(r.last_value), called: r.is_called };
}

async function sourceMaxId(f: Fixture): Promise<number> {
  return Number((await sql<{ m: string }>(f.source, `SELECT max(id) AS m FROM public.orders`))[0].m);
}

/** Logs in as the application role and writes a row: proves the source accepts its writes. */
async function appCanWrite(f: Fixture): Promise<void> {
  const url = new URL(f.source);
  url.username = f.role;
  url.password = 'app';
  const c = new Client(url.toString());
  await c.connect();
  try {
    await c.query(`INSERT INTO public.orders (note) VALUES ('after rollback')`);
  } finally {
    await c.end();
  }
}

/** The workflow's change-tracking slots left on either server for this fixture's databases. */
async function trackingSlots(f: Fixture): Promise<string[]> {
  const slots: string[] = [];
  for (const url of [f.source, f.target]) {
    const rows = await sql<{ slot_name: string }>(
      url,
      `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'zdm\\_trk\\_%' AND database = current_database()`,
    );
    slots.push(...rows.map((r) => r.slot_name));
  }
  return slots;
}

const stepsRun = (r: CutoverRunResult): string[] =>
  r.events.filter((e) => e.type === 'StateEntered' && e.step && e.index === undefined).map((e) => e.state);

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
  const result = await run(f, { migrationId: 'orders-lag', mode: 'execute', syncTimeoutSeconds: 1 });
  expect(result).toMatchObject({ status: 'FAILED', error: ERRORS.syncTimeout, lastState: 'RolledBack' });
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
});

test('approval rejected: rolls back before the freeze', async () => {
  const f = await fixture({ rows: 5 });
  const result = await runCutover({
    definition,
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
