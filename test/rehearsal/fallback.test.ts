import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveRehearsalOptions, type RehearsalOptionsInput, type Scenario } from '../../rehearsal/options';
import { PROBE_TABLE_DDL } from '../../rehearsal/servers/workflow-objects';
import { verifyWrites } from '../../rehearsal/scenarios/outcome';
import { runRehearsal } from '../../rehearsal/rehearse';
import type { RehearsalReport } from '../../rehearsal/report/report-json';
import { WRITE_PERIODS } from '../../rehearsal/scenarios/verify';
import type { AckedWrite } from '../../rehearsal/load/write-load';
import {
  createUserSchema,
  freshPair,
  rehearsalObjects,
  rehearsalTestContext,
  run,
  writeLoadScript,
  type Pair,
} from './helpers';

/**
 * The way back end to end, on fresh databases of the jest servers (`--source/--target`, small and short): the cutover
 * arms the reverse replication, the application writes on the target, then the fallback execution moves it back to
 * the source (or fails inside its freeze and rolls back). Every acknowledged write of every period is looked up on
 * the source: a reverse replication that did not run would leave the target's writes missing there.
 */
jest.setTimeout(150_000);

const t = rehearsalTestContext('fallback');

interface Run {
  readonly report: RehearsalReport;
  readonly pair: Pair;
  readonly output: string;
  readonly html: string;
}

async function rehearse(
  scenario: Scenario,
  extra: RehearsalOptionsInput = {},
  prepare?: (pair: Pair) => Promise<void>,
): Promise<Run> {
  const pair = await freshPair(`rh_${scenario.replace(/-/g, '_')}`, t.su);
  t.pairs.push(pair);
  await prepare?.(pair);
  const reportPath = join(t.dir, `${scenario}.json`);
  const options = resolveRehearsalOptions({
    scenario,
    rate: 150,
    concurrency: 3,
    readRate: 20,
    warmupSeconds: 0.3,
    targetSeconds: 1,
    afterSeconds: 0.6,
    sourceUrl: pair.source,
    targetUrl: pair.target,
    quiet: true,
    pollMs: 20,
    lagThresholdSeconds: 1,
    consecutiveChecks: 2,
    reportPath,
    migrationId: `rehearsal-${scenario}`,
    ...extra,
  });
  const lines: string[] = [];
  const report = await runRehearsal(options, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { report, pair, output: lines.join('\n'), html: readFileSync(reportPath.replace(/\.json$/, '.html'), 'utf8') };
}

/** Each period's writes: how many, on which server, and how many each database has. */
function periods(
  report: RehearsalReport,
): Record<string, { server: string; n: number; found: Record<string, string> }> {
  return Object.fromEntries(
    (report.writePeriods ?? []).map((p) => [
      p.period,
      {
        server: p.server,
        n: p.acknowledged,
        found: Object.fromEntries(p.lookedUp.map((l) => [l.database, `${l.found}/${l.checked}`])),
      },
    ]),
  );
}

/** Nothing of the rehearsal's is left on either server (the reverse replication's objects included). */
async function expectLeftAsTheyWere(r: Run): Promise<void> {
  expect(await rehearsalObjects(r.pair)).toEqual([]);
  expect(r.report.servers.state).toMatchObject({ embedded: false, leftBehind: [] });
  expect(r.output).toMatch(/left behind +nothing/);
}

test('fallback: cutover, writes on the target, fallback; every acknowledged write of the three periods is on the source', async () => {
  const r = await rehearse('fallback', { demo: true, rows: 1000 });
  const { report } = r;
  expect(report.failedBecause).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.load.failed).toBe(0);
  expect(report.cutover.executions).toEqual([
    expect.objectContaining({ machine: 'cutover', status: 'SUCCEEDED', lastState: 'CutoverSucceeded' }),
    expect.objectContaining({ machine: 'fallback', status: 'SUCCEEDED', lastState: 'FallbackSucceeded' }),
  ]);
  expect(report.actual).toMatchObject({
    migrationStatus: 'succeeded',
    trafficSwitched: false,
    sourceWritable: true,
    targetWritable: false,
    replicationStopped: true,
    reverseRunning: false,
  });

  // 0 lost: the source has every write (its own before and after, and the target's through the reverse
  // replication); the target has every write up to the fallback's switch.
  expect(report.lostWrites).toBe(0);
  const [source, target] = report.verification;
  expect(source).toMatchObject({ database: 'source', checked: report.acknowledgedWrites, lost: 0 });
  expect(target).toMatchObject({ database: 'target', scope: "up to the fallback's switch", lost: 0 });
  const p = periods(report);
  expect(Object.keys(p)).toEqual([WRITE_PERIODS.before, WRITE_PERIODS.onTarget, WRITE_PERIODS.after]);
  expect(p[WRITE_PERIODS.before].server).toBe('source');
  expect(p[WRITE_PERIODS.onTarget].server).toBe('target');
  expect(p[WRITE_PERIODS.after].server).toBe('source');
  for (const [name, period] of Object.entries(p)) {
    expect(period.n).toBeGreaterThan(20);
    expect(period.found.source).toBe(`${period.n}/${period.n}`);
    if (name === WRITE_PERIODS.after) expect(period.found.target).toBeUndefined();
    else expect(period.found.target).toBe(`${period.n}/${period.n}`);
  }
  expect(target.checked).toBe(p[WRITE_PERIODS.before].n + p[WRITE_PERIODS.onTarget].n);
  expect(report.acknowledgedWrites).toBe(Object.values(p).reduce((sum, x) => sum + x.n, 0));

  // The way back as the workflow recorded it: armed and started by the cutover, closed by the fallback.
  const phase = (execution: string, name: string) =>
    report.cutover.phases.find((x) => x.execution === execution && x.name === name)?.status;
  expect(phase('cutover', 'armReverse')).toBe('succeeded');
  expect(phase('cutover', 'startReverse')).toBe('succeeded');
  expect(phase('fallback', 'reopenSource')).toBe('succeeded');
  expect(phase('fallback', 'endFallbackWindow')).toBe('succeeded');

  // Both freezes, each measured on the writes around it, and both switches.
  expect(report.freezes.map((f) => [f.execution, f.frozenServer, f.status])).toEqual([
    ['cutover', 'source', 'ended'],
    ['fallback', 'target', 'ended'],
  ]);
  const [cutoverFreeze, fallbackFreeze] = report.freezes;
  expect(cutoverFreeze).toMatchObject({
    lastWriteBefore: { server: 'source' },
    firstWriteAfter: { server: 'target' },
    commitsAfterFreeze: 0,
  });
  expect(fallbackFreeze).toMatchObject({
    lastWriteBefore: { server: 'target' },
    firstWriteAfter: { server: 'source' },
    commitsAfterFreeze: 0,
  });
  for (const f of report.freezes) {
    expect(f.ms).toBeGreaterThan(0);
    expect(f.ms).toBeLessThan(10_000);
  }
  expect(report.writeFreezeMs).toBe(cutoverFreeze.ms);
  expect(cutoverFreeze.breakdown.map((b) => b.name)).toEqual(expect.arrayContaining(['freezeWrites', 'armReverse']));
  expect(fallbackFreeze.breakdown.map((b) => b.name)).toEqual(
    expect.arrayContaining(['freezeWrites', 'changeProof', 'reopenSource', 'application reconnects to the source']),
  );
  expect(report.writeSwitches.map((w) => w.to)).toEqual(['target', 'source']);
  expect(report.reads).toMatchObject({ failed: 0, lastServer: 'source' });

  // The summary and the HTML report show both freezes and both switches.
  expect(r.output).toMatch(/write freezes +cutover +\d+ ms +last source commit → first target commit/);
  expect(r.output).toMatch(/\n +fallback +\d+ ms +last target commit → first source commit/);
  expect(r.output).toMatch(/write switches +→ target at \+[\d.]+s, → source at \+[\d.]+s/);
  expect(r.output).toMatch(
    /write periods +before the cutover +\d+ on the source +found: source (\d+)\/\1, target \1\/\1/,
  );
  expect(r.html).toContain('Cutover close-up');
  expect(r.html).toContain('Fallback close-up');
  expect(r.html).toMatch(/<span id="cutover-freeze">[\d.]+ (ms|s)<\/span>/);
  expect(r.html).toMatch(/<span id="fallback-freeze">[\d.]+ (ms|s)<\/span>/);
  expect(r.html).toMatch(/class="freeze-label"[^>]*>cutover freeze /);
  expect(r.html).toMatch(/class="freeze-label"[^>]*>fallback freeze /);
  expect(r.html).toContain('writes → source');
  expect(r.html).toContain('<h2>Writes by period</h2>');
  await expectLeftAsTheyWere(r);
});

test('fallback-rollback (your tables, your --load): the fallback fails in its freeze, rolls back; all on the target, flowing back', async () => {
  const r = await rehearse('fallback-rollback', { load: writeLoadScript(t.dir), quiet: false }, (pair) =>
    createUserSchema(pair),
  );
  const { report } = r;
  expect(report.failedBecause).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.load.writer).toBe('probe');
  expect(report.cutover.executions).toEqual([
    expect.objectContaining({ machine: 'cutover', status: 'SUCCEEDED' }),
    expect.objectContaining({
      machine: 'fallback',
      status: 'FAILED',
      error: 'RehearsalInjectedFailure',
      lastState: 'RolledBack',
    }),
  ]);
  // Still on the target: traffic there, its roles writable, the source's frozen, the reverse replication running.
  expect(report.actual).toMatchObject({
    migrationStatus: 'rolled-back',
    trafficSwitched: true,
    targetWritable: true,
    sourceWritable: false,
    reverseRunning: true,
  });
  // The --load role exists only on the source: the fallback froze the probe role on the target.
  expect(r.output).toMatch(/the fallback freezes zdm_rh_probe_\w+ on the target \(zdm_rh_app_\w+: source only\)/);

  // 0 lost: every write on the target, and on the source once the reverse replication caught up.
  expect(report.lostWrites).toBe(0);
  expect(report.verification.map((v) => [v.database, v.checked, v.found])).toEqual([
    ['target', report.acknowledgedWrites, report.acknowledgedWrites],
    ['source', report.acknowledgedWrites, report.acknowledgedWrites],
  ]);
  const p = periods(report);
  expect(Object.keys(p)).toEqual([WRITE_PERIODS.before, WRITE_PERIODS.onTarget]);
  for (const period of Object.values(p)) {
    expect(period.n).toBeGreaterThan(20);
    expect(period.found).toEqual({ target: `${period.n}/${period.n}`, source: `${period.n}/${period.n}` });
  }
  expect(report.validation).toMatchObject({ ok: true, by: expect.stringMatching(/reverse replication caught up/) });

  // Both freezes: the fallback's ended with a write on the target again, after its rollback.
  expect(report.freezes.map((f) => [f.execution, f.status, f.firstWriteAfter?.server])).toEqual([
    ['cutover', 'ended', 'target'],
    ['fallback', 'ended', 'target'],
  ]);
  const failed = report.cutover.phases.find((x) => x.execution === 'fallback' && x.status === 'failed');
  expect(failed).toBeDefined();
  expect(report.freezes[1].breakdown.map((b) => b.name)).toEqual(
    expect.arrayContaining(['freezeWrites', failed!.name, 'rollback']),
  );
  expect(report.writeSwitches.map((w) => w.to)).toEqual(['target']);
  expect(r.html).toContain('Fallback close-up');
  // The rehearsal gave the source's roles back (the cutover froze them) and removed what it made.
  expect(report.cutover.restoredByRehearsal?.length).toBeGreaterThan(0);
  await expectLeftAsTheyWere(r);
});

test('way-back-broken (your tables): a write on the old source is named at once; the fallback refuses; nothing moves', async () => {
  const r = await rehearse('way-back-broken', {}, (pair) => createUserSchema(pair));
  const { report } = r;
  expect(report.failedBecause).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.cutover.executions).toEqual([
    expect.objectContaining({ machine: 'cutover', status: 'SUCCEEDED' }),
    expect.objectContaining({ machine: 'fallback', status: 'FAILED', error: 'ZdmPreflightFailed' }),
  ]);
  expect(report.cutover.executions[1].cause).toContain('writes-outside-way-back');
  // The watch named the write (table, operation, writer) within a few of its looks, before the fallback started.
  const broken = report.wayBackBreak!;
  expect(broken.oldSourceWrite).toMatchObject({ table: expect.stringMatching(/^shop\./), operation: 'UPDATE' });
  expect(broken.detail).toContain(`${broken.oldSourceWrite!.table} UPDATE {`);
  expect(broken.detail).toContain('application "rehearsal: a forgotten writer"');
  expect(broken.namedAfterMs).toBeLessThan(10_000);
  expect(report.actual).toMatchObject({
    wayBackBreakReported: true,
    trafficSwitched: true,
    targetWritable: true,
    reverseRunning: true,
  });
  expect(r.output).toMatch(/way back broken +shop\.\w+ UPDATE on the old source at \+[\d.]+s; named \d+ ms later/);
  // Nothing was lost, and once the operator cleared the guard's record the copies match.
  expect(report.lostWrites).toBe(0);
  expect(report.validation).toMatchObject({ ok: true });
  // The guard (its triggers on your tables, its function and record) is gone with the rest.
  await expectLeftAsTheyWere(r);
});

test('the loss check looks on the source: a write on the target that never flowed back is lost, in its period', async () => {
  const pair = await freshPair('rh_fb_verify', t.su);
  t.pairs.push(pair);
  for (const url of [pair.source, pair.target]) await run(url, `CREATE SCHEMA zdm_cutover; ${PROBE_TABLE_DDL}`);
  const t0 = Date.now();
  const ack = (server: string, at: number): AckedWrite => ({
    kind: 'probe',
    key: randomUUID(),
    token: randomUUID(),
    at,
    serverAt: at,
    server,
    latencyMs: 1,
  });
  const before = ack('source', t0);
  const onTarget = ack('target', t0 + 1000);
  const after = ack('source', t0 + 3000);
  const insert = (url: string, a: AckedWrite) =>
    run(url, `INSERT INTO zdm_cutover.rehearsal_probe (id, token) VALUES ('${a.key}', '${a.token}')`);
  // Replicated forward; written on the target and NOT replicated back; written on the source after the fallback.
  await insert(pair.source, before);
  await insert(pair.target, before);
  await insert(pair.target, onTarget);
  await insert(pair.source, after);
  const results = await verifyWrites({
    sourceUrl: pair.source,
    targetUrl: pair.target,
    acks: [before, onTarget, after],
    switched: false,
    workload: 'probe',
    wayBack: { fallbackStartedAt: t0 + 2000 },
  });
  expect(results.map((v) => [v.database, v.checked, v.lost])).toEqual([
    ['source', 3, 1],
    ['target', 2, 0],
  ]);
  expect(results[0].byPeriod).toEqual([
    { period: WRITE_PERIODS.before, checked: 1, found: 1, lost: 0 },
    { period: WRITE_PERIODS.onTarget, checked: 1, found: 0, lost: 1 },
    { period: WRITE_PERIODS.after, checked: 1, found: 1, lost: 0 },
  ]);
  expect(results[0].samples).toEqual([expect.objectContaining({ key: onTarget.key, server: 'target' })]);
});
