import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freezeBreakdown, freezeWindow, longestGap, type CutoverPhaseTimes } from '../../rehearsal/freeze';
import { describeExpectation, freezeBreakdownLines, summaryLines } from '../../rehearsal/build-report';
import { painter, stdoutWantsColor } from '../../rehearsal/progress';
import { esc, renderHtmlReport, writeHtmlReport } from '../../rehearsal/report-html';
import { writeJsonReport, writeRateBuckets, type RehearsalReport } from '../../rehearsal/report-json';
import type { AckedWrite } from '../../rehearsal/write-load';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function ack(atMs: number, server = 'source'): AckedWrite {
  return {
    kind: 'event',
    key: `k${atMs}`,
    token: `t${atMs}`,
    at: T0 + atMs,
    serverAt: T0 + atMs - 1,
    server,
    latencyMs: 1,
  };
}

function phase(name: CutoverPhaseTimes['name'], from: number, to: number): CutoverPhaseTimes {
  return {
    name,
    status: 'succeeded',
    startedAt: new Date(T0 + from).toISOString(),
    endedAt: new Date(T0 + to).toISOString(),
    durationMs: to - from,
  };
}

/** Writes every 5 ms on the source until 1000, none until 1400, then every 5 ms on the target. */
function acksAroundFreeze(): AckedWrite[] {
  const acks: AckedWrite[] = [];
  for (let t = 0; t <= 1000; t += 5) acks.push(ack(t));
  for (let t = 1400; t <= 2000; t += 5) acks.push(ack(t, 'target'));
  return acks;
}

const PHASES: CutoverPhaseTimes[] = [
  phase('waitForSync', 200, 900),
  phase('freezeWrites', 1001, 1020),
  phase('finalSync', 1030, 1080),
  phase('stopReplication', 1085, 1100),
  phase('sequences', 1110, 1130),
  phase('postValidation', 1140, 1350),
  phase('switchTraffic', 1360, 1365),
  phase('done', 1370, 1500),
];

describe('write freeze', () => {
  test('is the longest gap between consecutive acknowledged commits', () => {
    const gap = longestGap([...acksAroundFreeze()].reverse());
    expect(gap.ms).toBe(400);
    expect(gap.before?.at).toBe(T0 + 1000);
    expect(gap.after?.server).toBe('target');
    expect(gap.nextLongestMs).toBe(5);
    expect(gap.medianMs).toBe(5);
  });

  test('is 0 with fewer than two writes', () => {
    expect(longestGap([]).ms).toBe(0);
    expect(longestGap([ack(1)]).ms).toBe(0);
  });

  test('breakdown lists the phases inside the gap in order, with the time between them', () => {
    const breakdown = freezeBreakdown(T0 + 1000, T0 + 1400, PHASES);
    expect(breakdown).toEqual([
      { name: 'last commit → freeze starts', ms: 1 },
      { name: 'freezeWrites', ms: 19 },
      { name: 'between phases (state transitions, step start-up)', ms: 10 },
      { name: 'finalSync', ms: 50 },
      { name: 'between phases (state transitions, step start-up)', ms: 5 },
      { name: 'stopReplication', ms: 15 },
      { name: 'between phases (state transitions, step start-up)', ms: 10 },
      { name: 'sequences', ms: 20 },
      { name: 'between phases (state transitions, step start-up)', ms: 10 },
      { name: 'postValidation', ms: 210 },
      { name: 'between phases (state transitions, step start-up)', ms: 10 },
      { name: 'switchTraffic', ms: 5 },
      { name: 'application reconnects to the target', ms: 35 },
    ]);
    expect(breakdown.reduce((s, b) => s + b.ms, 0)).toBe(400);
  });

  test('window reports where the last and first writes were acknowledged', () => {
    const w = freezeWindow(acksAroundFreeze(), PHASES);
    expect(w).toMatchObject({
      ms: 400,
      from: '2026-01-01T00:00:01.000Z',
      to: '2026-01-01T00:00:01.400Z',
      lastWriteBefore: { server: 'source' },
      firstWriteAfter: { server: 'target' },
    });
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

function sampleReport(): RehearsalReport {
  const acks = acksAroundFreeze();
  const w = freezeWindow(acks, PHASES);
  return {
    ok: true,
    scenario: 'happy',
    description: 'cutover under load <script>alert(1)</script>',
    mode: 'execute',
    migrationId: 'rehearsal-1',
    startedAt: new Date(T0 - 5000).toISOString(),
    endedAt: new Date(T0 + 3000).toISOString(),
    durationMs: 8000,
    servers: {
      kind: 'embedded',
      source: 'postgres://postgres:***@127.0.0.1:1/shop',
      target: 'postgres://postgres:***@127.0.0.1:2/shop',
      leftInPlace: false,
    },
    rows: {
      requested: 2000,
      loaded: { 'app.customers': 200, 'app.events': 800, 'sales.orders': 400, 'sales.order_items': 600 },
    },
    load: {
      targetRate: 200,
      concurrency: 4,
      durationMs: 2000,
      achievedRate: 199,
      retries: 30,
      retriedByCode: { '28000': 30 },
      failed: 0,
      failures: [],
    },
    acknowledgedWrites: acks.length,
    acknowledgedOn: { source: 201, target: 121 },
    acknowledgedByKind: { event: acks.length },
    writesFoundOnTarget: acks.length,
    lostWrites: 0,
    lostSamples: [],
    verification: [
      { database: 'target', checked: acks.length, found: acks.length, lost: 0, samples: [], durationMs: 1 },
    ],
    writeFreezeMs: w.ms,
    freeze: {
      from: w.from,
      to: w.to,
      breakdown: w.breakdown,
      nextLongestGapMs: w.nextLongestGapMs,
      medianGapMs: w.medianGapMs,
    },
    phases: [
      {
        name: 'start servers',
        group: 'rehearsal',
        startedAt: new Date(T0 - 5000).toISOString(),
        endedAt: new Date(T0 - 100).toISOString(),
        status: 'succeeded',
        durationMs: 4900,
      },
      ...PHASES.map((p) => ({
        name: p.name,
        group: 'cutover' as const,
        startedAt: p.startedAt,
        endedAt: p.endedAt ?? null,
        status: p.status,
        durationMs: p.durationMs ?? null,
      })),
    ],
    cutover: {
      executions: [{ index: 0, status: 'SUCCEEDED', startedAt: new Date(T0).toISOString(), durationMs: 1500 }],
      migrationStatus: 'succeeded',
      phases: PHASES,
    },
    expected: {
      executionStatus: 'SUCCEEDED',
      froze: true,
      sourceWritable: false,
      trafficSwitched: true,
      replicationStopped: true,
    },
    actual: {
      executionStatus: 'SUCCEEDED',
      froze: true,
      sourceWritable: false,
      trafficSwitched: true,
      replicationStopped: true,
    },
    mismatches: [],
    validation: { ok: true, by: 'post-validation' },
    writeRate: writeRateBuckets(acks),
    notices: [],
  };
}

describe('reports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zdm-report-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
    // No external assets: no <link>, <script>, <img>, src= or url(); the only URL is the SVG namespace.
    expect(html).not.toMatch(/<link|<script|<img|<iframe|\ssrc=|url\(|@import/i);
    const urls = html.match(/https?:\/\/[^\s"'<)]+/g) ?? [];
    expect(urls.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    // Text from the report is escaped.
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  test('the HTML report puts the verdict, lost writes and freeze up front, and every phase of the freeze', () => {
    const html = renderHtmlReport(sampleReport());
    expect(html).toContain('✔ PASS');
    expect(html).toMatch(/<b class="ok" id="lost-writes">0<\/b>/);
    expect(html).toMatch(/id="write-freeze">400 ms</);
    expect(html).toContain('✔ as expected');
    expect(html).toContain('Cutover close-up');
    expect(html).toContain('writes per');
    expect(html.indexOf('id="lost-writes"')).toBeLessThan(html.indexOf('Cutover close-up'));
    for (const b of sampleReport().freeze.breakdown) expect(html).toContain(`${b.ms.toFixed(1)} ms`);
    expect(html).toContain(String(sampleReport().acknowledgedWrites));
  });

  test('the HTML report shows lost writes and mismatches unmistakably', () => {
    const report: RehearsalReport = {
      ...sampleReport(),
      ok: false,
      lostWrites: 3,
      verification: [{ database: 'target', checked: 322, found: 319, lost: 3, samples: [], durationMs: 1 }],
      actual: { ...sampleReport().actual, trafficSwitched: false },
      mismatches: ['trafficSwitched: expected true, got false'],
    };
    const html = renderHtmlReport(report);
    expect(html).toContain('✘ FAIL — 3 acknowledged writes lost');
    expect(html).toMatch(/<b class="bad" id="lost-writes">3<\/b>/);
    expect(html).toContain('✘ 1 mismatch');
    expect(html).toContain('<tr class="mismatch">');
    expect(html).not.toMatch(/<link|<script|\ssrc=|url\(|@import/i);
  });

  test('the JSON report has the documented top-level fields', () => {
    const path = join(dir, 'r.json');
    writeJsonReport(path, sampleReport());
    const json = JSON.parse(readFileSync(path, 'utf8'));
    expect(json).toMatchObject({
      ok: true,
      scenario: 'happy',
      mode: 'execute',
      acknowledgedWrites: expect.any(Number),
      writesFoundOnTarget: expect.any(Number),
      lostWrites: 0,
      writeFreezeMs: 400,
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
  const options = { reportPath: '/tmp/r.json', keepReplication: false };

  test('opens with the verdict, lost writes and the freeze, then its breakdown as an aligned table', () => {
    const lines = summaryLines(
      {
        ...sampleReport(),
        verification: [{ database: 'target', checked: 322, found: 322, lost: 0, samples: [], durationMs: 1 }],
      },
      options,
    );
    expect(lines[1]).toBe('Rehearsal happy (execute): OK — outcome as expected, no acknowledged write lost');
    expect(lines[2]).toMatch(/^ {2}lost writes +0 of 322 acknowledged \(found: target 322\/322\)$/);
    expect(lines[3]).toMatch(/^ {2}write freeze +400 ms +longest pause .*next-longest 5 ms, median 5 ms/);
    const text = lines.join('\n');
    expect(text).not.toContain('\x1b[');
    expect(text).toContain('/tmp/r.json');
    expect(text).toContain('/tmp/r.html');
    expect(text).toMatch(/expected vs actual +as expected: execution SUCCEEDED/);
    // No summary line is a wall of text.
    for (const line of lines) expect(line.length).toBeLessThan(140);
  });

  test('the freeze breakdown merges the gaps between phases into one line that keeps each of them', () => {
    const lines = freezeBreakdownLines(sampleReport(), '');
    expect(lines).toEqual([
      'last commit → freeze starts             1 ms   <1%',
      'freezeWrites                           19 ms    5%  █',
      'finalSync                              50 ms   13%  ███',
      'stopReplication                        15 ms    4%  █',
      'sequences                              20 ms    5%  █',
      'postValidation                        210 ms   53%  ███████████',
      'switchTraffic                           5 ms    1%',
      'between phases                         45 ms   11%  ██ (state transitions, step start-up: 10 + 5 + 10 + 10 + 10 ms)',
      'application reconnects to the target   35 ms    9%  ██',
    ]);
    // Every column lines up.
    expect(new Set(lines.map((l) => l.indexOf(' ms')))).toEqual(new Set([lines[0].indexOf(' ms')]));
  });

  test('lost writes and failures stand out', () => {
    const report: RehearsalReport = {
      ...sampleReport(),
      ok: false,
      lostWrites: 2,
      verification: [{ database: 'target', checked: 322, found: 320, lost: 2, samples: [], durationMs: 1 }],
    };
    const lines = summaryLines(report, options);
    expect(lines[1]).toBe('Rehearsal happy (execute): FAILED');
    expect(lines[2]).toMatch(/lost writes +2 LOST of 322 acknowledged/);
    const colored = summaryLines(report, options, undefined, true).join('\n');
    expect(colored).toContain('\x1b[1;31m2 LOST');
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
