/**
 * The write freeze as the rehearsal measures it: from the application's acknowledged commits around the freeze, broken
 * down into the workflow's phases (from the state record), the gaps between them and the application's reconnect.
 */
import { PHASES, stepOfState, resultKey } from '../../contract';
import type { MigrationRecord } from '../../lambda/engine';
import type { CutoverRunResult } from '../local/run-state-machine';
import type { AckedWrite } from '../load/write-load';

/** A cutover phase as recorded in the state store, with epoch-ms times for arithmetic. */
export interface FreezeSegment {
  readonly name: string;
  readonly ms: number;
}

export interface FreezeWindow {
  /**
   * `ended`: writes committed again after the freeze (the window is the pause that ended then); `ongoing`: no write
   * committed after the freeze took hold until the writes stopped (`ongoingMs` so far); `none`: nothing was frozen
   * (the window is just the longest pause between commits).
   */
  readonly status: 'ended' | 'ongoing' | 'none';
  /** Last acknowledged commit before the pause, and the first after it (null: none, or still frozen). */
  readonly from: string | null;
  readonly to: string | null;
  /** Ongoing freeze: ms from the last acknowledged commit until the writes stopped. */
  readonly ongoingMs?: number;
  readonly lastWriteBefore?: { readonly server: string; readonly kind: string };
  readonly firstWriteAfter?: { readonly server: string; readonly kind: string };
  /** What happened inside the pause, in order (phases from the state store; transitions between them). */
  readonly breakdown: FreezeSegment[];
  /** The longest pause between acknowledged commits other than this one (what "normal" looks like at this rate). */
  readonly nextLongestGapMs: number;
  /** Median time between consecutive acknowledged commits. */
  readonly medianGapMs: number;
  /**
   * Writes the source committed (by its own clock, corrected for its offset) after the freeze step reported every
   * session ended, and before any rollback restored logins. Should be 0: a session that survives the freeze could
   * commit after the final-sync marker, and its write would not reach the target.
   */
  readonly sourceCommitsAfterFreeze?: number;
  /**
   * What the cutover's own CheckLateWrites found on the frozen server after the final-sync marker, whoever wrote it
   * (the load above counts only the rehearsal's own writes): `none`, `found` (with its error), `unknown` (the step
   * failed otherwise) or absent when the execution never reached it.
   */
  readonly lateWrites?: { readonly status: 'none' | 'found' | 'unknown'; readonly detail?: string };
}

/** The cutover's CheckLateWrites verdict, from its phase record (see {@link FreezeWindow.lateWrites}). */
export function lateWritesOf(record: MigrationRecord | undefined): FreezeWindow['lateWrites'] {
  const phase = record?.mode === 'execute' ? record.phases.lateWrites : undefined;
  if (!phase || phase.status === 'running' || phase.status === 'skipped') return undefined;
  if (phase.status === 'succeeded') return { status: 'none' };
  const detail = (phase.error ?? '').slice(0, 300);
  return /after the final-sync marker/.test(detail) ? { status: 'found', detail } : { status: 'unknown', detail };
}

export type CutoverPhaseKind = 'phase' | 'failed step' | 'failure handler';

export interface CutoverPhaseTimes {
  /**
   * A phase of the state store (`PHASES`), or, from the executions' state events, a step that failed before it
   * recorded anything (its state name, first letter lower-cased) or a failure handler (`rollback`, ...).
   */
  readonly name: string;
  readonly kind?: CutoverPhaseKind;
  readonly status: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly durationMs?: number;
  readonly error?: string;
  readonly summary?: Record<string, unknown>;
  /** A phase of another execution's record than the last (read-first: `switch-reads execution`). */
  readonly execution?: string;
}

/** The breakdown's name for the time between two phases inside the freeze. */
export const BETWEEN_PHASES = 'between phases (state transitions, step start-up)';
export const RECONNECT_TARGET = 'application reconnects to the target';
export const RECONNECT_SOURCE = 'application reconnects to the source';

/**
 * Which way the execution whose freeze it is moved the application: the cutover's (to the target; back to the source
 * on rollback) or the fallback's (to the source; back to the target on rollback).
 */
export type FreezeDirection = 'forward' | 'fallback';

/** Where the application reconnects after the switch, and after a rollback. */
function reconnects(direction: FreezeDirection): { switched: string; rolledBack: string } {
  return direction === 'fallback'
    ? { switched: RECONNECT_SOURCE, rolledBack: RECONNECT_TARGET }
    : { switched: RECONNECT_TARGET, rolledBack: RECONNECT_SOURCE };
}
export const STILL_FROZEN = 'still frozen when the writes stopped';

/** Whether a phase can fall inside the write freeze: freezeWrites and every phase after it, and failure handling. */
export function isFreezePhase(p: Pick<CutoverPhaseTimes, 'name' | 'kind'>): boolean {
  if (p.kind && p.kind !== 'phase') return true;
  const from = PHASES.indexOf('freezeWrites');
  const at = (PHASES as readonly string[]).indexOf(p.name);
  return at >= 0 && at >= from;
}

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
      kind: 'phase',
      status: p.status,
      startedAt: p.startedAt,
      ...(p.endedAt ? { endedAt: p.endedAt, durationMs: (end ?? start) - start } : {}),
      ...(p.error ? { error: p.error } : {}),
      ...(p.summary ? { summary: p.summary } : {}),
    });
  }
  return out;
}

/**
 * What the state record cannot show, from the executions' state events: a Task state that failed without a
 * failed phase in the record (e.g. it failed before it wrote anything) as a failed step, and the Task states that
 * ran after the execution caught an error (Rollback, the failure report) as failure handlers.
 */
export function stateEventTimes(
  runs: ReadonlyArray<Pick<CutoverRunResult, 'events'>>,
  record: MigrationRecord | undefined,
): CutoverPhaseTimes[] {
  const out: CutoverPhaseTimes[] = [];
  const recordedFailure = (at: number): boolean =>
    phaseTimes(record).some(
      (p) =>
        p.status === 'failed' && Date.parse(p.startedAt) <= at && (!p.endedAt || Date.parse(p.endedAt) >= at - 1000),
    );
  for (const run of runs) {
    const entered = new Map<string, number>();
    let caught = false;
    for (const e of run.events) {
      if (!stepOfState(e.state) || e.index !== undefined) {
        if ((e.type === 'StateCaught' || e.type === 'StateFailed') && e.index === undefined) caught = true;
        continue;
      }
      if (e.type === 'StateEntered') {
        entered.set(e.state, e.timestamp);
        continue;
      }
      const start = entered.get(e.state);
      if (start === undefined || (e.type !== 'StateExited' && e.type !== 'StateFailed')) continue;
      entered.delete(e.state);
      const times = {
        name: resultKey(e.state),
        startedAt: new Date(start).toISOString(),
        endedAt: new Date(e.timestamp).toISOString(),
        durationMs: e.timestamp - start,
      };
      if (caught) {
        out.push({ ...times, kind: 'failure handler', status: e.type === 'StateExited' ? 'succeeded' : 'failed' });
      } else if (e.type === 'StateFailed') {
        if (!recordedFailure(e.timestamp)) {
          out.push({ ...times, kind: 'failed step', status: 'failed', ...(e.error ? { error: e.error } : {}) });
        }
        caught = true;
      }
    }
  }
  return out;
}

/** All the cutover's phases for the report, in time order. */
export function cutoverPhaseTimes(
  record: MigrationRecord | undefined,
  runs: ReadonlyArray<Pick<CutoverRunResult, 'events'>>,
): CutoverPhaseTimes[] {
  return [...phaseTimes(record), ...stateEventTimes(runs, record)].sort(
    (a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt),
  );
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
 * between them (state transitions, step start-up, the application's reconnect after the switch). After the
 * switch the application is free to write: whatever the workflow still does is its reconnect time.
 */
export function freezeBreakdown(
  from: number,
  to: number,
  phases: readonly CutoverPhaseTimes[],
  tail?: string,
  direction: FreezeDirection = 'forward',
): FreezeSegment[] {
  const reconnect = reconnects(direction);
  const segments: FreezeSegment[] = [];
  const push = (name: string, ms: number, keepEmpty = false): void => {
    if (ms < 0 || (ms === 0 && !keepEmpty)) return;
    const last = segments[segments.length - 1];
    if (last && last.name === name) segments[segments.length - 1] = { name, ms: last.ms + ms };
    else segments.push({ name, ms });
  };
  const inWindow = phases
    .filter((p) => isFreezePhase(p) && p.status !== 'skipped')
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
        switched ? reconnect.switched : cursor === from ? 'last commit → freeze starts' : BETWEEN_PHASES,
        s - cursor,
      );
    }
    // A phase inside the window is listed even when it took under a millisecond.
    push(switched ? reconnect.switched : p.name, Math.max(0, e - Math.max(s, cursor)), !switched);
    cursor = Math.max(cursor, e);
    if (p.name === 'switchTraffic') switched = true;
  }
  if (to > cursor) {
    push(
      tail ??
        (switched
          ? reconnect.switched
          : inWindow.length === 0
            ? 'no cutover phase in this pause (nothing was frozen)'
            : inWindow.some((p) => p.name === 'rollback')
              ? reconnect.rolledBack
              : 'after the last phase'),
      to - cursor,
    );
  }
  return segments.map((s) => ({ name: s.name, ms: Math.round(s.ms * 10) / 10 }));
}

/** When the freeze took hold (epoch ms): the end of freezeWrites in an execution that saved a freeze. */
export function freezeHeldAt(record: MigrationRecord | undefined): number | undefined {
  if (!record || record.mode !== 'execute' || !record.freeze) return undefined;
  const p = record.phases.freezeWrites;
  const at = p?.endedAt ?? p?.startedAt ?? record.freeze.frozenAt;
  return at ? Date.parse(at) : undefined;
}

export interface FreezeWindowOptions {
  /** When the freeze took hold (see freezeHeldAt); undefined: nothing was frozen. */
  readonly heldAt?: number;
  /** When the writes stopped (an ongoing freeze is measured up to then). */
  readonly observedUntil?: number;
  /** Each server's clock minus the local clock, ms (for `serverAt`). */
  readonly sourceClockOffsetMs?: number;
  readonly targetClockOffsetMs?: number;
  /** Whose freeze it is (the fallback's: the target is frozen, the application goes back to the source). */
  readonly direction?: FreezeDirection;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * The write freeze: from the last commit before the freeze took hold to the first commit after it (on the
 * target after the switch, or on the source after a rollback). Times are the commits' own (the server's clock at
 * the write, corrected for the server's offset, in the local clock the phases are recorded in), so a commit
 * whose acknowledgement reached the application a little late does not move the freeze past the phases that
 * caused it. Without a freeze: the longest pause between commits.
 */
export function freezeWindow(
  acks: readonly AckedWrite[],
  phases: readonly CutoverPhaseTimes[],
  options: FreezeWindowOptions = {},
): FreezeWindow & { ms: number | null } {
  const offset = (server: string): number =>
    server === 'target' ? (options.targetClockOffsetMs ?? 0) : (options.sourceClockOffsetMs ?? 0);
  // Each write at the time it committed (the ack keeps its own fields for the report).
  const commits = acks.map((a) => ({ ...a, at: a.serverAt - offset(a.server) }));
  const sorted = [...commits].sort((a, b) => a.at - b.at);
  const gap = longestGap(sorted);
  // What "normal" looks like: the longest pause other than the freeze, and the median.
  const others = (freeze?: { before: AckedWrite; after: AckedWrite }) => {
    let longest = 0;
    for (let i = 1; i < sorted.length; i++) {
      if (freeze && sorted[i - 1] === freeze.before && sorted[i] === freeze.after) continue;
      longest = Math.max(longest, sorted[i].at - sorted[i - 1].at);
    }
    return { nextLongestGapMs: round1(longest), medianGapMs: Math.round(gap.medianMs * 100) / 100 };
  };
  const stats = others();
  const empty = { ms: null, status: 'none' as const, from: null, to: null, breakdown: [], ...stats };
  const window = (before: AckedWrite, after: AckedWrite, status: 'ended' | 'none') => ({
    ms: Math.round(after.at - before.at),
    status,
    from: new Date(before.at).toISOString(),
    to: new Date(after.at).toISOString(),
    lastWriteBefore: { server: before.server, kind: before.kind },
    firstWriteAfter: { server: after.server, kind: after.kind },
    breakdown: freezeBreakdown(before.at, after.at, phases, undefined, options.direction),
    ...others({ before, after }),
  });
  if (options.heldAt === undefined) {
    return gap.before && gap.after ? window(gap.before, gap.after, 'none') : empty;
  }
  const held = options.heldAt;
  const resumed = sorted.findIndex((a) => a.at > held);
  if (resumed === -1) {
    const last = sorted[sorted.length - 1];
    if (!last) return { ...empty, status: 'ongoing' };
    const until = Math.max(options.observedUntil ?? last.at, last.at);
    return {
      ms: null,
      status: 'ongoing',
      from: new Date(last.at).toISOString(),
      to: null,
      ongoingMs: Math.round(until - last.at),
      lastWriteBefore: { server: last.server, kind: last.kind },
      breakdown: freezeBreakdown(last.at, until, phases, STILL_FROZEN, options.direction),
      ...stats,
    };
  }
  const before = sorted[resumed - 1];
  if (!before) return { ...empty, status: 'ended', to: new Date(sorted[resumed].at).toISOString() };
  return window(before, sorted[resumed], 'ended');
}

/**
 * Commits on the frozen server (by its clock) after the freeze step ended and before a rollback (or, for the cutover,
 * the fallback) restored the logins. The cutover freezes the source; the fallback freezes the target.
 */
export function commitsAfterFreeze(
  acks: readonly AckedWrite[],
  record: MigrationRecord | undefined,
  clockOffsetMs = 0,
  frozenServer: 'source' | 'target' = 'source',
): number | undefined {
  const frozen = record?.phases.freezeWrites;
  if (!record?.freeze || record.mode !== 'execute' || frozen?.status !== 'succeeded' || !frozen.endedAt) {
    return undefined;
  }
  const from = Date.parse(frozen.endedAt);
  const until = record.freeze.restoredAt ? Date.parse(record.freeze.restoredAt) : Infinity;
  return acks.filter((a) => {
    const at = a.serverAt - clockOffsetMs;
    return a.server === frozenServer && at > from && at < until;
  }).length;
}
