/**
 * The rehearsal's report, made once at the end from what the run gathered (ReportInput): the RehearsalReport that
 * report-json.ts writes and report-html.ts draws, and the summary printed on the console.
 *
 * Reading order: `buildReport` (the report: the executions with their phases, each freeze from the state records
 * (`freezeOf`, `executionsOf`), the writes and reads, the servers read back, and the verdict with every reason it did
 * not pass (`reasons`)) → `printSummary` (the console: `summaryLines` with `freezeBreakdownLines`, `readLines`,
 * `serverLines` and the other `*Lines` helpers). Timing arithmetic lives in ./freeze.ts, the report's types in
 * ./report-json.ts.
 */
import { formatTableName } from '../../contract';
import { type MigrationRecord, type ReadSwitchRecord, redactUrl } from '../../lambda/engine';
import type { CleanupFailure } from '../cleanup-ledger';
import {
  BETWEEN_PHASES,
  commitsAfterFreeze,
  lateWritesOf,
  type CutoverPhaseTimes,
  type FreezeSegment,
  type FreezeWindow,
  cutoverPhaseTimes,
  phaseTimes,
  freezeHeldAt,
  freezeWindow,
  RECONNECT_TARGET,
} from './freeze';
import type { LoadCommandResult } from '../load/load-command';
import { htmlReportPath, type RehearsalOptions } from '../options';
import { formatMs, painter, type PhaseTiming, type RehearsalIO } from '../progress';
import { READ_CONNECTIONS, ReadTally, type ReadLoadStats, type ReadsSummary } from '../load/read-load';
import type { RehearsedTables } from '../tables/rehearsed-tables';
import {
  toReportPhase,
  writeRateBuckets,
  type ExecutionSummary,
  type FreezeReport,
  type WritePeriodReport,
  type ReadsReport,
  type ReadSwitchReport,
  type RehearsalReport,
} from './report-json';
import type { FreezeEnding, StopReason } from '../run-context';
import type { ExecutionRun } from '../run-cutover';
import type { WayBackBreak } from '../way-back-watch';
import type { OldSourceWrite } from '../scenarios/old-source-write';
import { compareOutcome, expectationFor, type Actual, type ScenarioPlan } from '../scenarios/scenarios';
import type { ServerState } from '../servers/server-state';
import type { Servers } from '../servers/setup-servers';
import { periodOfWrite, WRITE_PERIODS, type VerificationResult } from '../scenarios/verify';
import type { AckedWrite, WriteFailure, WriteLoadStats } from '../load/write-load';

export interface ReportInput {
  readonly options: RehearsalOptions;
  readonly plan: ScenarioPlan;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly servers?: Servers;
  readonly tables?: RehearsedTables;
  readonly writer?: {
    readonly workload: 'demo' | 'probe';
    readonly role: string;
    readonly acks: readonly AckedWrite[];
    readonly failures: readonly WriteFailure[];
    readonly stats: WriteLoadStats;
    /** When it stopped writing (epoch ms). */
    readonly stoppedAt?: number;
    /** The application's reads (its read loop runs beside the writes). */
    readonly reads?: ReadsSummary;
    readonly readStats?: ReadLoadStats;
  };
  readonly loadCommand?: LoadCommandResult;
  readonly runs: readonly ExecutionRun[];
  readonly record?: MigrationRecord;
  /** The state records of the other executions (read-first: the switch-reads execution's own record). */
  readonly earlierRecords?: readonly MigrationRecord[];
  /** Changes of the write endpoint and (read-first) of the reads' own endpoint, as the application saw them. */
  readonly switches?: {
    readonly writes: ReadonlyArray<{ readonly at: number; readonly to: string }>;
    readonly reads?: ReadonlyArray<{ readonly at: number; readonly to: string }>;
  };
  /** The workflow's read-switch record (read-first). */
  readonly readSwitch?: ReadSwitchRecord;
  /**
   * The fallback scenarios: the executed cutover's record (as the fallback left it), the fallback's, and when the
   * fallback started (it divides the source's writes into before the cutover and after the fallback).
   */
  readonly wayBack?: {
    readonly cutoverRecord?: MigrationRecord;
    readonly fallbackRecord?: MigrationRecord;
    readonly fallbackStartedAt?: number;
  };
  /**
   * The way back broke while it was open (the rehearsal's watch saw the reverse replication fail, or the old source's
   * guard record a write outside it).
   */
  readonly wayBackBroken?: WayBackBreak;
  /** way-back-broken: the row another session wrote on the old source (the break the scenario makes). */
  readonly oldSourceWrite?: OldSourceWrite;
  readonly actual: Actual;
  readonly verification: VerificationResult[];
  readonly validation?: RehearsalReport['validation'];
  readonly phases: PhaseTiming[];
  readonly notices: string[];
  readonly failure?: Error;
  readonly interrupted?: StopReason;
  readonly ending?: FreezeEnding;
  readonly serverState?: ServerState;
  readonly cleanupFailures: CleanupFailure[];
}

function executionSummaries(runs: readonly ExecutionRun[]): ExecutionSummary[] {
  const wayBack = runs.some((r) => r.machine === 'fallback');
  return runs.map((r, index) => {
    const failed = r.events.find((e) => e.type === 'StateFailed' && e.index === undefined && e.step);
    return {
      index,
      ...(wayBack ? { machine: r.machine } : {}),
      ...(r.mode ? { mode: r.mode } : {}),
      status: r.status,
      ...(r.error ? { error: r.error } : {}),
      ...(r.cause ? { cause: r.cause.slice(0, 1000) } : {}),
      ...(r.lastState ? { lastState: r.lastState } : {}),
      ...(failed ? { failedState: failed.state } : {}),
      startedAt: new Date(r.startedAt).toISOString(),
      durationMs: r.durationMs,
    };
  });
}

/** Why the rehearsal did not pass, every reason in words. */
function reasons(args: {
  input: ReportInput;
  mismatches: string[];
  lostWrites: number | null;
  lostUnknown?: string;
  acks: number;
  freezes: readonly FreezeReport[];
  validation: RehearsalReport['validation'];
}): string[] {
  const { input, mismatches, lostWrites, freezes, validation } = args;
  const out: string[] = [];
  if (input.interrupted) out.push(`interrupted (${input.interrupted.message}) before it finished`);
  if (input.failure) out.push(input.failure.message);
  // A break the scenario made itself (way-back-broken) is its expectation (`wayBackBreakReported`), not a failure.
  if (input.wayBackBroken && !input.plan.writeOnOldSource) {
    const at = ((input.wayBackBroken.at - input.startedAt) / 1000).toFixed(1);
    out.push(`the way back broke at +${at}s: ${input.wayBackBroken.detail.slice(0, 300)}`);
  }
  if (!input.failure && !input.interrupted && mismatches.length) out.push(`not as expected: ${mismatches.join('; ')}`);
  if (lostWrites === null) out.push(`acknowledged writes not verified: ${args.lostUnknown}`);
  else if (lostWrites > 0) out.push(`${lostWrites} acknowledged write(s) LOST`);
  for (const v of input.verification.filter((r) => r.home === false && r.lost > 0)) {
    out.push(
      `${v.lost} acknowledged write(s) not on the ${v.database}${v.scope ? ` (${v.scope})` : ''}, the side the ` +
        `application did not end on: safe where it is, but that copy is behind`,
    );
  }
  if (args.acks === 0 && !input.failure && !input.interrupted) out.push('no write was acknowledged');
  if (!validation.ok && validation.by !== 'not run') {
    out.push(`validation MISMATCH (${validation.by})${validation.error ? `: ${validation.error}` : ''}`);
  }
  const writer = input.writer;
  if (writer && writer.failures.length > 0) {
    const byMessage = new Map<string, number>();
    for (const f of writer.failures) byMessage.set(f.message, (byMessage.get(f.message) ?? 0) + 1);
    const [message, n] = [...byMessage.entries()].sort((a, b) => b[1] - a[1])[0];
    out.push(
      `${writer.stats.failed || writer.failures.length} write(s) of the ${writer.workload === 'demo' ? 'application load' : 'probe writer'} ` +
        `failed (${n}× "${message.slice(0, 160)}")`,
    );
  }
  const reads = input.writer?.reads;
  if (reads && reads.failed > 0) {
    const [code, n] = Object.entries(reads.failedByCode).sort((a, b) => b[1] - a[1])[0] ?? ['other', reads.failed];
    const where = Object.entries(reads.byServer)
      .filter(([, r]) => r.failed > 0)
      .map(([server, r]) => `${r.failed} on the ${server}`)
      .join(', ');
    out.push(
      `${reads.failed} read(s) of the application failed (${where}; ${n}× ${code}: "${(reads.failures[0]?.message ?? '').slice(0, 120)}")`,
    );
  }
  for (const freeze of freezes) {
    if (freeze.status === 'ongoing' && !input.interrupted && !input.failure) {
      out.push(
        `the ${freezes.length > 1 ? `${freeze.execution}'s ` : ''}write freeze did not end while the writes ran (${formatMs(freeze.ongoingMs ?? 0)} so far)`,
      );
    }
    if (freeze.lateWrites?.status === 'found') {
      out.push(
        `writes reached the ${freeze.frozenServer} after its freeze (CheckLateWrites): ${freeze.lateWrites.detail}`,
      );
    }
  }
  const stillFrozen = (input.serverState?.roles ?? []).filter(
    (r) => r.server === 'source' && r.exists && r.canLogin === false && !input.ending?.keptFrozen,
  );
  if (stillFrozen.length) {
    out.push(`the source is still frozen: ${stillFrozen.map((r) => `${r.role} NOLOGIN`).join(', ')}`);
  }
  if (input.cleanupFailures.length) {
    out.push(
      `${input.cleanupFailures.length} clean-up step(s) failed: ${input.cleanupFailures.map((f) => f.name).join('; ')}`,
    );
  }
  if (input.serverState?.unreadable)
    out.push(`the servers' state could not be read back: ${input.serverState.unreadable}`);
  return out;
}

/** What an earlier record's key says it was: `switch-reads execution`, `dry-run execution`, ... */
function executionOf(record: MigrationRecord): string {
  const action = /#([a-z-]+)#/.exec(record.migrationId)?.[1];
  return `${action ?? record.mode} execution`;
}

/** The reads for the report; no read loop ran (no writer): zero reads, said so by `targetRate`. */
function readsReport(input: ReportInput): ReadsReport {
  const summary = input.writer?.reads ?? new ReadTally().summary();
  const stats = input.writer?.readStats;
  return {
    targetRate: input.writer?.reads ? input.options.readRate : 0,
    connections: input.writer?.reads && input.options.readRate > 0 ? READ_CONNECTIONS : 0,
    follow: input.plan.readSwitch ? 'read switch' : 'write endpoint',
    firstOnTargetAt: summary.firstAt.target ?? null,
    retries: stats?.retries ?? 0,
    retriedByCode: stats?.retriedByCode ?? {},
    ...summary,
  };
}

/** When the reads were pointed at the target by their own switch, and back. */
function readSwitchReport(input: ReportInput): ReadSwitchReport {
  const changes = input.switches?.reads;
  if (!input.plan.readSwitch || !changes) {
    return {
      own: false,
      at: null,
      revertedAt: null,
      note: 'the reads have no switch of their own in this scenario: they follow the write endpoint',
    };
  }
  const to = changes.find((c) => c.to === 'target');
  const back = to ? changes.find((c) => c.at > to.at && c.to !== 'target') : undefined;
  return {
    own: true,
    at: to ? new Date(to.at).toISOString() : null,
    revertedAt: back ? new Date(back.at).toISOString() : null,
    ...(to ? {} : { note: 'the read endpoint never pointed at the target' }),
    ...(input.readSwitch ? { record: input.readSwitch } : {}),
  };
}

/** The freeze of one execution, measured on the writes around it. */
function freezeOf(args: {
  execution: 'cutover' | 'fallback';
  acks: readonly AckedWrite[];
  record: MigrationRecord | undefined;
  phases: readonly CutoverPhaseTimes[];
  observedUntil: number;
  servers?: Servers;
}): FreezeReport {
  const fallback = args.execution === 'fallback';
  const offsets = { source: args.servers?.clockOffsetMs.source ?? 0, target: args.servers?.clockOffsetMs.target ?? 0 };
  const { ms, ...window } = freezeWindow(args.acks, args.phases, {
    heldAt: freezeHeldAt(args.record),
    observedUntil: args.observedUntil,
    sourceClockOffsetMs: offsets.source,
    targetClockOffsetMs: offsets.target,
    direction: fallback ? 'fallback' : 'forward',
  });
  const frozenServer = fallback ? 'target' : 'source';
  const commits = commitsAfterFreeze(args.acks, args.record, offsets[frozenServer], frozenServer);
  const lateWrites = lateWritesOf(args.record);
  const unknownReason =
    ms !== null
      ? undefined
      : window.status === 'ongoing'
        ? `the freeze had not ended when the writes stopped: no write committed for ${formatMs(window.ongoingMs ?? 0)} after the last acknowledged one`
        : 'fewer than two acknowledged writes: nothing to measure';
  return {
    ...window,
    ...(commits !== undefined && !fallback ? { sourceCommitsAfterFreeze: commits } : {}),
    execution: args.execution,
    frozenServer,
    ms,
    ...(unknownReason ? { unknownReason } : {}),
    ...(commits !== undefined ? { commitsAfterFreeze: commits } : {}),
    ...(lateWrites ? { lateWrites } : {}),
  };
}

/**
 * The cutover's phases (and the other executions', labelled) and its freeze; the fallback scenarios: the cutover's
 * and the fallback's, each freeze measured on the writes of the periods around it.
 */
function executionsOf(
  input: ReportInput,
  acks: readonly AckedWrite[],
): { phases: CutoverPhaseTimes[]; freezes: FreezeReport[] } {
  const observedUntil = input.writer?.stoppedAt ?? input.finishedAt;
  const byTime = (a: CutoverPhaseTimes, b: CutoverPhaseTimes): number =>
    Date.parse(a.startedAt) - Date.parse(b.startedAt);
  if (!input.wayBack) {
    const lastPhases = cutoverPhaseTimes(input.record, input.runs);
    // The phases of the other executions' records (read-first: the switch-reads execution) are on the timeline too.
    const phases = [
      ...(input.earlierRecords ?? []).flatMap((r) => phaseTimes(r).map((p) => ({ ...p, execution: executionOf(r) }))),
      ...lastPhases,
    ].sort(byTime);
    const freeze = freezeOf({
      execution: 'cutover',
      acks,
      record: input.record,
      phases: lastPhases,
      observedUntil,
      ...(input.servers ? { servers: input.servers } : {}),
    });
    return { phases, freezes: [freeze] };
  }
  const { cutoverRecord, fallbackRecord, fallbackStartedAt } = input.wayBack;
  const periodOf = periodOfWrite(fallbackStartedAt);
  const of = (machine: 'cutover' | 'fallback', record: MigrationRecord | undefined): CutoverPhaseTimes[] =>
    cutoverPhaseTimes(
      record,
      input.runs.filter((r) => r.machine === machine),
    ).map((p) => ({ ...p, execution: machine }));
  const cutover = of('cutover', cutoverRecord);
  const fallback = fallbackRecord ? of('fallback', fallbackRecord) : [];
  const freezes = [
    freezeOf({
      execution: 'cutover',
      acks: acks.filter((a) => periodOf(a) !== WRITE_PERIODS.after),
      record: cutoverRecord,
      phases: cutover,
      observedUntil: fallbackStartedAt ?? observedUntil,
      ...(input.servers ? { servers: input.servers } : {}),
    }),
    ...(fallbackRecord
      ? [
          freezeOf({
            execution: 'fallback',
            acks: acks.filter((a) => periodOf(a) !== WRITE_PERIODS.before),
            record: fallbackRecord,
            phases: fallback,
            observedUntil,
            ...(input.servers ? { servers: input.servers } : {}),
          }),
        ]
      : []),
  ];
  return { phases: [...cutover, ...fallback].sort(byTime), freezes };
}

/** The freeze window alone (the report's `freeze`: the cutover's). */
function windowOnly(f: FreezeReport): FreezeWindow {
  const {
    execution: _execution,
    frozenServer: _frozenServer,
    ms: _ms,
    unknownReason: _unknownReason,
    commitsAfterFreeze: _commits,
    ...window
  } = f;
  return window;
}

/** The fallback scenarios' periods of writes, each with what every database has of it. */
function writePeriods(input: ReportInput, acks: readonly AckedWrite[]): WritePeriodReport[] | undefined {
  if (!input.wayBack) return undefined;
  const periodOf = periodOfWrite(input.wayBack.fallbackStartedAt);
  const periods = new Map<string, { server: string; n: number; from: number; to: number }>();
  for (const period of Object.values(WRITE_PERIODS))
    periods.set(period, { server: '', n: 0, from: Infinity, to: -Infinity });
  for (const a of acks) {
    const p = periods.get(periodOf(a))!;
    p.server = a.server;
    p.n++;
    p.from = Math.min(p.from, a.at);
    p.to = Math.max(p.to, a.at);
  }
  // A period without writes is left out (after a fallback that rolled back, nothing was written on the source again).
  return [...periods]
    .filter(([, p]) => p.n > 0)
    .map(([period, p]) => ({
      period,
      server: p.server || (period === WRITE_PERIODS.onTarget ? 'target' : 'source'),
      acknowledged: p.n,
      from: p.n ? new Date(p.from).toISOString() : null,
      to: p.n ? new Date(p.to).toISOString() : null,
      lookedUp: input.verification.flatMap((v) =>
        (v.byPeriod ?? [])
          .filter((b) => b.period === period)
          .map((b) => ({ database: v.database, checked: b.checked, found: b.found, lost: b.lost })),
      ),
    }));
}

export function buildReport(input: ReportInput): RehearsalReport {
  const { options, plan, servers } = input;
  const acks = input.writer?.acks ?? [];
  const { phases: cutoverPhases, freezes } = executionsOf(input, acks);
  const { ms: freezeMs, unknownReason } = freezes[0];
  const freeze = windowOnly(freezes[0]);
  const expected = expectationFor(plan, options);
  // An unexpected error says what it was: the failed state and the cause of the last execution.
  const last = input.runs[input.runs.length - 1];
  const failedState = last?.events.find((e) => e.type === 'StateFailed' && e.index === undefined && e.step)?.state;
  const mismatches = (input.failure || input.interrupted ? [] : compareOutcome(expected, input.actual)).map((m) =>
    (m.startsWith('error:') || m.startsWith('executionStatus:')) && last?.cause
      ? `${m} (${failedState ? `in ${failedState}: ` : ''}${last.cause.slice(0, 300)})`
      : m,
  );
  const verified = input.verification.length > 0;
  // Lost: missing on the side the application ended on. Missing on the other side is that copy behind (named apart).
  const home = input.verification.filter((v) => v.home !== false);
  const lostWrites = verified ? Math.max(0, ...home.map((v) => v.lost)) : null;
  const lostUnknown = verified
    ? undefined
    : input.interrupted
      ? `the rehearsal was interrupted (${input.interrupted.message}) before it looked them up`
      : input.failure
        ? `the rehearsal stopped before it looked them up (${input.failure.message.slice(0, 200)})`
        : 'they were not looked up';
  const onTarget = input.verification.find((v) => v.database === 'target');
  const acknowledgedOn: Record<string, number> = {};
  const acknowledgedByKind: Record<string, number> = {};
  let firstAck = Infinity;
  let lastAck = -Infinity;
  for (const a of acks) {
    acknowledgedOn[a.server] = (acknowledgedOn[a.server] ?? 0) + 1;
    acknowledgedByKind[a.kind] = (acknowledgedByKind[a.kind] ?? 0) + 1;
    firstAck = Math.min(firstAck, a.at);
    lastAck = Math.max(lastAck, a.at);
  }
  // Load duration: from the first acknowledged commit to the last (the worker's start-up is not load).
  const loadMs = acks.length > 1 ? lastAck - firstAck : 0;
  const stats = input.writer?.stats;
  const validation = input.validation ?? { ok: false, by: 'not run' };
  const failedBecause = reasons({ input, mismatches, lostWrites, lostUnknown, acks: acks.length, freezes, validation });
  const phases = [
    ...input.phases.map(toReportPhase),
    ...cutoverPhases.map((p) => ({
      name: p.name,
      group: 'cutover' as const,
      kind: p.kind,
      startedAt: p.startedAt,
      endedAt: p.endedAt ?? null,
      status: p.status,
      durationMs: p.durationMs ?? null,
      ...(p.error || p.execution
        ? { detail: [p.execution, p.error].filter((d): d is string => Boolean(d)).join(': ') }
        : {}),
      ...(p.execution ? { execution: p.execution } : {}),
    })),
  ].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const tables = input.tables;
  const periods = writePeriods(input, acks);
  return {
    ok: failedBecause.length === 0,
    failedBecause,
    scenario: options.scenario,
    description: plan.description,
    mode: options.mode,
    migrationId: options.migrationId,
    startedAt: new Date(input.startedAt).toISOString(),
    endedAt: new Date(input.finishedAt).toISOString(),
    durationMs: input.finishedAt - input.startedAt,
    ...(input.interrupted ? { interrupted: input.interrupted } : {}),
    servers: {
      kind: servers?.kind ?? (options.sourceUrl ? 'external' : 'embedded'),
      source: servers ? redactUrl(servers.sourceUrl) : options.sourceUrl ? redactUrl(options.sourceUrl) : '',
      target: servers ? redactUrl(servers.targetUrl) : options.targetUrl ? redactUrl(options.targetUrl) : '',
      leftInPlace: Boolean(options.sourceUrl),
      ...(servers ? { sameServer: servers.sameServer } : {}),
      ...(input.serverState ? { state: input.serverState } : {}),
    },
    tables: {
      kind: tables?.kind ?? 'none',
      names: (tables?.tables ?? []).map(formatTableName),
      rows: { ...(tables?.rows ?? {}) },
      rowsAreEstimates: tables?.rowsAreEstimates ?? false,
    },
    rows: {
      requested: options.demo ? options.rows : null,
      loaded: tables?.kind === 'demo' ? { ...tables.rows } : {},
    },
    load: {
      writer: input.writer?.workload ?? 'none',
      ...(input.writer ? { role: input.writer.role } : {}),
      targetRate: options.rate,
      concurrency: options.concurrency,
      durationMs: Math.round(loadMs),
      achievedRate: loadMs > 0 ? Math.round((acks.length * 1000 * 10) / loadMs) / 10 : 0,
      retries: stats?.retries ?? 0,
      retriedByCode: stats?.retriedByCode ?? {},
      failed: stats?.failed ?? 0,
      failures: (input.writer?.failures ?? []).slice(0, 20),
      ...(input.loadCommand ? { command: input.loadCommand } : {}),
    },
    acknowledgedWrites: acks.length,
    acknowledgedOn,
    reads: readsReport(input),
    readSwitch: readSwitchReport(input),
    writeSwitchAt: writeSwitchAt(input),
    writeSwitches: (input.switches?.writes ?? []).map((w) => ({ at: new Date(w.at).toISOString(), to: w.to })),
    ...(periods ? { writePeriods: periods } : {}),
    acknowledgedByKind,
    writesFoundOnTarget: onTarget ? onTarget.found : null,
    lostWrites,
    ...(lostUnknown ? { lostWritesUnknownReason: lostUnknown } : {}),
    lostSamples: input.verification.flatMap((v) => v.samples).slice(0, 20),
    verification: input.verification,
    writeFreezeMs: freezeMs,
    ...(unknownReason ? { writeFreezeUnknownReason: unknownReason } : {}),
    freeze,
    freezes,
    phases,
    cutover: {
      executions: executionSummaries(input.runs),
      migrationStatus: input.record?.status ?? null,
      phases: cutoverPhases,
      ...(input.ending?.watchdog ? { watchdog: input.ending.watchdog } : {}),
      ...(input.ending?.restoredByRehearsal.length ? { restoredByRehearsal: input.ending.restoredByRehearsal } : {}),
      ...(input.ending?.keptFrozen ? { keptFrozen: input.ending.keptFrozen } : {}),
    },
    ...wayBackBreakOf(input),
    expected,
    actual: input.actual,
    mismatches,
    validation,
    writeRate: writeRateBuckets(acks),
    notices: input.notices,
    cleanupFailures: input.cleanupFailures,
    ...(input.failure ? { error: input.failure.message } : {}),
  };
}

/** The break of the open way back the watch saw, with how long after the scenario's own write it named it. */
function wayBackBreakOf(input: ReportInput): Pick<RehearsalReport, 'wayBackBreak'> {
  const seen = input.wayBackBroken;
  const write = input.oldSourceWrite;
  if (!seen && !write) return {};
  return {
    wayBackBreak: {
      ...(seen ? { at: new Date(seen.at).toISOString(), detail: seen.detail.slice(0, 1000) } : {}),
      ...(write
        ? {
            oldSourceWrite: {
              at: new Date(write.at).toISOString(),
              table: write.table,
              operation: write.operation,
              ...(write.key ? { key: write.key } : {}),
            },
            ...(seen ? { namedAfterMs: Math.max(0, seen.at - write.at) } : {}),
          }
        : {}),
    },
  };
}

/** When the write endpoint first pointed at the target (as the application saw it). */
function writeSwitchAt(input: ReportInput): string | null {
  const to = input.switches?.writes.find((c) => c.to === 'target');
  return to ? new Date(to.at).toISOString() : null;
}

/** Rounded milliseconds for the summary; "<1" for a phase that took under half a millisecond. */
function ms(value: number): string {
  return value > 0 && value < 0.5 ? '<1' : String(Math.round(value));
}

/**
 * The freeze breakdown as an aligned table (name, ms, share, bar). The short gaps between phases are merged into one
 * line that keeps each of them (`1 + 1 + 3`), placed after the workflow's phases and before the reconnect.
 */
export function freezeBreakdownLines(
  report: Pick<RehearsalReport, 'freeze'>,
  indent = '    ',
  breakdown: readonly FreezeSegment[] = report.freeze.breakdown,
): string[] {
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
        : rows.findIndex(
            (r) =>
              r.name === RECONNECT_TARGET || /^(application reconnects|after the last phase|still frozen)/.test(r.name),
          );
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
    ...(e.readsSwitched === true
      ? ['reads switched to the target']
      : e.readsSwitched === false
        ? ['no read switch (reads follow the writes)']
        : []),
    ...(e.readsOnTargetFirst ? ['reads on the target before the writes'] : []),
    ...(e.resumedSkippedDonePhases ? ['resume skipped the finished phases'] : []),
    ...(e.targetWritable === true ? ['target writable'] : e.targetWritable === false ? ['target locked'] : []),
    ...(e.reverseRunning === true
      ? ['reverse replication running']
      : e.reverseRunning === false
        ? ['reverse replication not running']
        : []),
    ...(e.lastState ? [`ended in ${e.lastState}`] : []),
    ...(e.wayBackBreakReported ? ['the write on the old source named by the watch'] : []),
  ].join(', ');
}

/** A time of the run as the console shows it: seconds since the rehearsal started (`+12.3s`). */
function sinceStart(report: RehearsalReport, iso: string): string {
  return `+${((Date.parse(iso) - Date.parse(report.startedAt)) / 1000).toFixed(1)}s`;
}

/** The reads (per server, stale, failed, latency) and where they were switched, for the summary. */
export function readLines(
  report: RehearsalReport,
  label: (t: string) => string,
  paint: ReturnType<typeof painter> = painter(false),
): string[] {
  const r = report.reads;
  if (r.targetRate === 0 && r.reads === 0) {
    return [`${label('reads')}none (${report.load.writer === 'none' ? 'the load did not start' : '--read-rate 0'})`];
  }
  const answered = r.fresh + r.stale;
  const servers = Object.entries(r.byServer);
  const per =
    servers.map(([server, s]) => `${server} ${s.fresh + s.stale}${s.stale ? ` (${s.stale} stale)` : ''}`).join(', ') ||
    'none';
  const latency = servers
    .filter(([, s]) => s.latency)
    .map(([server, s]) => `${server} p50 ${s.latency!.p50Ms} ms, p99 ${s.latency!.p99Ms} ms`)
    .join('; ');
  const pad = label('');
  const lines = [
    `${label('reads')}${answered} answered: ${per}; ${r.failed ? paint('bad', `${r.failed} failed`) : '0 failed'}, ${
      r.retries
    } retried attempts`,
    ...(r.stale
      ? [
          `${pad}stale: did not find the latest acknowledged write yet (the server was behind the writes: replication lag)`,
        ]
      : []),
    ...(latency ? [`${pad}latency ${latency}`] : []),
  ];
  const sw = report.readSwitch;
  const writes =
    report.writePeriods && report.writeSwitches.length
      ? `writes ${report.writeSwitches.map((w) => `→ ${w.to} at ${sinceStart(report, w.at)}`).join(', ')}`
      : report.writeSwitchAt
        ? `writes → target at ${sinceStart(report, report.writeSwitchAt)}`
        : 'writes stayed on the source';
  if (!sw.own) {
    lines.push(`${label('read switch')}none — the reads follow the write endpoint (${writes})`);
    return lines;
  }
  if (!sw.at) {
    lines.push(`${label('read switch')}${paint('bad', 'never')} — ${sw.note ?? 'unknown'} (${writes})`);
    return lines;
  }
  const lead =
    report.writeSwitchAt && Date.parse(report.writeSwitchAt) >= Date.parse(sw.at)
      ? ` (${formatMs(Date.parse(report.writeSwitchAt) - Date.parse(sw.at))} later)`
      : '';
  lines.push(
    `${label('read switch')}reads → target at ${paint('bold', sinceStart(report, sw.at))}${
      sw.revertedAt ? `, back to the source at ${sinceStart(report, sw.revertedAt)}` : ''
    }, ${writes}${lead}`,
    `${pad}first read answered by the target at ${
      r.firstOnTargetAt ? sinceStart(report, r.firstOnTargetAt) : 'unknown (none was)'
    }; the last read was answered by the ${r.lastServer ?? 'unknown server'}`,
  );
  return lines;
}

/** The verdict line's reason: the first reason, and how many more. */
function verdictReason(report: RehearsalReport): string {
  if (report.ok) return ' — outcome as expected, no acknowledged write lost';
  const [first, ...rest] = report.failedBecause;
  if (!first) return '';
  return ` — ${first.length > 150 ? `${first.slice(0, 150)}…` : first}${rest.length ? ` (+${rest.length} more below)` : ''}`;
}

/** What the servers are left with, one line each (external servers). */
function serverLines(
  report: RehearsalReport,
  label: (t: string) => string,
  pad: string,
  paint: ReturnType<typeof painter>,
): string[] {
  const state = report.servers.state;
  if (!state) return [];
  if (state.embedded) return [`${label('servers')}embedded servers stopped and removed, with everything on them`];
  const lines: string[] = [];
  const sourceRoles = state.roles.filter((r) => r.server === 'source');
  if (sourceRoles.length) {
    lines.push(
      `${label('source roles')}${sourceRoles
        .map((r) =>
          !r.exists
            ? `${r.role} removed`
            : `${r.role} ${r.canLogin ? paint('ok', 'LOGIN') : paint('bad', 'NOLOGIN')} limit ${r.connectionLimit}${
                r.before
                  ? ` (${r.asBefore ? 'as before' : paint('bad', 'CHANGED')}, password ${r.passwordUnchanged ? 'unchanged' : paint('bad', 'CHANGED')})`
                  : ''
              }`,
        )
        .join('; ')}`,
    );
  }
  const w = report.cutover.watchdog;
  if (w) lines.push(`${label("dead man's switch")}${w.outcome}: ${w.message.split('\n').slice(1).join(' ')}`);
  if (report.cutover.restoredByRehearsal?.length) {
    lines.push(
      `${pad}the rehearsal restored the saved login settings of ${report.cutover.restoredByRehearsal.join(', ')}`,
    );
  }
  if (report.cutover.keptFrozen) lines.push(`${pad}${report.cutover.keptFrozen}`);
  if (state.leftBehind.length === 0 && !state.unreadable) {
    lines.push(
      `${label('left behind')}${paint('ok', 'nothing')} — both databases are as they were before the rehearsal`,
    );
  } else {
    const readable = state.unreadable ? ' on the servers that could be read' : '';
    lines.push(`${label('left behind')}${state.leftBehind.length} object(s)${readable}:`);
    for (const l of state.leftBehind) {
      lines.push(`${pad}- ${l.server}: ${l.kind} ${l.name}${l.detail ? ` (${l.detail})` : ''}`);
    }
    if (state.unreadable) lines.push(`${pad}${paint('bad', 'could not read back')}: ${state.unreadable}`);
  }
  return lines;
}

/**
 * The summary printed at the end of a rehearsal: the verdict and why, then what a reader asks first (was anything
 * lost, how long was the freeze and what was it made of), then the details and what the servers are left with.
 * Plain text unless `color`.
 */
export function summaryLines(
  report: RehearsalReport,
  options: Pick<RehearsalOptions, 'reportPath' | 'keepReplication'>,
  _servers?: Pick<Servers, 'kind' | 'sourceUrl' | 'targetUrl'>,
  color = false,
): string[] {
  const paint = painter(color);
  const label = (text: string): string => `  ${text.padEnd(19)} `;
  const tabular = new Set<string>();
  const table = (rows: string[]): string[] => {
    for (const r of rows) tabular.add(r);
    return rows;
  };
  const pad = ' '.repeat(label('').length);
  const verdict = report.ok ? paint('ok', 'OK') : paint('bad', 'FAILED');

  // Lost writes, with where each acknowledged write was looked for.
  const where = report.verification
    .map((v) => `${v.database} ${v.found}/${v.checked}${v.scope ? ` ${v.scope}` : ''}`)
    .join(', ');
  const lost =
    report.lostWrites === null
      ? `${paint('bad', 'unknown')} — ${report.lostWritesUnknownReason ?? 'not verified'} (${report.acknowledgedWrites} acknowledged)`
      : report.lostWrites === 0
        ? `${paint('ok', '0')} of ${report.acknowledgedWrites} acknowledged (found: ${where})`
        : `${paint('bad', `${report.lostWrites} LOST`)} of ${report.acknowledgedWrites} acknowledged (found: ${where}); ` +
          'see lostSamples in the JSON report';

  // The freeze: total, then what it was made of.
  const { breakdown } = report.freeze;
  const single = breakdown.length === 1;
  const stats = `(longest other pause ${report.freeze.nextLongestGapMs} ms, median ${report.freeze.medianGapMs} ms)`;
  const freeze =
    report.freeze.status === 'ongoing'
      ? `${paint('bad', 'ONGOING')} when the writes stopped — no write committed for ${formatMs(report.freeze.ongoingMs ?? 0)} so far`
      : report.writeFreezeMs === null
        ? `unknown (${report.writeFreezeUnknownReason ?? 'not measured'})`
        : `${paint('bold', `${report.writeFreezeMs} ms`)}  ${
            single
              ? `${breakdown[0].name};`
              : report.freeze.status === 'none'
                ? 'longest pause between acknowledged commits (nothing was frozen)'
                : 'last commit before the freeze → first after it'
          } ${stats}`;
  const after = report.freeze.sourceCommitsAfterFreeze;
  const twoFreezes = report.freezes.length > 1;
  const held = twoFreezes
    ? heldLines(report, label, paint)
    : after === undefined
      ? []
      : [freezeHeldLine(after, report.freeze.lateWrites, label, paint)];

  const load = report.load;
  const expected =
    report.error || report.interrupted
      ? `${paint('bad', 'not reached')} (expected: ${describeExpectation(report.expected)})`
      : report.mismatches.length === 0
        ? `${paint('ok', 'as expected')}: ${describeExpectation(report.expected)}`
        : `${paint('bad', report.mismatches.join('; '))} (expected: ${describeExpectation(report.expected)})`;
  const writer = load.writer === 'probe' ? 'probe writes' : 'writes';
  const command = load.command;
  const tableCount = report.tables.names.length;
  const totalRows = Object.values(report.tables.rows).reduce((a, b) => a + b, 0);
  const lines = [
    '',
    `Rehearsal ${report.scenario} (${report.mode}): ${verdict}${verdictReason(report)}`,
    ...(report.ok || report.failedBecause.length < 2
      ? []
      : report.failedBecause.map((r, i) => `${i === 0 ? label('failed because') : pad}- ${r}`)),
    `${label('lost writes')}${lost}`,
    ...periodLines(report, label, pad, paint),
    ...(twoFreezes
      ? freezesLines(report, label, pad, paint, tabular)
      : [`${label('write freeze')}${freeze}`, ...table(single ? [] : freezeBreakdownLines(report, pad))]),
    ...held,
    ...switchLines(report, label),
    `${label(writer)}${report.acknowledgedWrites} acknowledged (${
      Object.entries(report.acknowledgedOn)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }), ${load.achievedRate} writes/s of ${load.targetRate} asked, ${load.retries} retried attempts, ${
      load.failed ? paint('bad', `${load.failed} failed`) : '0 failed'
    }`,
    ...readLines(report, label, paint),
    ...(command
      ? [
          `${label('your --load')}${command.exitCode === null && command.signal === null ? 'still running' : command.signal ? `ended by ${command.signal}` : `exit code ${command.exitCode}`}${
            command.stoppedByRehearsal ? ' (stopped by the rehearsal)' : ' (ended by itself)'
          }, ${command.outputLines} output line(s); what it committed is covered by the validation below`,
        ]
      : []),
    `${label('validation')}${report.validation.ok ? paint('ok', 'match') : paint('bad', 'MISMATCH')} — ${report.validation.by}${
      report.validation.error ? `: ${report.validation.error}` : ''
    }`,
    `${label('executions')}${
      report.cutover.executions
        .map(
          (e) =>
            `#${e.index + 1}${e.machine ? ` ${e.machine}` : ''}${e.mode && report.cutover.executions.some((x) => x.mode !== e.mode) ? ` (${e.mode})` : ''} ${e.status}${e.error ? ` ${e.error}` : ''}${e.failedState ? ` in ${paint('bad', e.failedState)}` : ''}${
              e.lastState ? ` at ${e.lastState}` : ''
            } in ${formatMs(e.durationMs)}`,
        )
        .join(', ') || 'none'
    }`,
    ...wayBackLines(report, label, paint),
    `${label('expected vs actual')}${expected}`,
    `${label('tables')}${report.tables.kind === 'demo' ? 'demo schema, ' : ''}${tableCount} table(s), ${
      report.tables.rowsAreEstimates ? '≈' : ''
    }${totalRows} rows`,
    `${label('total time')}${formatMs(report.durationMs)}`,
    ...serverLines(report, label, pad, paint),
    `${label('reports')}${options.reportPath}`,
    `${pad}${htmlReportPath(options.reportPath)}`,
  ];
  // The breakdown tables stay one row a line (their notes would break at ", " otherwise).
  return lines.flatMap((line) => (tabular.has(line) ? [line] : wrap(line, pad)));
}

/** way-back-broken (or any break seen): what broke the open way back, and how soon the watch named it. */
function wayBackLines(
  report: RehearsalReport,
  label: (t: string) => string,
  paint: ReturnType<typeof painter>,
): string[] {
  const b = report.wayBackBreak;
  if (!b) return [];
  const write = b.oldSourceWrite;
  const written = write
    ? `${write.table} ${write.operation}${write.key ? ` ${write.key}` : ''} on the old source at ${sinceStart(report, write.at)}; `
    : '';
  const named =
    b.at === undefined
      ? paint('bad', 'never named by the watch')
      : `named ${write && b.namedAfterMs !== undefined ? `${b.namedAfterMs} ms later` : `at ${sinceStart(report, b.at)}`} — ${b.detail}`;
  return [`${label('way back broken')}${written}${named}`];
}

/** The fallback scenarios: each period's writes, and where each database has them. */
function periodLines(
  report: RehearsalReport,
  label: (t: string) => string,
  pad: string,
  paint: ReturnType<typeof painter>,
): string[] {
  const periods = report.writePeriods;
  if (!periods) return [];
  const width = Math.max(...periods.map((p) => p.period.length));
  const count = Math.max(...periods.map((p) => String(p.acknowledged).length));
  return periods.map((p, i) => {
    const found = p.lookedUp.length
      ? p.lookedUp
          .map((l) => `${l.database} ${l.lost ? paint('bad', `${l.found}/${l.checked}`) : `${l.found}/${l.checked}`}`)
          .join(', ')
      : 'not looked up';
    return `${i === 0 ? label('write periods') : pad}${p.period.padEnd(width)}  ${String(p.acknowledged).padStart(
      count,
    )} on the ${p.server.padEnd(6)}  found: ${found}`;
  });
}

/** Both freezes (fallback scenarios), each with its breakdown. */
function freezesLines(
  report: RehearsalReport,
  label: (t: string) => string,
  pad: string,
  paint: ReturnType<typeof painter>,
  tabular: Set<string>,
): string[] {
  const width = Math.max(...report.freezes.map((f) => f.execution.length));
  return report.freezes.flatMap((f, i) => {
    const head = `${i === 0 ? label('write freezes') : pad}${f.execution.padEnd(width)} `;
    const what =
      f.status === 'ongoing'
        ? `${paint('bad', 'ONGOING')} when the writes stopped — no write committed for ${formatMs(f.ongoingMs ?? 0)} so far`
        : f.ms === null
          ? `unknown (${f.unknownReason ?? 'not measured'})`
          : `${paint('bold', `${f.ms} ms`)}  ${
              f.status === 'none'
                ? 'longest pause between acknowledged commits (nothing was frozen)'
                : `last ${f.lastWriteBefore?.server ?? f.frozenServer} commit → first ${
                    f.firstWriteAfter?.server ?? (f.execution === 'fallback' ? 'source' : 'target')
                  } commit`
            } (longest other pause ${f.nextLongestGapMs} ms, median ${f.medianGapMs} ms)`;
    const rows = freezeBreakdownLines(report, pad, f.breakdown);
    for (const r of rows) tabular.add(r);
    return [`${head}${what}`, ...rows];
  });
}

/**
 * Whether the cutover's freeze held: the rehearsal's own writes after the freeze step ended AND what the cutover's
 * CheckLateWrites found there from any writer. "yes" needs both; a step that never answered is "unknown".
 */
function freezeHeldLine(
  after: number,
  late: FreezeReport['lateWrites'],
  label: (t: string) => string,
  paint: ReturnType<typeof painter>,
): string {
  const load = `${after} rehearsal commits after the freeze step (server clock)`;
  if (late?.status === 'found')
    return `${label('freeze held')}${paint('bad', 'NO')} — CheckLateWrites: ${late.detail}; ${load}`;
  if (after > 0) return `${label('freeze held')}${paint('bad', 'NO')} — ${load}`;
  if (late?.status === 'none') {
    return `${label('freeze held')}${paint('ok', 'yes')} — ${load}; CheckLateWrites: no change by any role after the marker`;
  }
  const why = late?.detail ? `CheckLateWrites failed: ${late.detail}` : 'CheckLateWrites did not run';
  return `${label('freeze held')}${paint('bad', 'unknown')} — ${load}; ${why}`;
}

/** Whether each freeze held (fallback scenarios): no commit on the frozen server after its freeze step ended. */
function heldLines(report: RehearsalReport, label: (t: string) => string, paint: ReturnType<typeof painter>): string[] {
  const known = report.freezes.filter((f) => f.commitsAfterFreeze !== undefined);
  if (known.length === 0) return [];
  // As for one freeze: the cutover's own late-write check counts writes of every role, the commits only the load's.
  const late = report.freezes.filter((f) => f.lateWrites?.status === 'found');
  const ok = known.every((f) => f.commitsAfterFreeze === 0) && late.length === 0;
  return [
    `${label('freezes held')}${ok ? paint('ok', 'yes') : paint('bad', 'NO')} — ${known
      .map(
        (f, i) =>
          `${f.frozenServer}: ${f.commitsAfterFreeze} commits after the ${f.execution}'s freeze step${i === 0 ? ' ended' : ''}`,
      )
      .join(
        '; ',
      )} (server clock)${late.map((f) => `; ${f.execution}'s CheckLateWrites: ${f.lateWrites!.detail}`).join('')}`,
  ];
}

/** Where the writes went (fallback scenarios): to the target, and back. */
function switchLines(report: RehearsalReport, label: (t: string) => string): string[] {
  if (!report.writePeriods) return [];
  const moves = report.writeSwitches.map((w) => `→ ${w.to} at ${sinceStart(report, w.at)}`).join(', ');
  return [`${label('write switches')}${moves || 'none — the writes stayed on the source'}`];
}

const ANSI_CODE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Breaks a line longer than `width` (ANSI codes not counted) after a ", ", continuing under `pad`. */
function wrap(line: string, pad: string, width = 130): string[] {
  const visible = (t: string): number => t.replace(ANSI_CODE, '').length;
  if (visible(line) <= width) return [line];
  const out: string[] = [];
  let rest = line;
  while (visible(rest) > width) {
    const cut = rest.lastIndexOf(', ', width);
    if (cut <= pad.length) break;
    out.push(rest.slice(0, cut + 1));
    rest = `${pad}${rest.slice(cut + 2)}`;
  }
  out.push(rest);
  return out;
}

export function printSummary(io: RehearsalIO, report: RehearsalReport, options: RehearsalOptions): void {
  for (const line of summaryLines(report, options, undefined, io.color)) io.out(line);
}
