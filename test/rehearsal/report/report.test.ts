import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FREEZE_PHASES } from '../../../contract';
import {
  buildReport,
  describeExpectation,
  freezeBreakdownLines,
  summaryLines,
  type ReportInput,
} from '../../../rehearsal/report/build-report';
import {
  BETWEEN_PHASES,
  freezeBreakdown,
  freezeWindow,
  longestGap,
  stateEventTimes,
  type CutoverPhaseTimes,
} from '../../../rehearsal/report/freeze';
import { resolveRehearsalOptions } from '../../../rehearsal/options';
import { painter, stdoutWantsColor } from '../../../rehearsal/progress';
import { freshnessQuery, ReadTally, type ReadSample } from '../../../rehearsal/load/read-load';
import { esc, renderHtmlReport, timeAxisOrigin, writeHtmlReport } from '../../../rehearsal/report/report-html';
import { writeJsonReport, writeRateBuckets, type RehearsalReport } from '../../../rehearsal/report/report-json';
import { expectationFor, SCENARIO_PLANS } from '../../../rehearsal/scenarios/scenarios';
import type { AckedWrite } from '../../../rehearsal/load/write-load';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(T0 + ms).toISOString();

function ack(atMs: number, server = 'source', serverAtMs = atMs - 1): AckedWrite {
  return {
    kind: 'probe',
    key: `k${atMs}`,
    token: `t${atMs}`,
    at: T0 + atMs,
    serverAt: T0 + serverAtMs,
    server,
    latencyMs: 1,
  };
}

function read(atMs: number, server = 'source', outcome: ReadSample['outcome'] = 'fresh', latencyMs = 1): ReadSample {
  return {
    at: T0 + atMs,
    server,
    outcome,
    latencyMs,
    retries: 0,
    ...(outcome === 'failed' ? { code: '42501', message: 'permission denied for table probe' } : {}),
  };
}

/** A read every 20 ms: on the source until 500, then on the target (every fifth stale until the writes moved). */
function readsAround(): ReadTally {
  const tally = new ReadTally();
  for (let t = 0; t <= 2000; t += 20) {
    const server = t < 500 ? 'source' : 'target';
    tally.add(read(t, server, server === 'target' && t < 1400 && t % 100 === 0 ? 'stale' : 'fresh'));
  }
  return tally;
}

function phase(name: string, from: number, to: number, status = 'succeeded'): CutoverPhaseTimes {
  return { name, kind: 'phase', status, startedAt: iso(from), endedAt: iso(to), durationMs: to - from };
}

/**
 * The phases inside the freeze, whatever the engine calls them: FREEZE_PHASES laid out from 1001 ms, 20 ms each
 * with 5 ms between them; the last (the switch) ends at 1001 + 25n - 5. Writes every 5 ms on the source until
 * 1000, then every 5 ms on the target from 1400.
 */
const STEP = 25;
const FREEZE = FREEZE_PHASES.map((name, i) => phase(name, 1001 + i * STEP, 1001 + i * STEP + 20));
const PHASES: CutoverPhaseTimes[] = [phase('waitForSync', 200, 900), ...FREEZE, phase('done', 1390, 1395)];
const HELD = T0 + 1021; // freezeWrites ended

function acksAroundFreeze(): AckedWrite[] {
  const acks: AckedWrite[] = [];
  for (let t = 0; t <= 1000; t += 5) acks.push(ack(t));
  for (let t = 1400; t <= 2000; t += 5) acks.push(ack(t, 'target'));
  return acks;
}

describe('write freeze', () => {
  test('the longest gap between consecutive acknowledged commits', () => {
    const gap = longestGap([...acksAroundFreeze()].reverse());
    expect(gap.ms).toBe(400);
    expect(gap.before?.at).toBe(T0 + 1000);
    expect(gap.after?.server).toBe('target');
    expect(gap.nextLongestMs).toBe(5);
    expect(gap.medianMs).toBe(5);
    expect(longestGap([]).ms).toBe(0);
    expect(longestGap([ack(1)]).ms).toBe(0);
  });

  test('the breakdown lists every phase of the freeze in order, with the time between them, adding up to the pause', () => {
    const breakdown = freezeBreakdown(T0 + 1000, T0 + 1400, PHASES);
    const names = breakdown.map((b) => b.name).filter((n) => n !== BETWEEN_PHASES);
    expect(names).toEqual(['last commit → freeze starts', ...FREEZE_PHASES, 'application reconnects to the target']);
    expect(breakdown.filter((b) => b.name === BETWEEN_PHASES)).toHaveLength(FREEZE_PHASES.length - 1);
    expect(breakdown.reduce((s, b) => s + b.ms, 0)).toBe(400);
  });

  test('is the pause that the freeze ended, even when an earlier pause (a stall) was longer', () => {
    // A 900 ms stall during the initial copy, long before the freeze: it is not the freeze.
    const acks = [ack(-1800), ack(-900), ...acksAroundFreeze()];
    expect(longestGap(acks).ms).toBe(900);
    const w = freezeWindow(acks, PHASES, { heldAt: HELD });
    expect(w).toMatchObject({ status: 'ended', ms: 400, from: iso(999), to: iso(1399) });
    expect(w.breakdown.map((b) => b.name)).toEqual(expect.arrayContaining(['freezeWrites', 'finalSync']));
  });

  test('a commit acknowledged late (committed before the freeze took hold) neither ends nor shortens the freeze', () => {
    // Acknowledged at 1030, after freezeWrites ended (1021), but committed at 1000 by the server's clock: the
    // freeze runs from that commit, with freezeWrites inside it.
    const acks = [...acksAroundFreeze(), ack(1030, 'source', 1000)];
    const w = freezeWindow(acks, PHASES, { heldAt: HELD });
    expect(w).toMatchObject({ status: 'ended', from: iso(1000), to: iso(1399), ms: 399 });
    expect(w.breakdown.map((b) => b.name)).toEqual(expect.arrayContaining(['freezeWrites', 'finalSync']));
    // ... and the source clock's offset is taken into account (server 2 s ahead).
    const ahead = acksAroundFreeze().map((a) => (a.server === 'source' ? { ...a, serverAt: a.serverAt + 2000 } : a));
    expect(freezeWindow(ahead, PHASES, { heldAt: HELD, sourceClockOffsetMs: 2000 }).ms).toBe(400);
  });

  test('a freeze that did not end is ongoing, measured until the writes stopped, never a shorter number', () => {
    const acks = acksAroundFreeze().filter((a) => a.server === 'source');
    const w = freezeWindow(acks, PHASES, { heldAt: HELD, observedUntil: T0 + 6000 });
    expect(w).toMatchObject({ status: 'ongoing', ms: null, to: null, from: iso(999), ongoingMs: 5001 });
    expect(w.breakdown[w.breakdown.length - 1].name).toBe('still frozen when the writes stopped');
    expect(w.breakdown.map((b) => b.name)).toEqual(expect.arrayContaining(['freezeWrites']));
  });

  test('without a freeze it is the longest pause, and says so', () => {
    expect(freezeWindow(acksAroundFreeze(), PHASES)).toMatchObject({ status: 'none', ms: 400 });
  });

  test('a step that failed before it recorded anything shows up as failed, its handler as a failure handler', () => {
    const events = [
      { type: 'StateEntered' as const, state: 'FreezeWrites', step: 'freezeWrites' as const, timestamp: T0 + 1001 },
      { type: 'StateExited' as const, state: 'FreezeWrites', step: 'freezeWrites' as const, timestamp: T0 + 1021 },
      { type: 'StateEntered' as const, state: 'FinalSync', step: 'finalSync' as const, timestamp: T0 + 1025 },
      {
        type: 'StateFailed' as const,
        state: 'FinalSync',
        step: 'finalSync' as const,
        timestamp: T0 + 1030,
        error: 'X',
      },
      { type: 'StateEntered' as const, state: 'Rollback', step: 'rollback' as const, timestamp: T0 + 1035 },
      { type: 'StateExited' as const, state: 'Rollback', step: 'rollback' as const, timestamp: T0 + 1060 },
    ];
    expect(stateEventTimes([{ events }], undefined)).toEqual([
      expect.objectContaining({ name: 'finalSync', kind: 'failed step', status: 'failed', durationMs: 5 }),
      expect.objectContaining({ name: 'rollback', kind: 'failure handler', status: 'succeeded', durationMs: 25 }),
    ]);
  });

  test('write rate is counted per 100 ms bucket and server', () => {
    const rate = writeRateBuckets([ack(0), ack(50), ack(150, 'target'), ack(420)]);
    expect(rate).toEqual({
      bucketMs: 100,
      startedAt: '2026-01-01T00:00:00.000Z',
      source: [2, 0, 0, 0, 1],
      target: [0, 1, 0, 0, 0],
    });
  });
});

// The sample run's outcome has no reverse replication: a cutover without the way back (--no-way-back).
const OPTIONS = resolveRehearsalOptions({
  rows: 2000,
  rate: 200,
  reportPath: '/tmp/r.json',
  migrationId: 'rehearsal-1',
  wayBack: false,
});

function input(extra: Partial<ReportInput> = {}): ReportInput {
  const acks = acksAroundFreeze();
  return {
    options: OPTIONS,
    plan: SCENARIO_PLANS.happy,
    startedAt: T0 - 5000,
    finishedAt: T0 + 3000,
    servers: {
      kind: 'embedded',
      sourceUrl: 'postgres://postgres:pw@127.0.0.1:1/shop',
      targetUrl: 'postgres://postgres:pw@127.0.0.1:2/shop',
      sameServer: false,
      clockOffsetMs: { source: 0, target: 0 },
    },
    writer: {
      workload: 'probe',
      role: 'zdm_rh_probe_shop',
      acks,
      failures: [],
      stats: { acknowledged: acks.length, retries: 30, failed: 0, retriedByCode: { '28000': 30 }, blocked: 0 },
      stoppedAt: T0 + 2100,
      reads: readsAround().summary(),
      readStats: { retries: 0, retriedByCode: {}, blocked: 0 },
    },
    switches: { writes: [{ at: T0 + 1096, to: 'target' }] },
    runs: [],
    record: {
      migrationId: 'rehearsal-1',
      mode: 'execute',
      status: 'succeeded',
      createdAt: iso(0),
      updatedAt: iso(2000),
      phases: Object.fromEntries(
        PHASES.map((p) => [p.name, { status: 'succeeded', startedAt: p.startedAt, endedAt: p.endedAt }]),
      ),
      freeze: { roles: [], frozenAt: iso(1001) },
    },
    actual: {
      executionStatus: 'SUCCEEDED',
      migrationStatus: 'succeeded',
      froze: true,
      sourceWritable: false,
      trafficSwitched: true,
      replicationStopped: true,
      readsSwitched: false,
    },
    verification: [
      { database: 'target', checked: acks.length, found: acks.length, lost: 0, samples: [], durationMs: 1 },
    ],
    validation: { ok: true, by: 'the workflow' },
    phases: [
      { name: 'start servers', group: 'rehearsal', startedAt: T0 - 4000, endedAt: T0 - 100, status: 'succeeded' },
    ],
    notices: [],
    cleanupFailures: [],
    ...extra,
  };
}

function sampleReport(extra: Partial<ReportInput> = {}): RehearsalReport {
  const report = buildReport(input(extra));
  return { ...report, description: 'cutover under load <script>alert(1)</script>' };
}

describe('reports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zdm-report-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a passing report: every reason empty, the freeze measured and explained', () => {
    const report = sampleReport();
    expect(report).toMatchObject({ ok: true, failedBecause: [], lostWrites: 0, writeFreezeMs: 400 });
    expect(report.freeze.status).toBe('ended');
    expect(report.freeze.sourceCommitsAfterFreeze).toBe(0);
  });

  test("freeze held: the rehearsal's own commits and the cutover's CheckLateWrites must both say so", () => {
    const base = input();
    const withLate = (phase: Record<string, unknown>) =>
      sampleReport({ record: { ...base.record!, phases: { ...base.record!.phases, lateWrites: phase } } as never });
    const held = withLate({ status: 'succeeded', startedAt: iso(1100), endedAt: iso(1110) });
    expect(held.ok).toBe(true);
    expect(summaryLines(held, OPTIONS).join('\n')).toMatch(
      /freeze held +yes — 0 rehearsal commits .*; CheckLateWrites: no change by any role after the marker/,
    );
    const error =
      '3 change(s) reached the source after the final-sync marker (found after the stop) and are not on the target: public.orders: 3 key(s) (id)=(7)';
    const late = withLate({ status: 'failed', startedAt: iso(1100), endedAt: iso(1110), error });
    expect(late.ok).toBe(false);
    expect(late.freeze.lateWrites).toEqual({ status: 'found', detail: error });
    expect(late.failedBecause).toEqual(
      expect.arrayContaining([`writes reached the source after its freeze (CheckLateWrites): ${error}`]),
    );
    expect(summaryLines(late, OPTIONS).join('\n')).toMatch(/freeze held +NO — CheckLateWrites: 3 change\(s\) reached/);
    const notReached = withLate({ status: 'running', startedAt: iso(1100) });
    expect(summaryLines(notReached, OPTIONS).join('\n')).toMatch(
      /freeze held +unknown — .*CheckLateWrites did not run/,
    );
  });

  test('two freezes (the way back): a late write found by either execution says the freezes did not hold', () => {
    const base = sampleReport();
    const cutover = { ...base.freezes[0], execution: 'cutover' as const, commitsAfterFreeze: 0 };
    const fallback = {
      ...base.freezes[0],
      execution: 'fallback' as const,
      frozenServer: 'target' as const,
      commitsAfterFreeze: 0,
    };
    const held = { ...base, freezes: [cutover, fallback] };
    expect(summaryLines(held, OPTIONS).join('\n')).toMatch(/freezes held +yes/);
    const late = {
      ...held,
      freezes: [
        cutover,
        { ...fallback, lateWrites: { status: 'found' as const, detail: '2 change(s) reached the source' } },
      ],
    };
    expect(summaryLines(late, OPTIONS).join('\n')).toMatch(
      /freezes held +NO — .*; fallback's CheckLateWrites: 2 change\(s\) reached the source/,
    );
  });

  test('lost writes are unknown (null, with the reason) when the writes were not looked up', () => {
    const report = sampleReport({
      verification: [],
      interrupted: { kind: 'signal', signal: 'SIGINT', message: 'SIGINT' },
    });
    expect(report.lostWrites).toBeNull();
    expect(report.writesFoundOnTarget).toBeNull();
    expect(report.lostWritesUnknownReason).toMatch(/interrupted \(SIGINT\) before it looked them up/);
    expect(report.ok).toBe(false);
    const text = summaryLines(report, OPTIONS).join('\n');
    expect(text).toMatch(/lost writes +unknown — the rehearsal was interrupted/);
    expect(text).not.toMatch(/lost writes +\d/);
    expect(renderHtmlReport(report)).toMatch(/id="lost-writes">unknown</);
    const json = JSON.parse(JSON.stringify(report)) as RehearsalReport;
    expect(json.lostWrites).toBeNull();
  });

  test('a freeze that did not end is reported as ongoing, with how long so far', () => {
    const onlySource = acksAroundFreeze().filter((a) => a.server === 'source');
    const base = input();
    const report = sampleReport({ writer: { ...base.writer!, acks: onlySource, stoppedAt: T0 + 8000 } });
    expect(report.writeFreezeMs).toBeNull();
    expect(report.freeze).toMatchObject({ status: 'ongoing', ongoingMs: 7001 });
    expect(report.writeFreezeUnknownReason).toMatch(/had not ended when the writes stopped/);
    expect(report.failedBecause).toEqual(expect.arrayContaining([expect.stringMatching(/did not end.*7.00 s so far/)]));
    expect(summaryLines(report, OPTIONS).join('\n')).toMatch(
      /write freeze +ONGOING when the writes stopped — no write committed for 7.00 s so far/,
    );
    expect(renderHtmlReport(report)).toMatch(/id="write-freeze" class="bad">ONGOING \(7.00 s so far\)/);
  });

  test('FAILED always says why: failed writes of the writer, with their error', () => {
    const base = input();
    const failures = Array.from({ length: 56 }, () => ({
      kind: 'probe' as const,
      at: T0,
      server: 'source',
      message: 'timeout exceeded',
    }));
    const report = sampleReport({
      writer: { ...base.writer!, failures, stats: { ...base.writer!.stats, failed: 56 } },
    });
    expect(report.ok).toBe(false);
    expect(report.failedBecause).toEqual([
      expect.stringMatching(/^56 write\(s\) of the probe writer failed \(56× "timeout exceeded"\)/),
    ]);
    const lines = summaryLines(report, OPTIONS);
    expect(lines[1]).toMatch(/^Rehearsal happy \(execute\): FAILED — 56 write\(s\) of the probe writer failed/);
    expect(renderHtmlReport(report)).toContain('✘ FAIL — 56 write(s) of the probe writer failed');
  });

  test('the summary names everything left behind, and a source still frozen fails the verdict', () => {
    const report = sampleReport({
      servers: { ...input().servers!, kind: 'external' },
      serverState: {
        embedded: false,
        roles: [
          {
            role: 'shop_app',
            server: 'source',
            exists: true,
            canLogin: false,
            connectionLimit: 0,
            createdByRehearsal: false,
          },
        ],
        leftBehind: [
          {
            server: 'source',
            kind: 'replication slot',
            name: 'zdm_rehearsal_shop',
            detail: 'inactive; retains 3 MB of WAL until dropped',
          },
        ],
      },
      cleanupFailures: [{ name: 'remove replication zdm_rehearsal_shop', error: 'boom' }],
    });
    expect(report.failedBecause).toEqual(
      expect.arrayContaining([
        'the source is still frozen: shop_app NOLOGIN',
        '1 clean-up step(s) failed: remove replication zdm_rehearsal_shop',
      ]),
    );
    const text = summaryLines(report, OPTIONS).join('\n');
    expect(text).toMatch(
      /left behind +1 object\(s\):\n +- source: replication slot zdm_rehearsal_shop \(inactive; retains 3 MB of WAL/,
    );
    expect(text).toMatch(/source roles +shop_app NOLOGIN limit 0/);
    const nothing = sampleReport({
      servers: { ...input().servers!, kind: 'external' },
      serverState: { embedded: false, roles: [], leftBehind: [] },
    });
    expect(summaryLines(nothing, OPTIONS).join('\n')).toMatch(/left behind +nothing — both databases are as they were/);
  });

  test('the HTML report is written and self-contained (inline CSS and SVG, no external asset, no script)', () => {
    const path = join(dir, 'nested', 'rehearsal-report.html');
    writeHtmlReport(path, sampleReport());
    const html = readFileSync(path, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<style>');
    expect(html).toContain('<svg');
    expect(html).toContain('class="freeze"');
    expect(html).toContain('write freeze 400 ms');
    expect(html).toContain('freezeWrites');
    expect(html).not.toMatch(/<link|<script|<img|<iframe|\ssrc=|url\(|@import/i);
    const urls = html.match(/https?:\/\/[^\s"'<)]+/g) ?? [];
    expect(urls.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  test('the HTML report puts the verdict, lost writes and freeze up front, and every phase of the freeze', () => {
    const report = sampleReport();
    const html = renderHtmlReport(report);
    expect(html).toContain('✔ PASS');
    expect(html).toMatch(/<b class="ok" id="lost-writes">0<\/b>/);
    expect(html).toMatch(/id="write-freeze">400 ms</);
    expect(html).toContain('✔ as expected');
    expect(html).toContain('Cutover close-up');
    expect(html.indexOf('id="lost-writes"')).toBeLessThan(html.indexOf('Cutover close-up'));
    for (const b of report.freeze.breakdown) expect(html).toContain(`${b.ms.toFixed(1)} ms`);
  });

  test('the failed step is red: its bar on the timeline and its line in the freeze breakdown', () => {
    const base = input();
    const record = base.record!;
    const phases = { ...record.phases, finalSync: { ...record.phases.finalSync!, status: 'failed' as const } };
    const html = renderHtmlReport(sampleReport({ record: { ...record, phases } }));
    expect(html).toMatch(/<rect class="bar" fill="#cf222e"[^>]*><title>finalSync: [^<]*\(failed\)<\/title>/);
    expect(html).toMatch(/<span class="bad">finalSync \(failed\)<\/span>/);
  });

  test('one clock: the HTML time axis starts where the console log starts (the rehearsal start)', () => {
    const report = sampleReport();
    // The first phase began a second after the rehearsal started; t = 0 is still the start.
    expect(timeAxisOrigin(report, [T0 - 4000, T0])).toBe(T0 - 5000);
    expect(renderHtmlReport(report)).toContain('seconds since the rehearsal started (the console clock)');
  });

  test('the JSON report has the documented top-level fields', () => {
    const path = join(dir, 'r.json');
    writeJsonReport(path, sampleReport());
    const json = JSON.parse(readFileSync(path, 'utf8'));
    expect(json).toMatchObject({
      ok: true,
      failedBecause: [],
      scenario: 'happy',
      mode: 'execute',
      acknowledgedWrites: expect.any(Number),
      writesFoundOnTarget: expect.any(Number),
      lostWrites: 0,
      writeFreezeMs: 400,
      freeze: { status: 'ended' },
      validation: { ok: true },
      reads: { reads: expect.any(Number), stale: expect.any(Number), failed: 0, byServer: expect.any(Object) },
      readSwitch: { own: false, at: null },
      writeSwitchAt: expect.any(String),
    });
    for (const p of json.phases) {
      expect(p).toEqual(
        expect.objectContaining({
          name: expect.any(String),
          startedAt: expect.any(String),
          status: expect.any(String),
        }),
      );
    }
  });

  test('esc escapes HTML', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('reads', () => {
  test('the tally keeps counts per server and per bucket, stale and failed apart, bounded whatever the reads', () => {
    const tally = readsAround();
    tally.add(read(2010, 'target', 'failed'));
    const r = tally.summary();
    expect(r).toMatchObject({ reads: 102, stale: 9, failed: 1, lastServer: 'target' });
    expect(r.byServer.source).toMatchObject({ reads: 25, fresh: 25, stale: 0, failed: 0 });
    expect(r.byServer.target).toMatchObject({ reads: 77, stale: 9, failed: 1 });
    expect(r.firstAt).toEqual({ source: iso(0), target: iso(500) });
    expect(r.lastAt.source).toBe(iso(480));
    expect(r.failedByCode).toEqual({ '42501': 1 });
    expect(r.failures).toEqual([expect.objectContaining({ server: 'target', code: '42501' })]);
    expect(r.buckets).toMatchObject({ bucketMs: 100, startedAt: iso(0) });
    expect(r.buckets.source.slice(0, 6)).toEqual([5, 5, 5, 5, 5, 0]);
    expect(r.buckets.target.slice(4, 7)).toEqual([0, 5, 5]);
    expect(r.buckets.stale.slice(4, 7)).toEqual([0, 1, 1]);
    expect(r.buckets.failed[20]).toBe(1);
    // Every series has one entry per bucket; more reads in the same time add no entries.
    const lengths = new Set(
      Object.values(r.buckets)
        .filter(Array.isArray)
        .map((a) => (a as number[]).length),
    );
    expect(lengths).toEqual(new Set([21]));
    for (let i = 0; i < 5000; i++) tally.add(read(1000 + (i % 1000), 'target', 'fresh', 1 + (i % 100)));
    expect(tally.summary().buckets.target).toHaveLength(21);
  });

  test('latency quantiles are within 10% of the exact value', () => {
    const tally = new ReadTally();
    for (let i = 1; i <= 1000; i++) tally.add(read(i, 'target', 'fresh', i / 10));
    const latency = tally.summary().byServer.target.latency!;
    expect(latency.maxMs).toBe(100);
    expect(latency.p50Ms).toBeGreaterThanOrEqual(50);
    expect(latency.p50Ms).toBeLessThanOrEqual(55);
    expect(latency.p99Ms).toBeGreaterThanOrEqual(99);
    expect(latency.p99Ms).toBeLessThanOrEqual(100);
    expect(latency.meanMs).toBe(50.1);
  });

  test("a read looks up the latest acknowledged write by its key; an update's by its version", () => {
    const insert = freshnessQuery({ ...ack(1), kind: 'event', key: 'e-1' });
    expect(insert.text).toBe('SELECT 1 AS found FROM app.events WHERE id = $1');
    expect(insert.values).toEqual(['e-1']);
    expect(insert.fresh([])).toBe(false);
    expect(insert.fresh([{ found: 1 }])).toBe(true);
    const update = freshnessQuery({ ...ack(1), kind: 'update', key: '7', version: 5 });
    expect(update.text).toBe('SELECT version FROM app.customers WHERE id = $1');
    expect(update.fresh([{ version: '4' }])).toBe(false);
    expect(update.fresh([{ version: '5' }])).toBe(true);
    expect(update.fresh([{ version: 6 }])).toBe(true);
    expect(freshnessQuery(ack(1)).text).toBe('SELECT 1 AS found FROM zdm_cutover.rehearsal_probe WHERE id = $1');
  });

  test('reads that follow the writes: per server in the report, no read switch, said so', () => {
    const report = sampleReport();
    expect(report.reads).toMatchObject({
      follow: 'write endpoint',
      targetRate: OPTIONS.readRate,
      connections: 2,
      reads: 101,
      stale: 9,
      firstOnTargetAt: iso(500),
      lastServer: 'target',
      byServer: { source: { reads: 25 }, target: { reads: 76, stale: 9 } },
    });
    expect(report.readSwitch).toEqual({
      own: false,
      at: null,
      revertedAt: null,
      note: expect.stringMatching(/follow the write endpoint/),
    });
    expect(report.writeSwitchAt).toBe(iso(1096));
    const text = summaryLines(report, OPTIONS).join('\n');
    expect(text).toMatch(/\n {2}reads +101 answered: source 25, target 76 \(9 stale\); 0 failed, 0 retried attempts\n/);
    expect(text).toMatch(/stale: did not find the latest acknowledged write yet/);
    expect(text).toMatch(/read switch +none — the reads follow the write endpoint \(writes → target at \+6\.1s\)/);
    const html = renderHtmlReport(report);
    expect(html).toContain('<h2>Reads</h2>');
    expect(html).toContain('class="read-target"');
    expect(html).toContain('class="read-stale"');
    expect(html).toMatch(/<line class="switch-writes"/);
    expect(html).not.toMatch(/<line class="switch-reads"/);
  });

  test('read-first: the read switch and the write switch, in that order, on the timeline and in the summary', () => {
    const plan = SCENARIO_PLANS['read-first'];
    const report = sampleReport({
      options: { ...OPTIONS, scenario: 'read-first' },
      plan,
      actual: { ...input().actual, readsSwitched: true, readsOnTargetFirst: true },
      switches: { writes: [{ at: T0 + 1096, to: 'target' }], reads: [{ at: T0 + 490, to: 'target' }] },
      readSwitch: {
        target: 'application read endpoint (in memory)',
        from: 'postgres://127.0.0.1:1/shop',
        to: 'postgres://127.0.0.1:2/shop',
        switchedAt: iso(490),
        switchedBy: 'rehearsal-1#switch-reads#x',
      },
      earlierRecords: [
        {
          migrationId: 'rehearsal-1#switch-reads#2026-01-01T00:00:00.000Z',
          mode: 'dry-run',
          status: 'succeeded',
          createdAt: iso(0),
          updatedAt: iso(495),
          phases: { switchReads: { status: 'succeeded', startedAt: iso(488), endedAt: iso(491) } },
        },
      ],
    });
    expect(report.ok).toBe(true);
    expect(report.readSwitch).toMatchObject({
      own: true,
      at: iso(490),
      revertedAt: null,
      record: { switchedAt: iso(490) },
    });
    expect(report.reads.follow).toBe('read switch');
    expect(report.cutover.phases).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'switchReads', execution: 'switch-reads execution' })]),
    );
    expect(report.phases).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'switchReads', detail: 'switch-reads execution' })]),
    );
    const text = summaryLines(report, OPTIONS).join('\n');
    expect(text).toMatch(/read switch +reads → target at \+5\.5s, writes → target at \+6\.1s \(606 ms later\)/);
    expect(text).toMatch(/first read answered by the target at \+5\.5s; the last read was answered by the target/);
    expect(text).toMatch(/reads switched to the target, reads on the target before the writes/);
    const html = renderHtmlReport(report);
    const readsMark = html.indexOf('<line class="switch-reads"');
    expect(readsMark).toBeGreaterThan(0);
    expect(html).toMatch(/<line class="switch-writes"/);
    expect(html).toContain('reads → target +5.49s');
    expect(html).toContain('writes → target +6.10s');
    expect(html).toMatch(
      /The read endpoint moved to the target at <b>\+5\.5s<\/b>; the writes followed at <b>\+6\.1s<\/b>/,
    );
  });

  test('unknown is unknown: a read switch that never happened, reads that never ran', () => {
    const never = sampleReport({
      options: { ...OPTIONS, scenario: 'read-first' },
      plan: SCENARIO_PLANS['read-first'],
      switches: { writes: [], reads: [] },
    });
    expect(never.readSwitch).toMatchObject({
      own: true,
      at: null,
      note: 'the read endpoint never pointed at the target',
    });
    expect(never.writeSwitchAt).toBeNull();
    expect(summaryLines(never, OPTIONS).join('\n')).toMatch(
      /read switch +never — the read endpoint never pointed at the target \(writes stayed on the source\)/,
    );
    expect(renderHtmlReport(never)).toContain('The read endpoint never pointed at the target');
    const none = sampleReport({ writer: undefined });
    expect(none.reads).toMatchObject({ reads: 0, targetRate: 0, firstOnTargetAt: null, lastServer: null });
    expect(summaryLines(none, OPTIONS).join('\n')).toMatch(/reads +none \(the load did not start\)/);
  });

  test('a failed read fails the verdict, with its error (a read the target refuses is what read-first is for)', () => {
    const base = input();
    const tally = readsAround();
    tally.add(read(1500, 'target', 'failed'));
    const report = sampleReport({ writer: { ...base.writer!, reads: tally.summary() } });
    expect(report.ok).toBe(false);
    expect(report.failedBecause).toEqual([
      '1 read(s) of the application failed (1 on the target; 1× 42501: "permission denied for table probe")',
    ]);
    expect(renderHtmlReport(report)).toContain('permission denied for table probe');
  });

  test('the read-first plan: switch-reads first, then the cutover in the rehearsal mode; reads expected on the target', () => {
    const plan = SCENARIO_PLANS['read-first'];
    expect([plan.executionMode(0, 'execute'), plan.executionMode(1, 'execute')]).toEqual(['switch-reads', 'execute']);
    expect(plan.executionMode(1, 'dry-run')).toBe('dry-run');
    expect(plan).toMatchObject({ executions: 2, readSwitch: true, continueAfterFailure: false, observeReadsAfter: 0 });
    expect(plan.expected('execute')).toMatchObject({ froze: true, trafficSwitched: true, readsSwitched: true });
    expect(plan.expected('dry-run')).toMatchObject({
      froze: false,
      trafficSwitched: false,
      sourceWritable: true,
      readsSwitched: true,
      readsOnTargetFirst: true,
    });
    for (const other of ['happy', 'lag-timeout', 'fail-during-freeze', 'resume'] as const) {
      expect(SCENARIO_PLANS[other].readSwitch).toBe(false);
      expect(SCENARIO_PLANS[other].expected('execute').readsSwitched).toBe(false);
      expect(SCENARIO_PLANS[other].executionMode(1, 'execute')).toBe('execute');
      expect(SCENARIO_PLANS[other]).toMatchObject({ wayBack: false });
      expect(SCENARIO_PLANS[other].machine(1)).toBe('cutover');
    }
  });

  test('the way back, armed by default as the construct does: expected running after a switch, not after a rollback', () => {
    const armed = resolveRehearsalOptions({ reportPath: '/tmp/r.json' });
    expect(armed.wayBack).toBe(true);
    expect(expectationFor(SCENARIO_PLANS.happy, armed)).toMatchObject({ trafficSwitched: true, reverseRunning: true });
    expect(expectationFor(SCENARIO_PLANS['lag-timeout'], armed)).toMatchObject({ reverseRunning: false });
    expect(expectationFor(SCENARIO_PLANS.happy, OPTIONS).reverseRunning).toBeUndefined();
    // Not armed: --no-way-back, a dry run (it arms nothing), read-first.
    expect(resolveRehearsalOptions({ mode: 'dry-run' }).wayBack).toBe(false);
    expect(resolveRehearsalOptions({ scenario: 'read-first' }).wayBack).toBe(false);
    expect(() => resolveRehearsalOptions({ scenario: 'fallback', wayBack: false })).toThrow(
      '--scenario fallback rehearses the way back: --no-way-back contradicts it',
    );
    // A switched run whose reverse replication is not running is not as expected.
    const report = buildReport({ ...input(), options: armed, actual: { ...input().actual, reverseRunning: false } });
    expect(report.ok).toBe(false);
    expect(report.failedBecause).toContain('not as expected: reverseRunning: expected true, got false');
  });

  test('a write missing only on the side the application did not end on is named as that copy behind, not LOST', () => {
    const report = buildReport({
      ...input(),
      verification: [
        { database: 'source', checked: 50, found: 50, lost: 0, samples: [], durationMs: 1 },
        {
          database: 'target',
          scope: 'by replication',
          home: false,
          checked: 50,
          found: 47,
          lost: 3,
          samples: [],
          durationMs: 1,
        },
      ],
    });
    expect(report.lostWrites).toBe(0);
    expect(report.failedBecause).toContain(
      '3 acknowledged write(s) not on the target (by replication), the side the application did not end on: safe where it is, but that copy is behind',
    );
    expect(report.failedBecause.join()).not.toMatch(/LOST/);
  });

  test('a way back that broke while open fails the verdict, saying when and why', () => {
    const report = buildReport({
      ...input(),
      wayBackBroken: { at: T0 + 1500, detail: 'the way back is broken: its apply worker stopped (1 apply error(s))' },
    });
    expect(report.ok).toBe(false);
    expect(report.failedBecause).toContainEqual(
      expect.stringMatching(/^the way back broke at \+6\.5s: the way back is broken: its apply worker stopped/),
    );
  });

  test('the fallback plans: the cutover machine, then the fallback machine, both executed; nothing after a failed cutover', () => {
    for (const name of ['fallback', 'fallback-rollback'] as const) {
      const plan = SCENARIO_PLANS[name];
      expect(plan).toMatchObject({ executions: 2, wayBack: true, readSwitch: false, continueAfterFailure: false });
      expect([plan.machine(0), plan.machine(1)]).toEqual(['cutover', 'fallback']);
      expect([plan.executionMode(0, 'execute'), plan.executionMode(1, 'execute')]).toEqual(['execute', 'execute']);
    }
    expect(SCENARIO_PLANS.fallback.expected('execute')).toMatchObject({
      executionStatus: 'SUCCEEDED',
      lastState: 'FallbackSucceeded',
      trafficSwitched: false,
      sourceWritable: true,
      targetWritable: false,
      reverseRunning: false,
    });
    expect(SCENARIO_PLANS['fallback-rollback'].expected('execute')).toMatchObject({
      executionStatus: 'FAILED',
      lastState: 'RolledBack',
      migrationStatus: 'rolled-back',
      trafficSwitched: true,
      sourceWritable: false,
      targetWritable: true,
      reverseRunning: true,
    });
  });
});

describe('summary', () => {
  test('opens with the verdict, lost writes and the freeze, then its breakdown as an aligned table', () => {
    const lines = summaryLines(sampleReport(), OPTIONS);
    const n = acksAroundFreeze().length;
    expect(lines[1]).toBe('Rehearsal happy (execute): OK — outcome as expected, no acknowledged write lost');
    expect(lines[2]).toMatch(new RegExp(`^ {2}lost writes +0 of ${n} acknowledged \\(found: target ${n}/${n}\\)$`));
    expect(lines[3]).toMatch(
      /^ {2}write freeze +400 ms +last commit before the freeze → first after it \(longest other pause 5 ms, median 5 ms\)/,
    );
    const text = lines.join('\n');
    expect(text).not.toContain('\x1b[');
    expect(text).toContain('/tmp/r.json');
    expect(text).toContain('/tmp/r.html');
    expect(text).toMatch(/expected vs actual +as expected: execution SUCCEEDED/);
    for (const line of lines) expect(line.length).toBeLessThan(140);
  });

  test('the freeze breakdown merges the gaps between phases into one line that keeps each of them', () => {
    const lines = freezeBreakdownLines(sampleReport(), '');
    expect(lines.map((l) => l.split(/ {2,}/)[0])).toEqual([
      'last commit → freeze starts',
      ...FREEZE_PHASES,
      'between phases',
      'application reconnects to the target',
    ]);
    expect(lines[lines.length - 2]).toMatch(
      new RegExp(
        `\\(state transitions, step start-up: ${Array(FREEZE_PHASES.length - 1)
          .fill('5')
          .join(' \\+ ')} ms\\)$`,
      ),
    );
    expect(new Set(lines.map((l) => l.indexOf(' ms')))).toEqual(new Set([lines[0].indexOf(' ms')]));
  });

  test('lost writes and failures stand out', () => {
    const report = sampleReport({
      verification: [{ database: 'target', checked: 322, found: 320, lost: 2, samples: [], durationMs: 1 }],
    });
    const lines = summaryLines(report, OPTIONS);
    expect(lines[1]).toBe('Rehearsal happy (execute): FAILED — 2 acknowledged write(s) LOST');
    expect(lines[2]).toMatch(/lost writes +2 LOST of \d+ acknowledged/);
    expect(summaryLines(report, OPTIONS, undefined, true).join('\n')).toContain('\x1b[1;31m2 LOST');
    expect(renderHtmlReport(report)).toMatch(/<b class="bad" id="lost-writes">2<\/b>/);
  });

  test('expectations read as words', () => {
    expect(
      describeExpectation({
        executionStatus: 'FAILED',
        error: 'ZdmSyncTimeout',
        froze: false,
        sourceWritable: true,
        trafficSwitched: false,
        replicationStopped: false,
      }),
    ).toBe(
      'execution FAILED (ZdmSyncTimeout), never froze, traffic on the source, source writable, replication running',
    );
    expect(describeExpectation(SCENARIO_PLANS['read-first'].expected('execute'))).toBe(
      'execution SUCCEEDED, migration succeeded, froze, traffic on the target, source locked, replication stopped, ' +
        'reads switched to the target, reads on the target before the writes',
    );
    expect(describeExpectation(SCENARIO_PLANS.happy.expected('execute'))).toMatch(
      /replication stopped, no read switch \(reads follow the writes\)$/,
    );
  });

  test('colours only on a terminal, and never with NO_COLOR', () => {
    expect(stdoutWantsColor({ isTTY: true }, {})).toBe(true);
    expect(stdoutWantsColor({ isTTY: false }, {})).toBe(false);
    expect(stdoutWantsColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(stdoutWantsColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(stdoutWantsColor({}, { FORCE_COLOR: '1' })).toBe(true);
    expect(painter(false)('bad', 'x')).toBe('x');
  });
});
