import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveRehearsalOptions } from '../../rehearsal/options';
import { endpointOf, runRehearsal } from '../../rehearsal/rehearse';
import type { RehearsalReport } from '../../rehearsal/report/report-json';
import { freshPair, rehearsalObjects, rehearsalTestContext } from './helpers';

/**
 * The read-first scenario end to end (`--demo` on fresh databases of the jest servers, small and short): a
 * switch-reads execution moves the application's reads to the target while its writes stay on the source, the
 * reads run there for a moment, then the cutover moves the writes. The assertions are on what the application's
 * reads saw, so they fail if the reads stop following their read endpoint.
 */
jest.setTimeout(120_000);

const t = rehearsalTestContext('read-first');

/** Reads the target answered in [from, to) (epoch ms), from the per-bucket counts (whole buckets inside). */
function targetReadsBetween(report: RehearsalReport, from: number, to: number): number {
  const b = report.reads.buckets;
  const start = Date.parse(b.startedAt!);
  return b.target.reduce((sum, n, i) => {
    const at = start + i * b.bucketMs;
    return at >= from && at + b.bucketMs <= to ? sum + n : sum;
  }, 0);
}

test('read-first (execute): reads move to the target first, then the writes; no acknowledged write lost', async () => {
  const pair = await freshPair('rh_read_first', t.su);
  t.pairs.push(pair);
  const reportPath = join(t.dir, 'read-first.json');
  const options = resolveRehearsalOptions({
    scenario: 'read-first',
    demo: true,
    rows: 2000,
    rate: 150,
    concurrency: 3,
    readRate: 60,
    readObservationSeconds: 1,
    warmupSeconds: 0.3,
    afterSeconds: 0.5,
    sourceUrl: pair.source,
    targetUrl: pair.target,
    quiet: true,
    pollMs: 20,
    lagThresholdSeconds: 1,
    consecutiveChecks: 2,
    reportPath,
    migrationId: 'rehearsal-read-first',
  });
  const output: string[] = [];
  const report = await runRehearsal(options, { out: (l) => output.push(l), err: (l) => output.push(l) });

  // The verdict: as expected, nothing lost.
  expect(report.failedBecause).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.lostWrites).toBe(0);
  expect(report.writesFoundOnTarget).toBe(report.acknowledgedWrites);
  expect(report.acknowledgedOn.source).toBeGreaterThan(0);
  expect(report.acknowledgedOn.target).toBeGreaterThan(0);
  expect(report.cutover.executions).toEqual([
    expect.objectContaining({ mode: 'switch-reads', status: 'SUCCEEDED', lastState: 'ReadsSwitched' }),
    expect.objectContaining({ mode: 'execute', status: 'SUCCEEDED' }),
  ]);
  expect(report.actual).toMatchObject({
    froze: true,
    trafficSwitched: true,
    readsSwitched: true,
    readsOnTargetFirst: true,
    sourceWritable: false,
  });

  // The switches as the application saw them: reads, the observation period, then the writes.
  expect(report.readSwitch).toMatchObject({
    own: true,
    at: expect.any(String),
    revertedAt: null,
    record: { from: endpointOf(pair.source), to: endpointOf(pair.target) },
  });
  const readSwitchAt = Date.parse(report.readSwitch.at!);
  const writeSwitchAt = Date.parse(report.writeSwitchAt!);
  expect(writeSwitchAt - readSwitchAt).toBeGreaterThanOrEqual(1000);

  // What the reads saw: the source first, then the target — before any write went there — and at the end.
  const reads = report.reads;
  expect(reads).toMatchObject({ follow: 'read switch', targetRate: 60, connections: 2, failed: 0 });
  expect(reads.byServer.source.reads).toBeGreaterThan(10);
  expect(reads.byServer.target.reads).toBeGreaterThan(10);
  const firstOnTarget = Date.parse(reads.firstOnTargetAt!);
  expect(firstOnTarget).toBeGreaterThanOrEqual(readSwitchAt);
  expect(firstOnTarget).toBeLessThan(writeSwitchAt);
  expect(Date.parse(reads.lastAt.source)).toBeLessThan(writeSwitchAt);
  const firstWriteOnTarget = Date.parse(report.freeze.to!);
  expect(firstOnTarget).toBeLessThan(firstWriteOnTarget);
  // Reads kept landing on the target while the writes were still on the source (not a single stray read).
  expect(targetReadsBetween(report, readSwitchAt, writeSwitchAt)).toBeGreaterThan(20);
  expect(reads.lastServer).toBe('target');
  expect(reads.stale).toBe(reads.byServer.target.stale + reads.byServer.source.stale);

  // The switch-reads execution's own phases are on the timeline, named as its.
  expect(report.cutover.phases).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ name: 'switchReads', execution: 'switch-reads execution', status: 'succeeded' }),
    ]),
  );

  // The reports say it: the JSON, the HTML timeline (reads per bucket, both switches marked), the summary.
  const json = JSON.parse(readFileSync(reportPath, 'utf8')) as RehearsalReport;
  expect(json).toMatchObject({
    scenario: 'read-first',
    lostWrites: 0,
    readSwitch: { own: true, at: report.readSwitch.at },
    writeSwitchAt: report.writeSwitchAt,
    reads: { reads: reads.reads, stale: reads.stale, firstOnTargetAt: reads.firstOnTargetAt },
  });
  const html = readFileSync(join(t.dir, 'read-first.html'), 'utf8');
  expect(html).toContain('class="read-target"');
  expect(html).toMatch(/<line class="switch-reads"/);
  expect(html).toMatch(/<line class="switch-writes"/);
  expect(html).toContain('reads → target +');
  const text = output.join('\n');
  expect(text).toMatch(/read switch +reads → target at \+\d+\.\ds, writes → target at \+\d+\.\ds \(\d/);
  expect(text).toMatch(/reads +\d+ answered: source \d+, target \d+/);
  expect(text).toMatch(/expected vs actual +as expected: .*reads switched to the target/s);

  expect(await rehearsalObjects(pair)).toEqual([]);
});
