import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teardownNativeReplication } from '../../rehearsal/local/native-replication-setup';
import { resolveRehearsalOptions, type RehearsalOptionsInput, type Scenario } from '../../rehearsal/options';
import { replicationName, runRehearsal } from '../../rehearsal/rehearse';
import type { RehearsalReport } from '../../rehearsal/report-json';
import { createDatabasePair, dropPair, serverUrl, sql } from '../support/databases';

/**
 * Each scenario end to end, in-process, against fresh databases on the two jest servers (`--source/--target`
 * style), with a small data set and a short load. Asserts on the report and on the databases.
 */
jest.setTimeout(90_000);

interface Run {
  readonly report: RehearsalReport;
  readonly pair: { name: string; source: string; target: string };
  readonly role: string;
  readonly output: string[];
}

const cleanups: Array<() => Promise<void>> = [];
const dir = mkdtempSync(join(tmpdir(), 'zdm-rehearsal-test-'));
let counter = 0;

async function rehearse(
  scenario: Scenario,
  extra: RehearsalOptionsInput = {},
  signal?: AbortSignal,
  onLine?: (line: string) => void,
): Promise<Run> {
  const n = ++counter;
  const pair = await createDatabasePair(`rh_${scenario.replace(/-/g, '_')}`);
  const role = `app_rh_${process.pid}_${n}`;
  cleanups.push(async () => {
    await teardownNativeReplication({ source: pair.source, target: pair.target, name: replicationName(pair.source) });
    await dropPair(pair.name);
    for (const side of ['source', 'target'] as const) await sql(serverUrl(side), `DROP ROLE IF EXISTS ${role}`);
  });
  const options = resolveRehearsalOptions({
    scenario,
    rows: 2000,
    rate: 200,
    concurrency: 4,
    warmupSeconds: 0.3,
    afterSeconds: 0.5,
    sourceUrl: pair.source,
    targetUrl: pair.target,
    appRole: role,
    keepReplication: true,
    quiet: true,
    pollMs: 20,
    lagThresholdSeconds: 1,
    consecutiveChecks: 2,
    reportPath: join(dir, `${scenario}-${n}.json`),
    migrationId: `rh-${scenario}-${n}`,
    ...extra,
  });
  const output: string[] = [];
  const collect = (line: string): void => {
    output.push(line);
    onLine?.(line);
  };
  const report = await runRehearsal(options, { out: collect, err: collect }, { signal });
  return { report, pair, role, output };
}

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function roleCanLogin(role: string): Promise<boolean> {
  const rows = await sql<{ rolcanlogin: boolean }>(
    serverUrl('source'),
    'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
    [role],
  );
  return rows[0].rolcanlogin;
}

async function subscriptionEnabled(run: Run): Promise<boolean> {
  const rows = await sql<{ subenabled: boolean }>(
    run.pair.target,
    'SELECT subenabled FROM pg_subscription WHERE subname = $1',
    [replicationName(run.pair.source)],
  );
  return rows[0].subenabled;
}

/** Rows the load wrote (they carry a token), on a database. */
async function tokenRows(url: string): Promise<number> {
  const rows = await sql<{ n: string }>(
    url,
    `SELECT (SELECT count(*) FROM app.events WHERE write_token IS NOT NULL)
          + (SELECT count(*) FROM sales.orders WHERE write_token IS NOT NULL)
          + (SELECT count(*) FROM app.customers WHERE signup_token IS NOT NULL) AS n`,
  );
  return Number(rows[0].n);
}

function expectNoLoss(report: RehearsalReport): void {
  expect(report.error).toBeUndefined();
  expect(report.acknowledgedWrites).toBeGreaterThan(50);
  expect(report.lostWrites).toBe(0);
  expect(report.writesFoundOnTarget).toBe(report.acknowledgedWrites);
  expect(report.load.failed).toBe(0);
  expect(report.mismatches).toEqual([]);
  expect(report.ok).toBe(true);
}

describe('npm run rehearse, in-process', () => {
  test('happy: cutover under load, no acknowledged write lost, traffic on the target, source frozen', async () => {
    const run = await rehearse('happy');
    const { report } = run;
    expectNoLoss(report);
    expect(report).toMatchObject({ scenario: 'happy', mode: 'execute', validation: { ok: true } });
    expect(report.cutover.executions).toEqual([expect.objectContaining({ status: 'SUCCEEDED' })]);
    expect(report.acknowledgedOn.source).toBeGreaterThan(0);
    expect(report.acknowledgedOn.target).toBeGreaterThan(0);
    expect(report.actual).toMatchObject({
      froze: true,
      trafficSwitched: true,
      sourceWritable: false,
      replicationStopped: true,
    });
    // The freeze is measured and explained by the phases inside it.
    expect(report.writeFreezeMs).toBeGreaterThan(0);
    expect(report.writeFreezeMs).toBeLessThan(10_000);
    expect(report.freeze.firstWriteAfter?.server).toBe('target');
    // By the source's own clock, nothing committed there after the freeze step reported every session ended.
    expect(report.freeze.sourceCommitsAfterFreeze).toBe(0);
    expect(report.freeze.breakdown.map((b) => b.name)).toEqual(
      expect.arrayContaining([
        'freezeWrites',
        'finalSync',
        'stopReplication',
        'sequences',
        'postValidation',
        'switchTraffic',
      ]),
    );
    const cutoverPhases = report.phases.filter((p) => p.group === 'cutover').map((p) => p.name);
    expect(cutoverPhases).toEqual(expect.arrayContaining(['freezeWrites', 'finalSync', 'switchTraffic', 'done']));
    for (const p of report.phases)
      expect(p).toEqual(expect.objectContaining({ name: expect.any(String), status: expect.any(String) }));

    // The databases: the role is frozen on the source, replication stopped, every token row on the target.
    expect(await roleCanLogin(run.role)).toBe(false);
    expect(await subscriptionEnabled(run)).toBe(false);
    const onTarget = await tokenRows(run.pair.target);
    const { event = 0, order = 0, customer = 0 } = report.acknowledgedByKind;
    expect(onTarget).toBeGreaterThanOrEqual(event + order + customer);
    // Writes acknowledged on the target after the switch are not on the (frozen) source.
    expect(await tokenRows(run.pair.source)).toBeLessThan(onTarget);
    // Sequences were moved past the source's values: inserts on the target did not collide.
    const seq = await sql<{ ok: boolean }>(
      run.pair.target,
      `SELECT (SELECT last_value FROM sales.orders_id_seq) >= (SELECT max(id) FROM sales.orders) AS ok`,
    );
    expect(seq[0].ok).toBe(true);

    const json = JSON.parse(readFileSync(join(dir, 'happy-1.json'), 'utf8')) as RehearsalReport;
    expect(json).toMatchObject({ ok: true, scenario: 'happy', lostWrites: 0, writeFreezeMs: report.writeFreezeMs });
    expect(run.output.join('\n')).toMatch(/lost writes\s+0/);
  });

  test('lag-timeout: the workflow gives up waiting for sync; nothing frozen, the source keeps taking writes', async () => {
    const run = await rehearse('lag-timeout', { syncTimeoutSeconds: 2 });
    const { report } = run;
    expectNoLoss(report);
    expect(report.cutover.executions).toEqual([expect.objectContaining({ status: 'FAILED', error: 'ZdmSyncTimeout' })]);
    expect(report.actual).toMatchObject({
      froze: false,
      trafficSwitched: false,
      sourceWritable: true,
      replicationStopped: false,
    });
    expect(report.acknowledgedOn.target).toBeUndefined();
    expect(report.phases.some((p) => p.group === 'cutover' && p.name === 'freezeWrites')).toBe(false);
    // Nobody waited: the longest pause between commits is nowhere near the sync timeout.
    expect(report.writeFreezeMs).toBeLessThan(2000);
    expect(await roleCanLogin(run.role)).toBe(true);
    expect(await subscriptionEnabled(run)).toBe(true);
  });

  test('fail-during-freeze: rollback restores the source, the load continues there, replication keeps running', async () => {
    const run = await rehearse('fail-during-freeze');
    const { report } = run;
    expectNoLoss(report);
    expect(report.cutover.executions).toEqual([
      expect.objectContaining({ status: 'FAILED', error: 'RehearsalInjectedFailure', lastState: 'RolledBack' }),
    ]);
    expect(report.cutover.migrationStatus).toBe('rolled-back');
    expect(report.actual).toMatchObject({ froze: true, trafficSwitched: false, sourceWritable: true });
    expect(report.acknowledgedOn.target).toBeUndefined();
    // Writes paused during the freeze and resumed on the source after the rollback.
    expect(report.freeze.firstWriteAfter?.server).toBe('source');
    expect(report.load.retries).toBeGreaterThan(0);
    expect(await roleCanLogin(run.role)).toBe(true);
    expect(await subscriptionEnabled(run)).toBe(true);
    // Replication kept running: the target has every token row of the source.
    expect(await tokenRows(run.pair.target)).toBe(await tokenRows(run.pair.source));
  });

  test('resume: the first execution fails after replication stopped; the second resumes and completes', async () => {
    const run = await rehearse('resume');
    const { report } = run;
    expectNoLoss(report);
    expect(report.cutover.executions).toEqual([
      expect.objectContaining({
        status: 'FAILED',
        error: 'RehearsalInjectedFailure',
        lastState: 'FailedAfterReplicationStopped',
      }),
      expect.objectContaining({ status: 'SUCCEEDED' }),
    ]);
    expect(report.actual).toMatchObject({
      resumedSkippedDonePhases: true,
      trafficSwitched: true,
      sourceWritable: false,
      migrationStatus: 'succeeded',
    });
    expect(report.acknowledgedOn.target).toBeGreaterThan(0);
    expect(await roleCanLogin(run.role)).toBe(false);
    expect(await subscriptionEnabled(run)).toBe(false);
  });

  // A dry run never freezes or stops replication, so its post-validation sees rows in flight: it rechecks and warns.
  test('dry-run: the workflow changes nothing; the load stays on the source, replication keeps running', async () => {
    const run = await rehearse('happy', { mode: 'dry-run' });
    const { report } = run;
    expectNoLoss(report);
    expect(report.cutover.executions).toEqual([expect.objectContaining({ status: 'SUCCEEDED' })]);
    expect(report.actual).toMatchObject({
      froze: false,
      trafficSwitched: false,
      sourceWritable: true,
      replicationStopped: false,
    });
    expect(report.acknowledgedOn.target).toBeUndefined();
    expect(report.writeFreezeMs).toBeLessThan(2000);
    expect(await roleCanLogin(run.role)).toBe(true);
    expect(await subscriptionEnabled(run)).toBe(true);
  });

  test('Ctrl-C: an interrupted rehearsal stops its load and removes the replication it created', async () => {
    const controller = new AbortController();
    const pairs = counter + 1;
    const interrupted = rehearse('happy', { keepReplication: false, quiet: false }, controller.signal, (line) => {
      if (line.includes('▶ initial copy')) controller.abort(new Error('SIGINT'));
    });
    await expect(interrupted).rejects.toThrow(/interrupted/);
    const name = `rh_happy_${process.pid}_`;
    const databases = await sql<{ datname: string }>(
      serverUrl('target'),
      `SELECT datname FROM pg_database WHERE datname LIKE $1`,
      [`${name}%`],
    );
    expect(databases.length).toBeGreaterThan(0);
    const latest = databases
      .map((d) => d.datname)
      .sort()
      .pop() as string;
    const target = serverUrl('target', latest);
    const source = serverUrl('source', latest);
    expect(
      await sql(
        target,
        'SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
      ),
    ).toEqual([]);
    expect(await sql(source, 'SELECT pubname FROM pg_publication')).toEqual([]);
    const role = `app_rh_${process.pid}_${pairs}`;
    const sessions = await sql(serverUrl('source'), 'SELECT pid FROM pg_stat_activity WHERE usename = $1', [role]);
    expect(sessions).toEqual([]);
  });
});
