import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CutoverPhaseTimes, FreezeSegment, FreezeWindow } from './freeze';

export type { FreezeSegment, FreezeWindow };
import type { PhaseTiming } from './progress';
import type { Actual, Expectation } from './scenarios';
import type { LostWrite, VerificationResult } from './verify';
import type { AckedWrite, WriteFailure } from './write-load';

export interface ReportPhase {
  readonly name: string;
  readonly group: 'rehearsal' | 'cutover';
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly status: string;
  readonly durationMs: number | null;
  readonly detail?: string;
}


export interface ExecutionSummary {
  readonly index: number;
  readonly status: string;
  readonly error?: string;
  readonly cause?: string;
  readonly lastState?: string;
  readonly startedAt: string;
  readonly durationMs: number;
}

export interface RehearsalReport {
  readonly ok: boolean;
  readonly scenario: string;
  readonly description: string;
  readonly mode: string;
  readonly migrationId: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  readonly servers: {
    readonly kind: 'embedded' | 'external';
    readonly source: string;
    readonly target: string;
    /** External servers are left running with the data in place. */
    readonly leftInPlace: boolean;
  };
  readonly rows: { readonly requested: number; readonly loaded: Record<string, number> };
  readonly load: {
    readonly targetRate: number;
    readonly concurrency: number;
    readonly durationMs: number;
    readonly achievedRate: number;
    readonly retries: number;
    readonly retriedByCode: Record<string, number>;
    readonly failed: number;
    readonly failures: WriteFailure[];
  };
  readonly acknowledgedWrites: number;
  readonly acknowledgedOn: Record<string, number>;
  /** Acknowledged writes by kind: event / order / customer inserts, customer updates. */
  readonly acknowledgedByKind: Record<string, number>;
  readonly writesFoundOnTarget: number;
  readonly lostWrites: number;
  readonly lostSamples: LostWrite[];
  readonly verification: VerificationResult[];
  readonly writeFreezeMs: number;
  readonly freeze: FreezeWindow;
  readonly phases: ReportPhase[];
  readonly cutover: {
    readonly executions: ExecutionSummary[];
    readonly migrationStatus: string | null;
    readonly phases: CutoverPhaseTimes[];
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
