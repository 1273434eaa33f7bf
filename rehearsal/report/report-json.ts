/**
 * The rehearsal's JSON report: its shape (`RehearsalReport`, what the console summary and the HTML report are drawn
 * from) and the helpers that turn timings and acknowledged writes into report fields.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ReadSwitchRecord, WatchdogReport } from '../../lambda/engine';
import type { CleanupFailure } from '../cleanup-ledger';
import type { CutoverPhaseTimes, FreezeSegment, FreezeWindow } from './freeze';
import type { LoadCommandResult } from '../load/load-command';
import type { PhaseTiming } from '../progress';
import type { ReadsSummary } from '../load/read-load';
import type { Actual, Expectation } from '../scenarios/scenarios';
import type { ServerState } from '../servers/server-state';
import type { LostWrite, VerificationResult } from '../scenarios/verify';
import type { AckedWrite, WriteFailure } from '../load/write-load';

export type { FreezeSegment, FreezeWindow };

export interface ReportPhase {
  readonly name: string;
  readonly group: 'rehearsal' | 'cutover';
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly status: string;
  readonly durationMs: number | null;
  readonly detail?: string;
  /** Cutover entries: a phase of the state record, a failed step or a failure handler. */
  readonly kind?: CutoverPhaseTimes['kind'];
  /** Cutover entries of another execution than the last, or (fallback scenarios) `cutover` / `fallback`. */
  readonly execution?: string;
}

/** One write freeze: the cutover's, and in the fallback scenarios the fallback's too. */
export type FreezeReport = FreezeWindow & {
  /** Whose freeze: the cutover's (it froze the source) or the fallback's (it froze the target). */
  readonly execution: 'cutover' | 'fallback';
  readonly frozenServer: 'source' | 'target';
  /** The pause in ms; null when it was not measured or did not end (see `unknownReason`). */
  readonly ms: number | null;
  readonly unknownReason?: string;
  /** Commits on the frozen server after the freeze step ended (and before its roles were given back): 0. */
  readonly commitsAfterFreeze?: number;
};

/** The writes of one period of a fallback scenario, and where each database has them. */
export interface WritePeriodReport {
  /** `before the cutover`, `on the target`, `after the fallback`. */
  readonly period: string;
  /** The server the application wrote to then. */
  readonly server: string;
  readonly acknowledged: number;
  /** First and last acknowledgement (ISO). */
  readonly from: string | null;
  readonly to: string | null;
  /** Each database's count of this period's writes (a database where they are not looked for is not listed). */
  readonly lookedUp: Array<{
    readonly database: string;
    readonly checked: number;
    readonly found: number;
    readonly lost: number;
  }>;
}

/** The application’s reads (see ../load/read-load.ts): what each server answered, per bucket, and when. */
export interface ReadsReport extends ReadsSummary {
  /** Reads per second asked (0: no reads) and the read loop's connections. */
  readonly targetRate: number;
  readonly connections: number;
  /** What the reads' endpoint was: a read switch of their own (read-first), or the write endpoint. */
  readonly follow: 'read switch' | 'write endpoint';
  /** When the target first answered a read (ISO); null: it never did. */
  readonly firstOnTargetAt: string | null;
  /** Read attempts rejected and retried (the freeze, a switch), by code. */
  readonly retries: number;
  readonly retriedByCode: Record<string, number>;
}

/** Where the reads were switched, apart from the writes (read-first). */
export interface ReadSwitchReport {
  /** Whether the reads had a switch of their own; otherwise they follow the writes and `at` is null. */
  readonly own: boolean;
  /** When the read endpoint pointed at the target, as the application saw it (ISO); null: never (see `note`). */
  readonly at: string | null;
  /** When it pointed back at the source (a rollback, revert-reads); null: it did not. */
  readonly revertedAt: string | null;
  /** Why `at` is null. */
  readonly note?: string;
  /** The workflow's read-switch record (`<migrationId>#reads`): from, to, switchedAt, revertedAt. */
  readonly record?: ReadSwitchRecord;
}

export interface ExecutionSummary {
  readonly index: number;
  /** The fallback scenarios: which state machine ran it (the cutover's or the fallback's). */
  readonly machine?: 'cutover' | 'fallback';
  /** The execution input's mode (`execute`, `dry-run`, `switch-reads`). */
  readonly mode?: string;
  readonly status: string;
  readonly error?: string;
  readonly cause?: string;
  readonly lastState?: string;
  /** The Task state that failed, and its error. */
  readonly failedState?: string;
  readonly startedAt: string;
  readonly durationMs: number;
}

export interface RehearsalReport {
  readonly ok: boolean;
  /** Why the verdict is FAILED: every reason, in words (empty when ok). */
  readonly failedBecause: string[];
  readonly scenario: string;
  readonly description: string;
  readonly mode: string;
  readonly migrationId: string;
  /** t = 0 of the console log ([  t s]) and of the HTML report's time axis. */
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  /** Set when a signal (or a crash elsewhere in the process) stopped the rehearsal early. */
  readonly interrupted?: { readonly kind: 'signal' | 'crash'; readonly signal?: string; readonly message: string };
  readonly servers: {
    readonly kind: 'embedded' | 'external';
    readonly source: string;
    readonly target: string;
    /** External servers are left running; what the rehearsal left on them is in `state.leftBehind`. */
    readonly leftInPlace: boolean;
    readonly sameServer?: boolean;
    /** Read back from the servers after the clean-up. */
    readonly state?: ServerState;
  };
  /** What was rehearsed: the demo schema, or the user's tables. */
  readonly tables: {
    readonly kind: 'demo' | 'user' | 'none';
    readonly names: string[];
    readonly rows: Record<string, number>;
    readonly rowsAreEstimates: boolean;
  };
  readonly rows: { readonly requested: number | null; readonly loaded: Record<string, number> };
  readonly load: {
    /** `demo`: the demo shop's mix; `probe`: the rehearsal's probe writer (beside the user's --load). */
    readonly writer: 'demo' | 'probe' | 'none';
    readonly role?: string;
    readonly targetRate: number;
    readonly concurrency: number;
    readonly durationMs: number;
    readonly achievedRate: number;
    readonly retries: number;
    readonly retriedByCode: Record<string, number>;
    readonly failed: number;
    readonly failures: WriteFailure[];
    /** The user's --load command. */
    readonly command?: LoadCommandResult;
  };
  readonly acknowledgedWrites: number;
  readonly acknowledgedOn: Record<string, number>;
  /** The application's reads: per server, stale (behind the writes), failed, per bucket. */
  readonly reads: ReadsReport;
  readonly readSwitch: ReadSwitchReport;
  /** When the write endpoint pointed at the target, as the application saw it (ISO); null: it never did. */
  readonly writeSwitchAt: string | null;
  /** Every change of the write endpoint, as the application saw it (fallback: to the target, then back). */
  readonly writeSwitches: Array<{ readonly at: string; readonly to: string }>;
  /** The fallback scenarios: the writes before the cutover, on the target, after the fallback, each looked up. */
  readonly writePeriods?: WritePeriodReport[];
  /** Acknowledged writes by kind: event / order / customer inserts, customer updates, probe rows. */
  readonly acknowledgedByKind: Record<string, number>;
  /** null when the writes were not looked up (see lostWritesUnknownReason). */
  readonly writesFoundOnTarget: number | null;
  /** null: unknown — the acknowledged writes were not looked up (`lostWritesUnknownReason` says why). */
  readonly lostWrites: number | null;
  readonly lostWritesUnknownReason?: string;
  readonly lostSamples: LostWrite[];
  readonly verification: VerificationResult[];
  /**
   * The write freeze in ms; null when it was not measured or did not end (`freeze.status` = `ongoing`, with
   * `freeze.ongoingMs` so far; `writeFreezeUnknownReason` says which).
   */
  readonly writeFreezeMs: number | null;
  readonly writeFreezeUnknownReason?: string;
  /** The cutover's freeze (the first of `freezes`). */
  readonly freeze: FreezeWindow;
  /** Every write freeze in order: the cutover's, and in the fallback scenarios the fallback's. */
  readonly freezes: FreezeReport[];
  readonly phases: ReportPhase[];
  /**
   * The open way back broke (the watch's first sight: the reverse replication failed, or the old source's guard
   * recorded a write outside it). way-back-broken: the row the scenario wrote there, and how soon it was named.
   */
  readonly wayBackBreak?: {
    readonly at?: string;
    readonly detail?: string;
    readonly oldSourceWrite?: {
      readonly at: string;
      readonly table: string;
      readonly operation: string;
      readonly key?: string;
    };
    readonly namedAfterMs?: number;
  };
  readonly cutover: {
    readonly executions: ExecutionSummary[];
    readonly migrationStatus: string | null;
    readonly phases: CutoverPhaseTimes[];
    /** The dead man's switch, run after an interrupt or a crash once the cutover had started. */
    readonly watchdog?: WatchdogReport;
    /** Roles the rehearsal gave their saved login settings back at the end (the source accepts writes again). */
    readonly restoredByRehearsal?: string[];
    readonly keptFrozen?: string;
  };
  readonly expected: Expectation;
  readonly actual: Actual;
  readonly mismatches: string[];
  readonly validation: {
    readonly ok: boolean;
    readonly by: string;
    readonly summary?: unknown;
    readonly error?: string;
  };
  readonly writeRate: {
    readonly bucketMs: number;
    readonly startedAt: string | null;
    /** Acknowledged commits per bucket, by server. */
    readonly source: number[];
    readonly target: number[];
  };
  readonly notices: string[];
  /** Clean-up steps that failed (what they left is in `servers.state.leftBehind`). */
  readonly cleanupFailures: CleanupFailure[];
  readonly error?: string;
}

export function toReportPhase(p: PhaseTiming): ReportPhase {
  return {
    name: p.name,
    group: p.group,
    startedAt: new Date(p.startedAt).toISOString(),
    endedAt: p.endedAt === undefined ? null : new Date(p.endedAt).toISOString(),
    status: p.status,
    durationMs: p.endedAt === undefined ? null : Math.round(p.endedAt - p.startedAt),
    ...(p.detail ? { detail: p.detail } : {}),
  };
}

/** Acknowledged commits per `bucketMs`, by server, from the first acknowledgement to the last. */
export function writeRateBuckets(acks: readonly AckedWrite[], bucketMs = 100): RehearsalReport['writeRate'] {
  if (acks.length === 0) return { bucketMs, startedAt: null, source: [], target: [] };
  let first = Infinity;
  let last = -Infinity;
  for (const a of acks) {
    first = Math.min(first, a.at);
    last = Math.max(last, a.at);
  }
  const start = Math.floor(first / bucketMs) * bucketMs;
  const n = Math.floor((last - start) / bucketMs) + 1;
  const source = new Array<number>(n).fill(0);
  const target = new Array<number>(n).fill(0);
  for (const a of acks) {
    const i = Math.floor((a.at - start) / bucketMs);
    (a.server === 'target' ? target : source)[i]++;
  }
  return { bucketMs, startedAt: new Date(start).toISOString(), source, target };
}

export function writeJsonReport(path: string, report: RehearsalReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
