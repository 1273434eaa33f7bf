import type { MigrationRecord, PhaseName } from '../lambda/engine/ports';
import { PHASES } from '../lambda/engine/ports';
import type { AckedWrite } from './write-load';

/** A cutover phase as recorded in the state store, with epoch-ms times for arithmetic. */
export interface FreezeSegment {
  readonly name: string;
  readonly ms: number;
}

export interface FreezeWindow {
  /** Last acknowledged commit before the longest gap, and the first after it. */
  readonly from: string | null;
  readonly to: string | null;
  readonly lastWriteBefore?: { readonly server: string; readonly kind: string };
  readonly firstWriteAfter?: { readonly server: string; readonly kind: string };
  /** What happened inside the gap, in order (phases from the state store; transitions between them). */
  readonly breakdown: FreezeSegment[];
  /** The second-longest gap between acknowledged commits (what "normal" looks like at this rate). */
  readonly nextLongestGapMs: number;
  /** Median time between consecutive acknowledged commits. */
  readonly medianGapMs: number;
  /**
   * Writes the source committed (by its own clock) after the freeze step reported every session ended, and before
   * any rollback restored logins. Should be 0: a session that survives the freeze could commit after the final-sync
   * marker, and its write would not reach the target.
   */
  readonly sourceCommitsAfterFreeze?: number;
}

export interface CutoverPhaseTimes {
  /** A phase of the state store, or `rollback` / `reportStoppedFailure` (from the execution's state events). */
  readonly name: PhaseName | 'rollback' | 'reportStoppedFailure';
  readonly status: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly durationMs?: number;
  readonly error?: string;
  readonly summary?: Record<string, unknown>;
}

/** Phases that can fall inside the write freeze, in order: freezeWrites and after, then the failure handlers. */
export const FREEZE_PHASES: readonly CutoverPhaseTimes['name'][] = [
  ...PHASES.slice(PHASES.indexOf('freezeWrites')),
  'rollback',
  'reportStoppedFailure',
];

/** The breakdown's name for the time between two phases inside the freeze. */
export const BETWEEN_PHASES = 'between phases (state transitions, step start-up)';

export function phaseTimes(record: MigrationRecord | undefined): CutoverPhaseTimes[] {
  if (!record) return [];
  const out: CutoverPhaseTimes[] = [];
  for (const name of PHASES) {
    const p = record.phases[name];
    if (!p) continue;
    const start = Date.parse(p.startedAt);
    const end = p.endedAt ? Date.parse(p.endedAt) : undefined;
    out.push({
      name,
      status: p.status,
      startedAt: p.startedAt,
      ...(p.endedAt ? { endedAt: p.endedAt, durationMs: (end ?? start) - start } : {}),
      ...(p.error ? { error: p.error } : {}),
      ...(p.summary ? { summary: p.summary } : {}),
    });
  }
  return out;
}

export interface Gap {
  readonly ms: number;
  readonly before?: AckedWrite;
  readonly after?: AckedWrite;
  readonly nextLongestMs: number;
  readonly medianMs: number;
}

/** The longest time between two consecutive acknowledged commits (the longest time nobody could commit). */
export function longestGap(acks: readonly AckedWrite[]): Gap {
  const sorted = [...acks].sort((a, b) => a.at - b.at);
  if (sorted.length < 2) return { ms: 0, nextLongestMs: 0, medianMs: 0 };
  const gaps: number[] = [];
  let best = 0;
  let index = 1;
  for (let i = 1; i < sorted.length; i++) {
    const g = sorted[i].at - sorted[i - 1].at;
    gaps.push(g);
    if (g > best) {
      best = g;
      index = i;
    }
  }
  const ordered = [...gaps].sort((a, b) => a - b);
  return {
    ms: best,
    before: sorted[index - 1],
    after: sorted[index],
    nextLongestMs: ordered.length > 1 ? ordered[ordered.length - 2] : 0,
    medianMs: ordered[Math.floor(ordered.length / 2)],
  };
}

/**
 * What happened inside [from, to]: the cutover phases that overlap it (clipped), in order, and the time
 * between them (state transitions, step start-up, the application's reconnect after the switch).
 */
export function freezeBreakdown(from: number, to: number, phases: readonly CutoverPhaseTimes[]): FreezeSegment[] {
  const segments: FreezeSegment[] = [];
  const push = (name: string, ms: number, keepEmpty = false): void => {
    if (ms < 0 || (ms === 0 && !keepEmpty)) return;
    const last = segments[segments.length - 1];
    if (last && last.name === name) segments[segments.length - 1] = { name, ms: last.ms + ms };
    else segments.push({ name, ms });
  };
  const inWindow = phases
    .filter((p) => FREEZE_PHASES.includes(p.name) && p.status !== 'skipped')
    .map((p) => ({
      name: p.name,
      start: Date.parse(p.startedAt),
      end: p.endedAt ? Date.parse(p.endedAt) : to,
    }))
    .filter((p) => p.end > from && p.start < to)
    .sort((a, b) => a.start - b.start);
  let cursor = from;
  let switched = false;
  for (const p of inWindow) {
    const s = Math.max(p.start, from);
    const e = Math.min(p.end, to);
    if (s > cursor) {
      push(
        switched
          ? 'application reconnects to the target'
          : cursor === from
            ? 'last commit → freeze starts'
            : BETWEEN_PHASES,
        s - cursor,
      );
    }
    if (switched && p.name === 'done') {
      // The application is already free to write; what remains is its reconnect, not the workflow.
      push('application reconnects to the target', Math.max(0, e - Math.max(s, cursor)));
    } else {
      // A phase inside the window is listed even when it took under a millisecond.
      push(p.name, Math.max(0, e - Math.max(s, cursor)), true);
    }
    cursor = Math.max(cursor, e);
    if (p.name === 'switchTraffic') switched = true;
  }
  if (to > cursor) {
    push(
      switched
        ? 'application reconnects to the target'
        : inWindow.length === 0
          ? 'no cutover phase in this pause (nothing was frozen)'
          : inWindow.some((p) => p.name === 'rollback')
            ? 'application reconnects to the source'
            : 'after the last phase',
      to - cursor,
    );
  }
  return segments.map((s) => ({ name: s.name, ms: Math.round(s.ms * 10) / 10 }));
}

export function freezeWindow(
  acks: readonly AckedWrite[],
  phases: readonly CutoverPhaseTimes[],
): FreezeWindow & {
  ms: number;
} {
  const gap = longestGap(acks);
  if (!gap.before || !gap.after) {
    return { ms: 0, from: null, to: null, breakdown: [], nextLongestGapMs: 0, medianGapMs: 0 };
  }
  return {
    ms: Math.round(gap.ms),
    from: new Date(gap.before.at).toISOString(),
    to: new Date(gap.after.at).toISOString(),
    lastWriteBefore: { server: gap.before.server, kind: gap.before.kind },
    firstWriteAfter: { server: gap.after.server, kind: gap.after.kind },
    breakdown: freezeBreakdown(gap.before.at, gap.after.at, phases),
    nextLongestGapMs: Math.round(gap.nextLongestMs * 10) / 10,
    medianGapMs: Math.round(gap.medianMs * 100) / 100,
  };
}
