import type { MigrationRecord } from '../engine/ports';
import { redactUrl } from '../engine/pg/connection';
import type { CutoverRunResult } from '../local/run-state-machine';
import type { DemoRowCounts } from './demo-schema';
import { freezeWindow, phaseTimes, type CutoverPhaseTimes } from './freeze';
import { htmlReportPath, type RehearsalOptions } from './options';
import { formatMs, type PhaseTiming, type RehearsalIO } from './progress';
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

export function printSummary(
  io: RehearsalIO,
  report: RehearsalReport,
  options: RehearsalOptions,
  servers?: Servers,
): void {
  const lines = [
    '',
    `Rehearsal ${report.scenario} (${report.mode}): ${report.ok ? 'OK' : 'FAILED'}${report.error ? ` — ${report.error}` : ''}`,
    `  rows                 ${Object.values(report.rows.loaded).reduce((a, b) => a + b, 0)}`,
    `  writes acknowledged  ${report.acknowledgedWrites} (${Object.entries(report.acknowledgedOn)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}), ${report.load.achievedRate} writes/s, ${report.load.retries} retried attempts, ${report.load.failed} failed`,
    `  found on target      ${report.writesFoundOnTarget}`,
    `  lost writes          ${report.lostWrites}`,
    `  write freeze         ${report.writeFreezeMs} ms${
      report.freeze.breakdown.length
        ? ` = ${report.freeze.breakdown.map((b) => `${b.name} ${Math.round(b.ms)}`).join(' + ')}`
        : ''
    }`,
    ...(report.freeze.sourceCommitsAfterFreeze !== undefined
      ? [`  source commits after the freeze step ended: ${report.freeze.sourceCommitsAfterFreeze} (server clock)`]
      : []),
    `  validation           ${report.validation.ok ? 'match' : 'MISMATCH'} (${report.validation.by})`,
    `  executions           ${report.cutover.executions
      .map((e) => `${e.status}${e.error ? ` ${e.error}` : ''} in ${formatMs(e.durationMs)}`)
      .join(', ')}`,
    `  expected vs actual   ${
      report.error ? 'not reached' : report.mismatches.length === 0 ? 'as expected' : report.mismatches.join('; ')
    }`,
    `  total time           ${formatMs(report.durationMs)}`,
    `  reports              ${options.reportPath}, ${htmlReportPath(options.reportPath)}`,
  ];
  if (servers?.kind === 'external') {
    lines.push(
      `  servers left running with the data in place: source ${redactUrl(servers.sourceUrl)} (schemas app, sales), ` +
        `target ${redactUrl(servers.targetUrl)}${
          options.keepReplication ? `; publication/subscription/slot "${replicationName(servers.sourceUrl)}" kept` : ''
        }`,
    );
  }
  for (const line of lines) io.out(line);
}
