import type { MigrationRecord } from '../lambda/engine/ports';
import { redactUrl } from '../lambda/engine/pg/connection';
import type { CutoverRunResult } from './local/run-state-machine';
import type { DemoRowCounts } from './demo-schema';
import { BETWEEN_PHASES, freezeWindow, phaseTimes, type CutoverPhaseTimes } from './freeze';
import { htmlReportPath, type RehearsalOptions } from './options';
import { formatMs, painter, type PhaseTiming, type RehearsalIO } from './progress';
import { toReportPhase, writeRateBuckets, type ExecutionSummary, type RehearsalReport } from './report-json';
import { compareOutcome, type Actual, type ScenarioPlan } from './scenarios';
import { replicationName, type Servers } from './servers';
import type { ThreadedWriteLoad } from './threaded-load';
import type { VerificationResult } from './verify';
import type { AckedWrite } from './write-load';

export function buildReport(args: {
  options: RehearsalOptions;
  plan: ScenarioPlan;
  startedAt: number;
  finishedAt: number;
  servers?: Servers;
  state: {
    rows?: DemoRowCounts;
    runs: Array<CutoverRunResult & { startedAt: number }>;
    record?: MigrationRecord;
    actual: Actual;
    verification: VerificationResult[];
    validation?: RehearsalReport['validation'];
  };
  load?: ThreadedWriteLoad;
  phases: PhaseTiming[];
  notices: string[];
  failure?: Error;
}): RehearsalReport {
  const { options, plan, state, load, servers } = args;
  const acks = load?.acks ?? [];
  const cutoverPhases = [...phaseTimes(state.record), ...failureHandlerTimes(state.runs)].sort(
    (a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt),
  );
  const freeze = freezeWindow(acks, cutoverPhases);
  const expected = plan.expected(options.mode);
  const mismatches = args.failure ? [] : compareOutcome(expected, state.actual);
  const onTarget = state.verification.find((v) => v.database === 'target');
  const lostWrites = state.verification.length ? Math.max(...state.verification.map((v) => v.lost)) : acks.length;
  const acknowledgedOn: Record<string, number> = {};
  const acknowledgedByKind: Record<string, number> = {};
  for (const a of acks) {
    acknowledgedOn[a.server] = (acknowledgedOn[a.server] ?? 0) + 1;
    acknowledgedByKind[a.kind] = (acknowledgedByKind[a.kind] ?? 0) + 1;
  }
  // Load duration: from the first acknowledged commit to the last (the worker's start-up is not load).
  let firstAck = Infinity;
  let lastAck = -Infinity;
  for (const a of acks) {
    firstAck = Math.min(firstAck, a.at);
    lastAck = Math.max(lastAck, a.at);
  }
  const loadMs = acks.length > 1 ? lastAck - firstAck : 0;
  const stats = load?.stats();
  const validation = state.validation ?? { ok: false, by: 'not run' };
  const ok =
    !args.failure &&
    mismatches.length === 0 &&
    lostWrites === 0 &&
    acks.length > 0 &&
    validation.ok &&
    (stats?.failed ?? 0) === 0;
  const phases = [
    ...args.phases.map(toReportPhase),
    ...cutoverPhases.map((p) => ({
      name: p.name,
      group: 'cutover' as const,
      startedAt: p.startedAt,
      endedAt: p.endedAt ?? null,
      status: p.status,
      durationMs: p.durationMs ?? null,
      ...(p.error ? { detail: p.error } : {}),
    })),
  ].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const executions: ExecutionSummary[] = state.runs.map((r, index) => ({
    index,
    status: r.status,
    ...(r.error ? { error: r.error } : {}),
    ...(r.cause ? { cause: r.cause.slice(0, 1000) } : {}),
    ...(r.lastState ? { lastState: r.lastState } : {}),
    startedAt: new Date(r.startedAt).toISOString(),
    durationMs: r.durationMs,
  }));
  return {
    ok,
    scenario: options.scenario,
    description: plan.description,
    mode: options.mode,
    migrationId: options.migrationId,
    startedAt: new Date(args.startedAt).toISOString(),
    endedAt: new Date(args.finishedAt).toISOString(),
    durationMs: args.finishedAt - args.startedAt,
    servers: {
      kind: servers?.kind ?? (options.sourceUrl ? 'external' : 'embedded'),
      source: servers ? redactUrl(servers.sourceUrl) : options.sourceUrl ? redactUrl(options.sourceUrl) : '',
      target: servers ? redactUrl(servers.targetUrl) : options.targetUrl ? redactUrl(options.targetUrl) : '',
      leftInPlace: Boolean(options.sourceUrl),
    },
    rows: { requested: options.rows, loaded: { ...(state.rows ?? {}) } },
    load: {
      targetRate: options.rate,
      concurrency: options.concurrency,
      durationMs: Math.round(loadMs),
      achievedRate: loadMs > 0 ? Math.round((acks.length * 1000 * 10) / loadMs) / 10 : 0,
      retries: stats?.retries ?? 0,
      retriedByCode: stats?.retriedByCode ?? {},
      failed: stats?.failed ?? 0,
      failures: (load?.failures ?? []).slice(0, 20),
    },
    acknowledgedWrites: acks.length,
    acknowledgedOn,
    acknowledgedByKind,
    writesFoundOnTarget: onTarget?.found ?? 0,
    lostWrites,
    lostSamples: state.verification.flatMap((v) => v.samples).slice(0, 20),
    verification: state.verification,
    writeFreezeMs: freeze.ms,
    freeze: {
      from: freeze.from,
      to: freeze.to,
      ...(freeze.lastWriteBefore ? { lastWriteBefore: freeze.lastWriteBefore } : {}),
      ...(freeze.firstWriteAfter ? { firstWriteAfter: freeze.firstWriteAfter } : {}),
      breakdown: freeze.breakdown,
      nextLongestGapMs: freeze.nextLongestGapMs,
      medianGapMs: freeze.medianGapMs,
      ...commitsAfterFreeze(acks, state.record),
    },
    phases,
    cutover: { executions, migrationStatus: state.record?.status ?? null, phases: cutoverPhases },
    expected,
    actual: state.actual,
    mismatches,
    validation,
    writeRate: writeRateBuckets(acks),
    notices: args.notices,
    ...(args.failure ? { error: args.failure.message } : {}),
  };
}

/** Rollback / ReportStoppedFailure have no phase record: take their times from the executions' state events. */
function failureHandlerTimes(runs: ReadonlyArray<CutoverRunResult>): CutoverPhaseTimes[] {
  const out: CutoverPhaseTimes[] = [];
  for (const run of runs) {
    const entered = new Map<string, number>();
    for (const e of run.events) {
      if (e.state !== 'Rollback' && e.state !== 'ReportStoppedFailure') continue;
      if (e.type === 'StateEntered') entered.set(e.state, e.timestamp);
      else if ((e.type === 'StateExited' || e.type === 'StateFailed') && entered.has(e.state)) {
        const start = entered.get(e.state) as number;
        out.push({
          name: e.state === 'Rollback' ? 'rollback' : 'reportStoppedFailure',
          status: e.type === 'StateExited' ? 'succeeded' : 'failed',
          startedAt: new Date(start).toISOString(),
          endedAt: new Date(e.timestamp).toISOString(),
          durationMs: e.timestamp - start,
        });
        entered.delete(e.state);
      }
    }
  }
  return out;
}

function commitsAfterFreeze(
  acks: readonly AckedWrite[],
  record: MigrationRecord | undefined,
): { sourceCommitsAfterFreeze?: number } {
  const frozen = record?.phases.freezeWrites;
  if (!record?.freeze || frozen?.status !== 'succeeded' || !frozen.endedAt) return {};
  const from = Date.parse(frozen.endedAt);
  const until = record.freeze.restoredAt ? Date.parse(record.freeze.restoredAt) : Infinity;
  return {
    sourceCommitsAfterFreeze: acks.filter((a) => a.server === 'source' && a.serverAt > from && a.serverAt < until)
      .length,
  };
}

/** Rounded milliseconds for the summary; "<1" for a phase that took under half a millisecond. */
function ms(value: number): string {
  return value > 0 && value < 0.5 ? '<1' : String(Math.round(value));
}

/**
 * The freeze breakdown as an aligned table (name, ms, share, bar). The short gaps between phases are merged into one
 * line that keeps each of them (`1 + 1 + 3`), placed after the workflow's phases and before the reconnect.
 */
export function freezeBreakdownLines(report: RehearsalReport, indent = '    '): string[] {
  const { breakdown } = report.freeze;
  if (breakdown.length === 0) return [];
  const gaps = breakdown.filter((b) => b.name === BETWEEN_PHASES);
  const rows: Array<{ name: string; ms: number; note?: string }> = breakdown
    .filter((b) => b.name !== BETWEEN_PHASES)
    .map((b) => ({ name: b.name, ms: b.ms }));
  if (gaps.length) {
    // One gap stays where it happened; several go after the workflow's phases, before the reconnect.
    const at =
      gaps.length === 1
        ? breakdown.indexOf(gaps[0])
        : rows.findIndex((r) => /^(application reconnects|after the last phase)/.test(r.name));
    rows.splice(at === -1 ? rows.length : at, 0, {
      name: 'between phases',
      ms: gaps.reduce((sum, g) => sum + g.ms, 0),
      note: `state transitions, step start-up${gaps.length > 1 ? `: ${gaps.map((g) => ms(g.ms)).join(' + ')} ms` : ''}`,
    });
  }
  const total = rows.reduce((sum, r) => sum + r.ms, 0);
  const nameWidth = Math.max(...rows.map((r) => r.name.length));
  const msWidth = Math.max(...rows.map((r) => ms(r.ms).length));
  return rows.map((r) => {
    const share = total > 0 ? (r.ms / total) * 100 : 0;
    const bar = '█'.repeat(Math.round(share / 5));
    const pct = `${share > 0 && share < 1 ? '<1' : Math.round(share)}%`;
    return `${indent}${r.name.padEnd(nameWidth)}  ${ms(r.ms).padStart(msWidth)} ms  ${pct.padStart(4)}  ${bar}${
      r.note ? `${bar ? ' ' : ''}(${r.note})` : ''
    }`.trimEnd();
  });
}

/** The scenario's expected outcome in words: `execution SUCCEEDED, froze, traffic on the target, ...`. */
export function describeExpectation(e: RehearsalReport['expected']): string {
  return [
    `execution ${e.executionStatus}${e.error ? ` (${e.error})` : ''}`,
    ...(e.migrationStatus ? [`migration ${e.migrationStatus}`] : []),
    e.froze ? 'froze' : 'never froze',
    e.trafficSwitched ? 'traffic on the target' : 'traffic on the source',
    e.sourceWritable ? 'source writable' : 'source locked',
    e.replicationStopped ? 'replication stopped' : 'replication running',
    ...(e.resumedSkippedDonePhases ? ['resume skipped the finished phases'] : []),
  ].join(', ');
}

/**
 * The summary printed at the end of a rehearsal: the verdict, then what a reader asks first (was anything lost,
 * how long was the freeze and what was it made of), then the details. Plain text unless `color`.
 */
export function summaryLines(
  report: RehearsalReport,
  options: Pick<RehearsalOptions, 'reportPath' | 'keepReplication'>,
  servers?: Pick<Servers, 'kind' | 'sourceUrl' | 'targetUrl'>,
  color = false,
): string[] {
  const paint = painter(color);
  const label = (text: string): string => `  ${text.padEnd(19)} `;
  const pad = ' '.repeat(label('').length);
  const verdict = report.ok ? paint('ok', 'OK') : paint('bad', 'FAILED');
  const why = report.error
    ? ` — ${report.error}`
    : report.ok
      ? ' — outcome as expected, no acknowledged write lost'
      : '';

  // Lost writes, with where each acknowledged write was looked for.
  const verified = report.verification.length > 0;
  const where = report.verification.map((v) => `${v.database} ${v.found}/${v.checked}`).join(', ');
  const lost = !verified
    ? `${paint('bad', 'not verified')} (the rehearsal stopped before checking ${report.acknowledgedWrites} acknowledged writes)`
    : report.lostWrites === 0
      ? `${paint('ok', '0')} of ${report.acknowledgedWrites} acknowledged (found: ${where})`
      : `${paint('bad', `${report.lostWrites} LOST`)} of ${report.acknowledgedWrites} acknowledged (found: ${where}); ` +
        'see lostSamples in the JSON report';

  // The freeze: total, then what it was made of.
  const { breakdown } = report.freeze;
  const single = breakdown.length === 1;
  const freeze = report.freeze.from
    ? `${paint('bold', `${report.writeFreezeMs} ms`)}  ${
        single ? `${breakdown[0].name};` : 'longest pause between acknowledged commits'
      } (next-longest ${report.freeze.nextLongestGapMs} ms, median ${report.freeze.medianGapMs} ms)`
    : `${report.writeFreezeMs} ms (fewer than two acknowledged writes: nothing to measure)`;
  const after = report.freeze.sourceCommitsAfterFreeze;
  const held =
    after === undefined
      ? []
      : [
          `${label('freeze held')}${after === 0 ? paint('ok', 'yes') : paint('bad', 'NO')} — ${after} source commits after the ` +
            'freeze step ended (server clock)',
        ];

  const load = report.load;
  const expected = report.error
    ? `${paint('bad', 'not reached')} (expected: ${describeExpectation(report.expected)})`
    : report.mismatches.length === 0
      ? `${paint('ok', 'as expected')}: ${describeExpectation(report.expected)}`
      : `${paint('bad', report.mismatches.join('; '))} (expected: ${describeExpectation(report.expected)})`;
  const lines = [
    '',
    `Rehearsal ${report.scenario} (${report.mode}): ${verdict}${why}`,
    `${label('lost writes')}${lost}`,
    `${label('write freeze')}${freeze}`,
    ...(single ? [] : freezeBreakdownLines(report, pad)),
    ...held,
    `${label('writes')}${report.acknowledgedWrites} acknowledged (${
      Object.entries(report.acknowledgedOn)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }), ${load.achievedRate} writes/s of ${load.targetRate} asked, ${load.retries} retried attempts, ${
      load.failed ? paint('bad', `${load.failed} failed`) : '0 failed'
    }`,
    `${label('validation')}${report.validation.ok ? paint('ok', 'match') : paint('bad', 'MISMATCH')} — ${report.validation.by}${
      report.validation.error ? `: ${report.validation.error}` : ''
    }`,
    `${label('executions')}${
      report.cutover.executions
        .map(
          (e) =>
            `#${e.index + 1} ${e.status}${e.error ? ` ${e.error}` : ''}${e.lastState ? ` at ${e.lastState}` : ''} in ${formatMs(
              e.durationMs,
            )}`,
        )
        .join(', ') || 'none'
    }`,
    `${label('expected vs actual')}${expected}`,
    `${label('rows')}${Object.values(report.rows.loaded).reduce((a, b) => a + b, 0)}`,
    `${label('total time')}${formatMs(report.durationMs)}`,
    `${label('reports')}${options.reportPath}`,
    `${pad}${htmlReportPath(options.reportPath)}`,
  ];
  if (servers?.kind === 'external') {
    lines.push(
      `${label('servers')}left running with the data in place: source ${redactUrl(servers.sourceUrl)} (schemas app, sales), ` +
        `target ${redactUrl(servers.targetUrl)}${
          options.keepReplication ? `; publication/subscription/slot "${replicationName(servers.sourceUrl)}" kept` : ''
        }`,
    );
  }
  return lines;
}

export function printSummary(
  io: RehearsalIO,
  report: RehearsalReport,
  options: RehearsalOptions,
  servers?: Servers,
): void {
  for (const line of summaryLines(report, options, servers, io.color)) io.out(line);
}
