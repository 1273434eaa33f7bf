import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FREEZE_PHASES } from '../../contract';
import {
  buildReport,
  describeExpectation,
  freezeBreakdownLines,
  summaryLines,
  type ReportInput,
} from '../../rehearsal/build-report';
import {
  BETWEEN_PHASES,
  freezeBreakdown,
  freezeWindow,
  longestGap,
  stateEventTimes,
  type CutoverPhaseTimes,
} from '../../rehearsal/freeze';
import { resolveRehearsalOptions } from '../../rehearsal/options';
import { painter, stdoutWantsColor } from '../../rehearsal/progress';
import { esc, renderHtmlReport, timeAxisOrigin, writeHtmlReport } from '../../rehearsal/report-html';
import { writeJsonReport, writeRateBuckets, type RehearsalReport } from '../../rehearsal/report-json';
import { SCENARIO_PLANS } from '../../rehearsal/scenarios';
import type { AckedWrite } from '../../rehearsal/write-load';

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

const OPTIONS = resolveRehearsalOptions({
  rows: 2000,
  rate: 200,
  reportPath: '/tmp/r.json',
  migrationId: 'rehearsal-1',
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
    },
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
