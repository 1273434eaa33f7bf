import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FREEZE_PHASES } from '../../contract';
import { resolveRehearsalOptions, type RehearsalOptionsInput, type Scenario } from '../../rehearsal/options';
import { runRehearsal } from '../../rehearsal/rehearse';
import type { RehearsalReport } from '../../rehearsal/report/report-json';
import {
  createSuperuser,
  dropSuperuser,
  freshPair,
  rehearsalObjects,
  removePair,
  type Pair,
  type Superuser,
} from './helpers';

/**
 * Each scenario end to end, in-process, with the demo schema (`--demo`) on fresh databases of the two jest
 * servers, a small data set and a short load. Asserts on the report, and that the servers are left as they were.
 */
jest.setTimeout(120_000);

interface Run {
  readonly report: RehearsalReport;
  readonly pair: Pair;
  readonly output: string[];
}

const pairs: Pair[] = [];
const dir = mkdtempSync(join(tmpdir(), 'zdm-rehearsal-test-'));
let su: Superuser;
let counter = 0;

beforeAll(async () => {
  su = await createSuperuser();
});

afterAll(async () => {
  for (const p of pairs) await removePair(p);
  await dropSuperuser(su);
  rmSync(dir, { recursive: true, force: true });
});

async function rehearse(scenario: Scenario, extra: RehearsalOptionsInput = {}): Promise<Run> {
  const n = ++counter;
  const pair = await freshPair(`rh_${scenario.replace(/-/g, '_')}`, su);
  pairs.push(pair);
  const options = resolveRehearsalOptions({
    scenario,
    demo: true,
    rows: 2000,
    rate: 200,
    concurrency: 4,
    warmupSeconds: 0.3,
    afterSeconds: 0.5,
    sourceUrl: pair.source,
    targetUrl: pair.target,
    quiet: true,
    pollMs: 20,
    lagThresholdSeconds: 1,
    consecutiveChecks: 2,
    reportPath: join(dir, `${scenario}-${n}.json`),
    migrationId: `rehearsal-${scenario}-${n}`,
    ...extra,
  });
  const output: string[] = [];
  const report = await runRehearsal(options, { out: (l) => output.push(l), err: (l) => output.push(l) });
  return { report, pair, output };
}

function expectNoLoss(report: RehearsalReport): void {
  expect(report.failedBecause).toEqual([]);
  expect(report.error).toBeUndefined();
  expect(report.acknowledgedWrites).toBeGreaterThan(50);
  expect(report.lostWrites).toBe(0);
  expect(report.writesFoundOnTarget).toBe(report.acknowledgedWrites);
  expect(report.load.failed).toBe(0);
  expect(report.mismatches).toEqual([]);
  expect(report.ok).toBe(true);
}

/** The servers are as they were: nothing of the rehearsal's is left, and the summary says so. */
async function expectLeftAsTheyWere(run: Run): Promise<void> {
  expect(await rehearsalObjects(run.pair)).toEqual([]);
  expect(run.report.servers.state).toMatchObject({ embedded: false, leftBehind: [] });
  expect(run.output.join('\n')).toMatch(/left behind +nothing/);
}

describe('npm run rehearse --demo, in-process', () => {
  test('happy: cutover under load, no acknowledged write lost, traffic on the target; the source is restored after', async () => {
    const run = await rehearse('happy');
    const { report } = run;
    expectNoLoss(report);
    expect(report.cutover.executions).toEqual([expect.objectContaining({ status: 'SUCCEEDED' })]);
    expect(report.acknowledgedOn.source).toBeGreaterThan(0);
    expect(report.acknowledgedOn.target).toBeGreaterThan(0);
    expect(report.actual).toMatchObject({
      froze: true,
      trafficSwitched: true,
      sourceWritable: false,
      replicationStopped: true,
    });
    // The freeze is measured, ended with a write on the target, and explained by every phase inside it.
    expect(report.freeze.status).toBe('ended');
    expect(report.writeFreezeMs).toBeGreaterThan(0);
    expect(report.writeFreezeMs).toBeLessThan(10_000);
    expect(report.freeze.firstWriteAfter?.server).toBe('target');
    expect(report.freeze.sourceCommitsAfterFreeze).toBe(0);
    const ran = FREEZE_PHASES.filter((p) => report.cutover.phases.some((c) => c.name === p && c.status !== 'skipped'));
    expect(ran).toContain('freezeWrites');
    expect(report.freeze.breakdown.map((b) => b.name)).toEqual(expect.arrayContaining(ran));
    // The application's reads have no switch of their own here: they follow the write endpoint, to the target.
    expect(report.actual.readsSwitched).toBe(false);
    expect(report.readSwitch).toMatchObject({ own: false, at: null });
    expect(report.reads).toMatchObject({ follow: 'write endpoint', failed: 0, lastServer: 'target' });
    expect(report.reads.byServer.source.reads).toBeGreaterThan(0);
    expect(report.reads.byServer.target.reads).toBeGreaterThan(0);
    // (the main thread's and the load worker's clocks may differ by a fraction of a millisecond)
    expect(Date.parse(report.reads.firstOnTargetAt!)).toBeGreaterThanOrEqual(Date.parse(report.writeSwitchAt!) - 5);
    expect(run.output.join('\n')).toMatch(/read switch +none — the reads follow the write endpoint \(writes → target/);
    // A rehearsal is a rehearsal: the roles it froze were restored, then dropped with everything else it made.
    expect(report.cutover.restoredByRehearsal?.length).toBeGreaterThan(0);
    await expectLeftAsTheyWere(run);
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
    expect(report.reads.byServer.target).toBeUndefined();
    expect(report.reads.byServer.source.reads).toBeGreaterThan(0);
    expect(report.writeSwitchAt).toBeNull();
    expect(report.freeze.status).toBe('none');
    expect(report.writeFreezeMs).toBeLessThan(2000);
    await expectLeftAsTheyWere(run);
  });

  test('fail-during-freeze: rollback restores the source, the load continues there; the failed step is red', async () => {
    const run = await rehearse('fail-during-freeze');
    const { report } = run;
    expectNoLoss(report);
    expect(report.cutover.executions).toEqual([
      expect.objectContaining({ status: 'FAILED', error: 'RehearsalInjectedFailure', failedState: expect.any(String) }),
    ]);
    expect(report.cutover.migrationStatus).toBe('rolled-back');
    expect(report.actual).toMatchObject({ froze: true, trafficSwitched: false, sourceWritable: true });
    expect(report.acknowledgedOn.target).toBeUndefined();
    // Writes paused during the freeze and resumed on the source after the rollback.
    expect(report.freeze).toMatchObject({ status: 'ended', firstWriteAfter: { server: 'source' } });
    // The step that failed (before it wrote anything to the state record) is in the report, failed, inside the freeze.
    const failed = report.cutover.phases.find((p) => p.status === 'failed');
    expect(failed).toBeDefined();
    expect(report.freeze.breakdown.map((b) => b.name)).toEqual(expect.arrayContaining(['freezeWrites', failed!.name]));
    const html = readFileSync(join(dir, `fail-during-freeze-3.html`), 'utf8');
    expect(html).toMatch(new RegExp(`<rect class="bar" fill="#cf222e"[^>]*><title>${failed!.name}: `));
    await expectLeftAsTheyWere(run);
  });

  test('resume: the first execution fails past the point of no return; the second resumes and completes', async () => {
    const run = await rehearse('resume');
    const { report } = run;
    expectNoLoss(report);
    expect(report.cutover.executions).toEqual([
      expect.objectContaining({ status: 'FAILED', error: 'RehearsalInjectedFailure' }),
      expect.objectContaining({ status: 'SUCCEEDED' }),
    ]);
    expect(report.actual).toMatchObject({
      resumedSkippedDonePhases: true,
      trafficSwitched: true,
      sourceWritable: false,
      migrationStatus: 'succeeded',
    });
    expect(report.acknowledgedOn.target).toBeGreaterThan(0);
    await expectLeftAsTheyWere(run);
  });

  // A dry run never freezes or stops replication.
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
    await expectLeftAsTheyWere(run);
  });
});
