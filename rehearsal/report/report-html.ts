/**
 * The rehearsal's HTML report (`rehearsal-report.html`): one self-contained page drawn from the RehearsalReport
 * (report-json.ts) alone, no script and no external asset.
 *
 * Reading order: `renderHtmlReport` (the page: verdict, freeze, executions, writes, reads, servers) → `timelines`
 * (one SVG per execution: `timelineSvg` draws the phase lanes, the freeze band, switch marks and the write-rate
 * bars of `stackedBars`) → `breakdownSvg` (where the freeze's time went) → the HTML sections (`readsHtml`,
 * `periodsHtml`, `serverStateHtml`). `writeHtmlReport` writes the file. The layout constants (W, LABEL, LANE...)
 * are pixels of the SVG's view box.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PHASES } from '../../contract';
import { RECONNECT_TARGET, STILL_FROZEN } from './freeze';
import { formatMs } from '../progress';
import type { FreezeReport, RehearsalReport } from './report-json';

/** Escapes text for HTML element content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const W = 1000;
const LABEL = 235;
const RIGHT = 16;
const LANE = 18;
const RATE_H = 150;
const READ_H = 80;
const READ_SOURCE = '#9cd4ff';
const READ_TARGET = '#8fdca2';
const READ_STALE = '#fb8f44';
const READ_FAILED = '#cf222e';
const SWITCH_READS = '#1a7f37';
const SWITCH_WRITES = '#0550ae';

/** Colours of the cutover phases, in PHASES order (a phase added to the engine gets the next one). */
const PALETTE = [
  '#54aeff',
  '#218bff',
  '#80ccff',
  '#d0d7de',
  '#0969da',
  '#8250df',
  '#bf3989',
  '#bc4c00',
  '#116329',
  '#0550ae',
  '#57606a',
  '#1f6feb',
  '#6639ba',
  '#953800',
  '#1a7f37',
];
const HANDLER_COLOR = '#9a6700';
const FAILED_COLOR = '#cf222e';
const GAP_COLOR = '#d0d7de';
const RECONNECT_COLOR = '#8c959f';

/** Segments of the freeze breakdown that are a failed step (shown red, like their bar on the timeline). */
function failedNames(report: RehearsalReport): Set<string> {
  return new Set(report.cutover.phases.filter((p) => p.status === 'failed').map((p) => p.name));
}

function segmentColor(name: string, failed: ReadonlySet<string> = new Set()): string {
  if (failed.has(name)) return FAILED_COLOR;
  const at = (PHASES as readonly string[]).indexOf(name);
  if (at >= 0) return PALETTE[at % PALETTE.length];
  if (name === RECONNECT_TARGET || /^application reconnects|^after the last phase/.test(name)) return RECONNECT_COLOR;
  if (name === STILL_FROZEN) return FAILED_COLOR;
  if (/^(rollback|report)/i.test(name)) return HANDLER_COLOR;
  return GAP_COLOR;
}

interface Bar {
  readonly lane: string;
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly status: string;
  readonly group: string;
}

/** A "nice" step (1, 2, 5 × 10^n) giving at most `ticks` intervals over `span`. */
function niceStep(span: number, ticks: number): number {
  const raw = span / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw || 1));
  return ([1, 2, 5, 10].find((m) => m * pow >= raw) ?? 10) * pow;
}

function fmtSeconds(s: number, step: number): string {
  return `${s.toFixed(step < 0.1 ? 2 : step < 1 ? 1 : 0)}s`;
}

/** Bars of a per-bucket series in [t0, t1], stacked in the order given, with a y axis: SVG parts. */
function stackedBars(args: {
  readonly top: number;
  readonly height: number;
  readonly t0: number;
  readonly t1: number;
  readonly x: (t: number) => number;
  readonly startedAt: string | null;
  readonly bucketMs: number;
  readonly series: ReadonlyArray<{ readonly className: string; readonly values: readonly number[] }>;
  /** Drawn over the top of each stack (its height: this many of the bucket's total), e.g. the stale reads. */
  readonly overlay?: { readonly className: string; readonly values: readonly number[] };
  readonly unit: [string, string];
  readonly tip: (i: number, at: string) => string;
  readonly origin: number;
}): string[] {
  const { top, height, t0, t1, x, bucketMs } = args;
  const axisY = top + height;
  const parts: string[] = [];
  const start = args.startedAt ? Date.parse(args.startedAt) : NaN;
  const n = Math.max(0, ...args.series.map((s) => s.values.length));
  const total = (i: number): number => args.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0);
  const shown: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = start + i * bucketMs;
    if (t + bucketMs >= t0 && t <= t1) shown.push(total(i));
  }
  const yStep = niceStep(Math.max(1, ...shown), height < 100 ? 2 : 4);
  const yMax = Math.max(yStep, Math.ceil(Math.max(1, ...shown) / yStep) * yStep);
  const y = (v: number): number => axisY - (v / yMax) * height;
  for (let v = 0; v <= yMax; v += yStep) {
    parts.push(
      `<line class="${v === 0 ? 'axis-line' : 'grid'}" x1="${LABEL}" y1="${y(v).toFixed(1)}" x2="${W - RIGHT}" y2="${y(v).toFixed(1)}"/>`,
      `<text class="axis" x="${LABEL - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`,
    );
  }
  parts.push(
    `<text class="lane" x="${LABEL - 40}" y="${top + height / 2 - 6}" text-anchor="end"><tspan x="${
      LABEL - 40
    }">${esc(args.unit[0])}</tspan><tspan x="${LABEL - 40}" dy="15">${esc(args.unit[1])}</tspan></text>`,
  );
  if (!Number.isFinite(start)) return parts;
  // Whole buckets only (a bucket cut by the view's edge would draw as a misleadingly short bar).
  const full = (bucketMs / (t1 - t0)) * (W - LABEL - RIGHT);
  const bw = Math.max(0.5, full - (full > 4 ? 1 : 0));
  for (let i = 0; i < n; i++) {
    const bt = start + i * bucketMs;
    if (bt < t0 || bt + bucketMs > t1) continue;
    const bx = x(bt).toFixed(1);
    const tip = `<title>${esc(args.tip(i, `+${((bt - args.origin) / 1000).toFixed(1)}s`))}</title>`;
    let base = 0;
    for (const s of args.series) {
      const v = s.values[i] ?? 0;
      if (!v) continue;
      parts.push(
        `<rect class="${s.className}" x="${bx}" y="${y(base + v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(
          y(base) - y(base + v)
        ).toFixed(1)}">${tip}</rect>`,
      );
      base += v;
    }
    const over = args.overlay?.values[i] ?? 0;
    if (args.overlay && over) {
      parts.push(
        `<rect class="${args.overlay.className}" x="${bx}" y="${y(base).toFixed(1)}" width="${bw.toFixed(1)}" height="${(
          y(base - over) - y(base)
        ).toFixed(1)}">${tip}</rect>`,
      );
    }
  }
  return parts;
}

/** The moments the application's endpoints moved to the target: the reads' own switch, then the writes'. */
function switchMarks(report: RehearsalReport): Array<{ at: number; label: string; className: string }> {
  const marks: Array<{ at: number; label: string; className: string }> = [];
  if (report.readSwitch?.at) {
    marks.push({ at: Date.parse(report.readSwitch.at), label: 'reads → target', className: 'switch-reads' });
  }
  if (report.writePeriods && report.writeSwitches?.length) {
    // The way back: every move of the writes (to the target, back to the source).
    for (const w of report.writeSwitches) {
      marks.push({ at: Date.parse(w.at), label: `writes → ${w.to}`, className: 'switch-writes' });
    }
  } else if (report.writeSwitchAt) {
    marks.push({ at: Date.parse(report.writeSwitchAt), label: 'writes → target', className: 'switch-writes' });
  }
  return marks;
}

/** A write freeze as the HTML report draws it. */
interface DrawnFreeze {
  /** `write freeze`, or (two freezes) `cutover freeze` / `fallback freeze`. */
  readonly label: string;
  readonly execution: string;
  readonly from: number | undefined;
  readonly to: number | undefined;
  readonly text: string;
  readonly report: Pick<RehearsalReport['freeze'], 'status' | 'from' | 'to' | 'breakdown' | 'ongoingMs'> &
    Partial<Pick<FreezeReport, 'commitsAfterFreeze' | 'frozenServer'>> & { readonly sourceCommitsAfterFreeze?: number };
}

/** The freezes to draw: the one of a cutover, or both of the fallback scenarios. */
function drawnFreezes(report: RehearsalReport): DrawnFreeze[] {
  const window = (f: Pick<RehearsalReport['freeze'], 'from' | 'to' | 'ongoingMs'>) => ({
    from: f.from ? Date.parse(f.from) : undefined,
    to: f.to ? Date.parse(f.to) : f.from && f.ongoingMs !== undefined ? Date.parse(f.from) + f.ongoingMs : undefined,
  });
  if (!report.writePeriods || !report.freezes || report.freezes.length < 2) {
    return [
      {
        label: 'write freeze',
        execution: 'cutover',
        ...window(report.freeze),
        text: freezeText(report),
        report: report.freeze,
      },
    ];
  }
  return report.freezes.map((f) => ({
    label: `${f.execution} freeze`,
    execution: f.execution,
    ...window(f),
    text:
      f.status === 'ongoing'
        ? `ONGOING (${formatMs(f.ongoingMs ?? 0)} so far)`
        : f.ms === null
          ? 'unknown'
          : formatMs(f.ms),
    report: f,
  }));
}

/** What a timeline is drawn in: the time span, the x scale, and where each chart starts (pixels). */
interface TimelineFrame {
  readonly t0: number;
  readonly t1: number;
  readonly origin: number;
  readonly x: (t: number) => number;
  readonly lanes: readonly string[];
  readonly laneTop: number;
  readonly rateTop: number;
  readonly axisY: number;
  readonly readTop: number;
  readonly bottom: number;
}

type TimelineView = { from: number; to: number; origin: number; groups: ReadonlyArray<string>; label: string };

/** The phases of the view's groups that ended inside [from, to], each on its lane. */
function timelineBars(report: RehearsalReport, view: TimelineView): Bar[] {
  return report.phases
    .filter((p) => p.endedAt && view.groups.includes(p.group))
    .map((p) => ({
      lane: `${p.group === 'cutover' && view.groups.length > 1 ? '↳ ' : ''}${p.name}`,
      name: p.name,
      start: Date.parse(p.startedAt),
      end: Date.parse(p.endedAt as string),
      status: p.status,
      group: p.group,
    }))
    .filter((b) => b.end >= view.from && b.start <= view.to);
}

function timelineFrame(view: TimelineView, lanes: readonly string[], hasReads: boolean): TimelineFrame {
  const t0 = view.from;
  const t1 = Math.max(view.to, t0 + 1);
  const x = (t: number): number => LABEL + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * (W - LABEL - RIGHT);
  const laneTop = 26;
  const rateTop = laneTop + lanes.length * LANE + 28;
  const axisY = rateTop + RATE_H;
  const readTop = axisY + 28;
  const bottom = hasReads ? readTop + READ_H : axisY;
  return { t0, t1, origin: view.origin, x, lanes, laneTop, rateTop, axisY, readTop, bottom };
}

/** Time axis: seconds since the origin, with a grid, and the view's label below. */
function timeAxis(f: TimelineFrame, label: string): string[] {
  const parts: string[] = [];
  const span = (f.t1 - f.t0) / 1000;
  const step = niceStep(span, 10);
  const firstTick = Math.ceil((f.t0 - f.origin) / 1000 / step) * step;
  for (let s = firstTick; f.origin + s * 1000 <= f.t1 + 1e-6; s += step) {
    const xx = f.x(f.origin + s * 1000);
    parts.push(
      `<line class="grid" x1="${xx.toFixed(1)}" y1="${f.laneTop - 4}" x2="${xx.toFixed(1)}" y2="${f.bottom}"/>`,
      `<text class="axis" x="${xx.toFixed(1)}" y="${f.bottom + 16}" text-anchor="middle">${fmtSeconds(s, step)}</text>`,
    );
  }
  parts.push(
    `<text class="axis" x="${((LABEL + W - RIGHT) / 2).toFixed(0)}" y="${f.bottom + 34}" text-anchor="middle">${esc(label)}</text>`,
  );
  return parts;
}

/** The application's reads per bucket (source/target/failed, the stale ones marked). */
function readChart(f: TimelineFrame, reads: NonNullable<RehearsalReport['reads']>): string[] {
  const b = reads.buckets;
  return stackedBars({
    top: f.readTop,
    height: READ_H,
    t0: f.t0,
    t1: f.t1,
    x: f.x,
    startedAt: b.startedAt,
    bucketMs: b.bucketMs,
    series: [
      { className: 'read-source', values: b.source },
      { className: 'read-target', values: b.target },
      { className: 'read-failed', values: b.failed },
    ],
    overlay: { className: 'read-stale', values: b.stale },
    unit: ['reads per', `${b.bucketMs} ms`],
    tip: (i, at) =>
      `${at}: ${b.source[i] ?? 0} reads on source, ${b.target[i] ?? 0} on target, ${b.stale[i] ?? 0} stale, ${
        b.failed[i] ?? 0
      } failed`,
    origin: f.origin,
  });
}

/** Write rate per bucket, stacked source/target, with a y axis in writes per bucket. */
function writeRateChart(report: RehearsalReport, f: TimelineFrame): string[] {
  const { t0, t1, x, axisY, rateTop } = f;
  const parts: string[] = [];
  const { bucketMs } = report.writeRate;
  const rateStart = report.writeRate.startedAt ? Date.parse(report.writeRate.startedAt) : NaN;
  const totals = report.writeRate.source.map((s, i) => s + report.writeRate.target[i]);
  const visible = totals.filter((_, i) => {
    const t = rateStart + i * bucketMs;
    return t + bucketMs >= t0 && t <= t1;
  });
  const yStep = niceStep(Math.max(1, ...visible), 4);
  const yMax = Math.max(yStep, Math.ceil(Math.max(1, ...visible) / yStep) * yStep);
  const y = (v: number): number => axisY - (v / yMax) * RATE_H;
  for (let v = 0; v <= yMax; v += yStep) {
    parts.push(
      `<line class="${v === 0 ? 'axis-line' : 'grid'}" x1="${LABEL}" y1="${y(v).toFixed(1)}" x2="${W - RIGHT}" y2="${y(v).toFixed(1)}"/>`,
      `<text class="axis" x="${LABEL - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`,
    );
  }
  parts.push(
    `<text class="lane" x="${LABEL - 40}" y="${rateTop + RATE_H / 2 - 6}" text-anchor="end"><tspan x="${
      LABEL - 40
    }">writes per</tspan><tspan x="${LABEL - 40}" dy="15">${bucketMs} ms</tspan></text>`,
  );
  if (!Number.isFinite(rateStart)) return parts;
  // Whole buckets only (a bucket cut by the view's edge would draw as a misleadingly short bar).
  const full = (bucketMs / (t1 - t0)) * (W - LABEL - RIGHT);
  const bw = Math.max(0.5, full - (full > 4 ? 1 : 0));
  for (let i = 0; i < totals.length; i++) {
    const bt = rateStart + i * bucketMs;
    if (bt < t0 || bt + bucketMs > t1) continue;
    const bx = x(bt);
    const src = report.writeRate.source[i];
    const tgt = report.writeRate.target[i];
    const tip = `<title>+${((bt - f.origin) / 1000).toFixed(1)}s: ${src} on source, ${tgt} on target</title>`;
    if (src) {
      parts.push(
        `<rect class="rate-source" x="${bx.toFixed(1)}" y="${y(src).toFixed(1)}" width="${bw.toFixed(1)}" height="${(axisY - y(src)).toFixed(1)}">${tip}</rect>`,
      );
    }
    if (tgt) {
      parts.push(
        `<rect class="rate-target" x="${bx.toFixed(1)}" y="${y(src + tgt).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(src) - y(src + tgt)).toFixed(1)}">${tip}</rect>`,
      );
    }
  }
  return parts;
}

/** Phase lanes: a labelled, zebra-striped lane per phase and a bar per run of it, its duration beside it. */
function phaseLanes(f: TimelineFrame, bars: readonly Bar[]): string[] {
  const { x, lanes, laneTop } = f;
  const parts: string[] = [];
  lanes.forEach((lane, i) => {
    const yy = laneTop + i * LANE;
    if (i % 2 === 0) {
      parts.push(`<rect class="zebra" x="0" y="${yy}" width="${W - RIGHT}" height="${LANE}"/>`);
    }
    parts.push(`<text class="lane" x="${LABEL - 6}" y="${yy + 13}" text-anchor="end">${esc(lane)}</text>`);
  });
  for (const b of bars) {
    const yy = laneTop + lanes.indexOf(b.lane) * LANE;
    const bx = x(b.start);
    const bw = Math.max(2, x(b.end) - bx);
    const fill =
      b.status === 'failed'
        ? FAILED_COLOR
        : b.status === 'skipped'
          ? '#eaeef2'
          : b.group === 'cutover'
            ? segmentColor(b.name)
            : '#8c959f';
    const text = `${formatMs(b.end - b.start)}${b.status === 'succeeded' ? '' : ` ${b.status}`}`;
    const label =
      x(b.end) + 6 + text.length * 6.5 < W - RIGHT
        ? `<text class="bar-label" x="${(bx + bw + 4).toFixed(1)}" y="${yy + 13}">${esc(text)}</text>`
        : `<text class="bar-label" x="${(bx - 4).toFixed(1)}" y="${yy + 13}" text-anchor="end">${esc(text)}</text>`;
    parts.push(
      `<rect class="bar" fill="${fill}" x="${bx.toFixed(1)}" y="${yy + 3}" width="${bw.toFixed(1)}" height="${LANE - 6}"><title>${esc(
        b.name,
      )}: ${esc(formatMs(b.end - b.start))} (${esc(b.status)})</title></rect>`,
      label,
    );
  }
  return parts;
}

/**
 * The switches: a line across everything where the reads, then the writes, moved to the target; each labelled
 * above the chart it is about (reads: the read chart; writes: the write chart).
 */
function switchLines(report: RehearsalReport, f: TimelineFrame, hasReads: boolean): string[] {
  const { x } = f;
  const parts: string[] = [];
  const marks = switchMarks(report).filter((m) => m.at >= f.t0 && m.at <= f.t1);
  const stamp = (at: number): string => `+${((at - f.origin) / 1000).toFixed(2)}s`;
  // Labels of one row kept apart (the way back: writes → target, then → source).
  const sides = new Map<(typeof marks)[number], boolean>();
  for (const row of ['switch-reads', 'switch-writes']) {
    const inRow = marks.filter((m) => m.className === row);
    const right = labelSides(inRow.map((m) => ({ at: x(m.at), width: `${m.label} ${stamp(m.at)}`.length * 7 })));
    inRow.forEach((m, i) => sides.set(m, right[i]));
  }
  for (const m of marks) {
    const mx = x(m.at);
    const labelY = m.className === 'switch-reads' && hasReads ? f.readTop - 6 : f.rateTop - 6;
    const at = stamp(m.at);
    const right = sides.get(m) ?? true;
    parts.push(
      `<line class="${m.className}" x1="${mx.toFixed(1)}" y1="${f.laneTop - 4}" x2="${mx.toFixed(1)}" y2="${f.bottom}"><title>${esc(
        `${m.label} at ${at}`,
      )}</title></line>`,
      `<text class="${m.className}-label" x="${(right ? mx + 4 : mx - 4).toFixed(1)}" y="${labelY}"${
        right ? '' : ' text-anchor="end"'
      }>${esc(`${m.label} ${at}`)}</text>`,
    );
  }
  return parts;
}

/** The write freeze(s), across lanes and rate, labelled above (kept inside the chart). An ongoing one runs to the end. */
function freezeBands(report: RehearsalReport, f: TimelineFrame): string[] {
  const { x } = f;
  const parts: string[] = [];
  const shown = drawnFreezes(report).filter(
    (d) => d.from !== undefined && d.to !== undefined && d.to >= f.t0 && d.from <= f.t1,
  );
  const freezeSides = labelSides(
    shown.map((d) => ({
      at: x(d.from!) + Math.max(3, x(d.to!) - x(d.from!)),
      leftOf: x(d.from!),
      width: `${d.label} ${d.text}`.length * 7,
    })),
  );
  for (const [i, d] of shown.entries()) {
    const fx = x(d.from!);
    const fw = Math.max(3, x(d.to!) - fx);
    const text = `${d.label} ${d.text}`;
    const right = freezeSides[i];
    parts.push(
      `<rect class="freeze" x="${fx.toFixed(1)}" y="16" width="${fw.toFixed(1)}" height="${f.bottom - 16}"><title>${esc(
        text,
      )}</title></rect>`,
      `<text class="freeze-label" x="${(right ? fx + fw + 4 : fx - 4).toFixed(1)}" y="13"${right ? '' : ' text-anchor="end"'}>${esc(text)}</text>`,
    );
  }
  return parts;
}

/**
 * A timeline: one lane per phase in [from, to], the acknowledged writes per bucket below (stacked source/target,
 * with a y axis), the application's reads below them (source/target, the stale ones marked), the write freeze
 * highlighted across all, and the moments the reads and the writes were switched to the target. Times on the x
 * axis are seconds since `origin`.
 */
function timelineSvg(report: RehearsalReport, view: TimelineView): string {
  const bars = timelineBars(report, view);
  const reads = report.reads && report.reads.reads > 0 ? report.reads : undefined;
  const frame = timelineFrame(view, [...new Set(bars.map((b) => b.lane))], reads !== undefined);
  const parts = [
    ...timeAxis(frame, view.label),
    ...(reads ? readChart(frame, reads) : []),
    ...writeRateChart(report, frame),
    ...phaseLanes(frame, bars),
    ...switchLines(report, frame, reads !== undefined),
    ...freezeBands(report, frame),
  ];
  const height = frame.bottom + 40;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="100%" role="img" aria-label="${esc(
    view.label,
  )}">${parts.join('')}</svg>`;
}

/**
 * Which side of its mark each label of one row goes (true: right of `at`; false: left of `leftOf`, default `at`),
 * placed from the last to the first: right when it fits inside the chart and ends before the next label starts,
 * else left.
 */
function labelSides(items: ReadonlyArray<{ at: number; width: number; leftOf?: number }>): boolean[] {
  const sides: boolean[] = new Array<boolean>(items.length).fill(true);
  let nextStart = W - RIGHT;
  for (let i = items.length - 1; i >= 0; i--) {
    const { at, width } = items[i];
    const leftOf = items[i].leftOf ?? at;
    const right = at + 6 + width < nextStart || leftOf - 6 - width < LABEL;
    sides[i] = right;
    nextStart = right ? at + 4 : leftOf - 4 - width;
  }
  return sides;
}

/** The freeze in words: `812 ms`, `ongoing (12.3 s so far)`, `unknown`. */
function freezeText(report: RehearsalReport): string {
  if (report.freeze.status === 'ongoing') return `ONGOING (${formatMs(report.freeze.ongoingMs ?? 0)} so far)`;
  return report.writeFreezeMs === null ? 'unknown' : formatMs(report.writeFreezeMs);
}

/** t = 0 of the time axis: the rehearsal's start, which is t = 0 of the console's `[   0.0s]` lines too. */
export function timeAxisOrigin(report: RehearsalReport, times: readonly number[] = []): number {
  const started = Date.parse(report.startedAt);
  return Number.isFinite(started) ? Math.min(started, ...times) : Math.min(...times);
}

/**
 * The whole rehearsal, and a close-up of the cutover (where the freeze is) when there was one. The time axis is
 * the console's clock: seconds since the rehearsal started (`report.startedAt`, the console's `[   0.0s]`).
 */
function timelines(report: RehearsalReport): string {
  const phases = report.phases.filter((p) => p.endedAt);
  const rateStart = report.writeRate.startedAt ? Date.parse(report.writeRate.startedAt) : NaN;
  const rateEnd = rateStart + report.writeRate.source.length * report.writeRate.bucketMs;
  const reads = report.reads?.buckets;
  const readStart = reads?.startedAt ? Date.parse(reads.startedAt) : NaN;
  const readEnd = readStart + (reads?.source.length ?? 0) * (reads?.bucketMs ?? 0);
  const times = [
    ...phases.flatMap((p) => [Date.parse(p.startedAt), Date.parse(p.endedAt as string)]),
    rateStart,
    rateEnd,
    readStart,
    readEnd,
  ].filter(Number.isFinite);
  if (times.length === 0) return '<p>No timeline data.</p>';
  const origin = timeAxisOrigin(report, times);
  const out: string[] = [];
  const cutover = phases.filter((p) => p.group === 'cutover');
  // The fallback scenarios: one close-up per execution (the cutover's, the fallback's), each around its freeze.
  const closeUps = report.writePeriods
    ? drawnFreezes(report).map((f) => ({
        title: `${f.execution === 'fallback' ? 'Fallback' : 'Cutover'} close-up`,
        phases: cutover.filter((p) => (p.execution ?? 'cutover') === f.execution),
        freeze: f,
      }))
    : [{ title: 'Cutover close-up', phases: cutover, freeze: drawnFreezes(report)[0] }];
  for (const closeUp of closeUps) {
    if (closeUp.phases.length === 0) continue;
    let from = Math.min(...closeUp.phases.map((p) => Date.parse(p.startedAt)));
    let to = Math.max(...closeUp.phases.map((p) => Date.parse(p.endedAt as string)));
    if (closeUp.freeze.from !== undefined) {
      from = Math.min(from, closeUp.freeze.from);
      if (closeUp.freeze.report.to) to = Math.max(to, Date.parse(closeUp.freeze.report.to));
    }
    const pad = Math.max(300, (to - from) * 0.15);
    const marks = switchMarks(report).filter((m) => m.at >= from - pad && m.at <= to + pad);
    const fallback = closeUp.freeze.execution === 'fallback';
    out.push(
      `<h2>${esc(closeUp.title)}</h2><p class="muted">The ${fallback ? 'fallback' : 'cutover'} phases and the writes the application got acknowledged, per ${esc(
        report.writeRate.bucketMs,
      )} ms${
        report.reads?.reads ? ', and its reads (the stale ones — behind the latest acknowledged write — in orange)' : ''
      }. The shaded band is the write freeze: the longest time no write could commit.${
        marks.length
          ? report.writePeriods
            ? ` The vertical line is the moment the application's writes went to the ${fallback ? 'source again' : 'target'}.`
            : ` The vertical lines are the moments the application's ${marks.map((m) => m.label.replace(' → target', '')).join(', then its ')} went to the target.`
          : ''
      }</p>`,
      timelineSvg(report, {
        from: from - pad,
        to: to + pad,
        origin,
        groups: ['cutover'],
        label: 'seconds since the rehearsal started (the console clock)',
      }),
    );
  }
  out.push(
    '<h2>Whole rehearsal</h2>',
    timelineSvg(report, {
      from: origin,
      to: Math.max(...times),
      origin,
      groups: ['rehearsal', 'cutover'],
      label: 'seconds since the rehearsal started (the console clock)',
    }),
  );
  return out.join('\n');
}

function breakdownSvg(report: RehearsalReport, breakdown = report.freeze.breakdown): string {
  const failed = failedNames(report);
  const total = breakdown.reduce((s, b) => s + b.ms, 0);
  if (total <= 0) return '';
  let x = 0;
  const parts = breakdown.map((b) => {
    const w = (b.ms / total) * W;
    const color = segmentColor(b.name, failed);
    const label = w > 70 ? `${b.name.length * 6.5 + 50 < w ? `${b.name} ` : ''}${Math.round(b.ms)} ms` : '';
    const out =
      `<rect x="${x.toFixed(1)}" y="0" width="${Math.max(0.5, w).toFixed(1)}" height="30" fill="${color}" stroke="#fff" stroke-width="1"><title>${esc(
        b.name,
      )}: ${esc(b.ms)} ms</title></rect>` +
      (label
        ? `<text class="seg-label${color === GAP_COLOR || color === RECONNECT_COLOR ? ' dark' : ''}" x="${(x + w / 2).toFixed(1)}" y="20" text-anchor="middle">${esc(label)}</text>`
        : '');
    x += w;
    return out;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} 30" width="100%" role="img" aria-label="freeze breakdown">${parts.join(
    '',
  )}</svg>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#1b1f24;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:30px 0 6px}
.ok{color:#1a7f37}.bad{color:#cf222e}.muted{color:#57606a}
.verdict{border:2px solid;border-radius:10px;padding:14px 18px;margin:16px 0}
.verdict.pass{border-color:#1a7f37;background:#f0fff4}.verdict.fail{border-color:#cf222e;background:#fff5f5}
.verdict .head{font-size:20px;font-weight:700}
.hero{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-top:12px}
.hero div{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.hero b{display:block;font-size:34px;line-height:1.15;font-variant-numeric:tabular-nums}
.hero small{display:block;color:#57606a}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:14px 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:8px 12px}.card b{display:block;font-size:18px;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.mismatch td{background:#fff5f5}
svg text{font:12px system-ui,sans-serif;fill:#1b1f24}.axis{fill:#57606a}.grid{stroke:#eaeef2}.axis-line{stroke:#8c959f}
.zebra{fill:#f6f8fa}.bar-label{fill:#57606a;font-size:11px}
.rate-source{fill:#54aeff}.rate-target{fill:#2da44e}.freeze{fill:#cf222e;fill-opacity:.12;stroke:#cf222e;stroke-opacity:.6;stroke-dasharray:4 3}
.freeze-label{fill:#cf222e;font-weight:700}
.read-source{fill:${READ_SOURCE}}.read-target{fill:${READ_TARGET}}.read-failed{fill:${READ_FAILED}}
.read-stale{fill:${READ_STALE};fill-opacity:.85}
.switch-reads{stroke:${SWITCH_READS};stroke-width:2;stroke-dasharray:6 3}.switch-writes{stroke:${SWITCH_WRITES};stroke-width:2}
.switch-reads-label{fill:${SWITCH_READS};font-weight:700}.switch-writes-label{fill:${SWITCH_WRITES};font-weight:700}
.seg-label{fill:#fff;font-weight:600}.seg-label.dark{fill:#1b1f24}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.legend{margin:4px 0}.legend .swatch{margin-left:12px}
tr.gap td{color:#57606a}
code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
pre{background:#f6f8fa;padding:8px;border-radius:6px;overflow:auto;font-size:12px}
`;

const swatch = (color: string, extra = ''): string =>
  `<span class="swatch" style="background:${color}${extra ? `;${extra}` : ''}"></span>`;

function plain(value: unknown): string {
  return value === undefined || value === null ? '-' : typeof value === 'string' ? value : JSON.stringify(value);
}

function serverStateHtml(report: RehearsalReport): string {
  const state = report.servers.state;
  if (!state) return '';
  if (state.embedded) return '<h2>Servers</h2><p>Embedded servers: stopped and removed, with everything on them.</p>';
  const roles = state.roles
    .map(
      (r) =>
        `<tr><td>${esc(r.server)}</td><td><code>${esc(r.role)}</code></td><td>${
          r.exists ? (r.canLogin ? '<span class="ok">LOGIN</span>' : '<span class="bad">NOLOGIN</span>') : 'removed'
        }</td><td class="num">${esc(r.connectionLimit ?? '-')}</td><td>${
          r.before
            ? `${r.asBefore ? 'as before' : '<span class="bad">changed</span>'}; password ${
                r.passwordUnchanged ? 'unchanged' : '<span class="bad">changed</span>'
              }`
            : 'created by the rehearsal'
        }</td></tr>`,
    )
    .join('');
  const left = state.leftBehind.length
    ? `<ul>${state.leftBehind
        .map(
          (l) =>
            `<li>${esc(l.server)}: ${esc(l.kind)} <code>${esc(l.name)}</code>${l.detail ? ` — ${esc(l.detail)}` : ''}</li>`,
        )
        .join('')}</ul>`
    : '<p class="ok">Nothing left behind: both databases are as they were before the rehearsal.</p>';
  const w = report.cutover.watchdog;
  return `<h2>Servers after the rehearsal</h2>
${w ? `<p>Dead man's switch: <b>${esc(w.outcome)}</b> — ${esc(w.message)}</p>` : ''}
${report.cutover.restoredByRehearsal?.length ? `<p>The rehearsal restored the saved login settings of ${esc(report.cutover.restoredByRehearsal.join(', '))}.</p>` : ''}
${report.cutover.keptFrozen ? `<p class="bad">${esc(report.cutover.keptFrozen)}</p>` : ''}
${roles ? `<table><tr><th>server</th><th>role</th><th>login</th><th class="num">connection limit</th><th>compared with before</th></tr>${roles}</table>` : ''}
<h2>Left behind</h2>${left}${state.unreadable ? `<p class="bad">Could not read the servers back: ${esc(state.unreadable)}</p>` : ''}`;
}

/** Seconds since the rehearsal started, as the console shows them. */
function sinceStart(report: RehearsalReport, iso: string | null | undefined): string {
  return iso ? `+${((Date.parse(iso) - Date.parse(report.startedAt)) / 1000).toFixed(1)}s` : 'unknown';
}

/** The read switch in a few words: `+12.3s`, `never`, `none (reads follow the writes)`. */
function readSwitchText(report: RehearsalReport): string {
  const sw = report.readSwitch;
  if (!sw?.own) return 'none (reads follow the writes)';
  return sw.at ? sinceStart(report, sw.at) : 'never';
}

/** The reads: per server, when they moved, and what a stale read is. */
function readsHtml(report: RehearsalReport): string {
  const r = report.reads;
  if (!r) return '';
  const rows = Object.entries(r.byServer)
    .map(
      ([server, s]) =>
        `<tr><td>${esc(server)}</td><td class="num">${esc(s.reads)}</td><td class="num">${esc(s.fresh)}</td><td class="num">${esc(
          s.stale,
        )}</td><td class="num${s.failed ? ' bad' : ''}">${esc(s.failed)}</td><td class="num">${
          s.latency ? `${esc(s.latency.p50Ms)} / ${esc(s.latency.p99Ms)} / ${esc(s.latency.maxMs)} ms` : '-'
        }</td><td class="muted">${esc(sinceStart(report, r.firstAt[server]))} → ${esc(sinceStart(report, r.lastAt[server]))}</td></tr>`,
    )
    .join('');
  const sw = report.readSwitch;
  const switched = !sw?.own
    ? `The reads have no switch of their own in this scenario: they follow the write endpoint${
        report.writeSwitchAt ? `, which moved to the target at ${esc(sinceStart(report, report.writeSwitchAt))}` : ''
      }.`
    : sw.at
      ? `The read endpoint moved to the target at <b>${esc(sinceStart(report, sw.at))}</b>${
          sw.revertedAt ? ` and back to the source at ${esc(sinceStart(report, sw.revertedAt))}` : ''
        }; the writes ${
          report.writeSwitchAt
            ? `followed at <b>${esc(sinceStart(report, report.writeSwitchAt))}</b>`
            : 'stayed on the source'
        }. The first read the target answered: ${esc(sinceStart(report, r.firstOnTargetAt))}.`
      : `<span class="bad">The read endpoint never pointed at the target</span>${sw.note ? ` (${esc(sw.note)})` : ''}.`;
  return `<h2>Reads</h2>
<p>${esc(r.targetRate)} reads/s asked on ${esc(r.connections)} connections of their own, each looking up the latest acknowledged write by its key; ${esc(
    r.reads,
  )} reads, ${esc(r.stale)} stale, ${esc(r.failed)} failed, ${esc(r.retries)} retried attempts (${esc(
    Object.entries(r.retriedByCode)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || 'none',
  )}). ${switched}</p>
<p class="muted">A stale read did not find the latest acknowledged write yet: the server answering it is behind the writes by the replication lag. On the target while the writes still go to the source that is the consistency rule of a read-first switch, not a failure; an application that must read its own writes keeps those reads on the writer.</p>
${rows ? `<table><tr><th>server</th><th class="num">reads</th><th class="num">fresh</th><th class="num">stale</th><th class="num">failed</th><th class="num">latency p50 / p99 / max</th><th>first → last</th></tr>${rows}</table>` : '<p>No read was answered.</p>'}
${
  r.failures.length
    ? `<table><tr><th>failed at</th><th>server</th><th>code</th><th>error</th></tr>${r.failures
        .map(
          (f) =>
            `<tr><td class="muted">${esc(f.at.slice(11, 23))}</td><td>${esc(f.server)}</td><td>${esc(f.code ?? '')}</td><td>${esc(f.message)}</td></tr>`,
        )
        .join('')}</table>`
    : ''
}`;
}

/** The fallback scenarios: the writes of each period, and where each database has them. */
function periodsHtml(report: RehearsalReport): string {
  const periods = report.writePeriods;
  if (!periods) return '';
  const databases = [...new Set(periods.flatMap((p) => p.lookedUp.map((l) => l.database)))];
  const rows = periods
    .map(
      (p) =>
        `<tr><td>${esc(p.period)}</td><td>${esc(p.server)}</td><td class="num">${esc(p.acknowledged)}</td><td class="muted">${esc(
          sinceStart(report, p.from),
        )} → ${esc(sinceStart(report, p.to))}</td>${databases
          .map((d) => {
            const l = p.lookedUp.find((x) => x.database === d);
            return l
              ? `<td class="num${l.lost ? ' bad' : ''}">${esc(l.found)}/${esc(l.checked)}${l.lost ? ` (${esc(l.lost)} lost)` : ''}</td>`
              : '<td class="num muted">not looked up</td>';
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<h2>Writes by period</h2>
<p class="muted">Every acknowledged write, looked up where it must be: on the source at the end (the reverse replication brought the target's back), and on the target up to the fallback's switch.</p>
<table><tr><th>period</th><th>written on</th><th class="num">acknowledged</th><th>when</th>${databases
    .map((d) => `<th class="num">found on the ${esc(d)}</th>`)
    .join('')}</tr>${rows}</table>`;
}

/** The verdict: PASS or FAIL, lost writes, the write freeze(s), expected vs actual. */
function verdictHtml(report: RehearsalReport): string {
  const lostOk = report.lostWrites === 0 && report.verification.length > 0;
  const asExpected = !report.error && report.mismatches.length === 0;
  const freezes = drawnFreezes(report);
  const two = freezes.length > 1;
  const verifiedOn = report.verification
    .map((v) => `${v.database} ${v.found}/${v.checked}${v.scope ? ` ${v.scope}` : ''}`)
    .join(', ');
  const headline = report.ok
    ? `✔ PASS — outcome as expected, no acknowledged write lost`
    : `✘ FAIL — ${report.failedBecause.join('; ') || 'see below'}`;
  return `<div class="verdict ${report.ok ? 'pass' : 'fail'}">
<div class="head ${report.ok ? 'ok' : 'bad'}">${esc(headline)}</div>
<div class="hero">
<div><span class="muted">lost writes</span><b class="${lostOk ? 'ok' : 'bad'}" id="lost-writes">${
    report.lostWrites === null ? 'unknown' : esc(report.lostWrites)
  }</b><small>of ${esc(report.acknowledgedWrites)} acknowledged${verifiedOn ? ` · found: ${esc(verifiedOn)}` : ''}</small></div>
${
  two
    ? `<div><span class="muted">write freezes</span><b id="write-freeze"${
        freezes.some((f) => f.report.status === 'ongoing') ? ' class="bad"' : ''
      }>${freezes.map((f) => `<span id="${esc(f.execution)}-freeze">${esc(f.text)}</span>`).join(' · ')}</b><small>${esc(
        freezes.map((f) => f.execution).join(' · '),
      )}: each the longest pause between commits around its freeze</small></div>`
    : `<div><span class="muted">write freeze</span><b id="write-freeze"${
        report.freeze.status === 'ongoing' ? ' class="bad"' : ''
      }>${esc(freezeText(report))}</b><small>${
        report.freeze.status === 'ongoing' ? 'no commit since the freeze took hold' : 'longest pause between commits'
      } · longest other pause ${esc(report.freeze.nextLongestGapMs)} ms · median ${esc(report.freeze.medianGapMs)} ms</small></div>`
}
<div><span class="muted">expected vs actual</span><b class="${asExpected ? 'ok' : 'bad'}">${
    report.error || report.interrupted
      ? 'not reached'
      : asExpected
        ? '✔ as expected'
        : `✘ ${esc(report.mismatches.length)} mismatch${report.mismatches.length === 1 ? '' : 'es'}`
  }</b><small>expected: ${esc(report.expected.executionStatus)}${report.expected.error ? ` (${esc(report.expected.error)})` : ''} · got: ${esc(
    report.actual.executionStatus ?? '-',
  )}${report.actual.error ? ` (${esc(report.actual.error)})` : ''}</small></div>
</div>
</div>
`;
}

/** The error, if any, and the figures at a glance. */
function cardsHtml(report: RehearsalReport): string {
  const card = (label: string, value: string, cls = ''): string =>
    `<div class="card"><span class="muted">${esc(label)}</span><b class="${cls}">${esc(value)}</b></div>`;
  const rows = Object.values(report.tables.rows).reduce((a, b) => a + b, 0);
  return `${report.error ? `<p class="bad">Error: ${esc(report.error)}</p>` : ''}
<div class="cards">
${card('acknowledged writes', String(report.acknowledgedWrites))}
${card('found on target', report.writesFoundOnTarget === null ? 'unknown' : String(report.writesFoundOnTarget))}
${card('load', `${report.load.achievedRate.toFixed(0)} / ${report.load.targetRate} writes/s`)}
${card('retried / failed', `${report.load.retries} / ${report.load.failed}`, report.load.failed ? 'bad' : '')}
${card('reads (stale / failed)', `${report.reads?.reads ?? 0} (${report.reads?.stale ?? 0} / ${report.reads?.failed ?? 0})`, report.reads?.failed ? 'bad' : '')}
${card('read switch', readSwitchText(report), report.readSwitch?.own && !report.readSwitch.at ? 'bad' : '')}
${card('validation', report.validation.ok ? 'match' : 'MISMATCH', report.validation.ok ? 'ok' : 'bad')}
${card('rows', `${report.tables.rowsAreEstimates ? '≈' : ''}${rows}`)}
${card('total time', formatMs(report.durationMs))}
</div>
`;
}

/** The acknowledged writes that were not found (the first few), or nothing. */
function lostWritesHtml(report: RehearsalReport): string {
  return report.lostSamples.length
    ? `<h2 class="bad">Lost writes (first ${report.lostSamples.length} of ${esc(report.lostWrites)})</h2><table><tr><th>kind</th><th>key</th><th>acknowledged by</th><th>at</th><th>found</th></tr>${report.lostSamples
        .map(
          (l) =>
            `<tr><td>${esc(l.kind)}</td><td><code>${esc(l.key)}</code></td><td>${esc(l.server)}</td><td>${esc(l.at)}</td><td>${esc(
              l.found,
            )}</td></tr>`,
        )
        .join('')}</table>`
    : '';
}

/** The colours of the timelines. */
function legendHtml(report: RehearsalReport): string {
  return `<div class="legend muted">commits:${swatch('#54aeff')}on source${swatch('#2da44e')}on target · phases:${swatch('#8c959f')}rehearsal step${swatch(
    '#0969da',
  )}cutover phase (colour per phase)${swatch('#cf222e')}failed${swatch('#cf222e', 'opacity:.25;outline:1px dashed #cf222e')}write freeze${
    report.reads?.reads
      ? ` · reads:${swatch(READ_SOURCE)}on source${swatch(READ_TARGET)}on target${swatch(READ_STALE)}stale${swatch(READ_FAILED)}failed`
      : ''
  }${switchMarks(report).length ? ` · ${swatch(SWITCH_READS)}reads → target${swatch(SWITCH_WRITES)}writes → target` : ''}</div>
`;
}

/** Each write freeze: its window, where its time went (chart and table). */
function freezeSectionsHtml(report: RehearsalReport): string {
  const failed = failedNames(report);
  const breakdownRows = (breakdown: RehearsalReport['freeze']['breakdown']): string => {
    const freezeTotal = breakdown.reduce((s, b) => s + b.ms, 0);
    return breakdown
      .map((b) => {
        const color = segmentColor(b.name, failed);
        return (
          `<tr class="${color === GAP_COLOR ? 'gap' : ''}"><td>${swatch(color)}<span class="${
            failed.has(b.name) ? 'bad' : ''
          }">${esc(b.name)}${failed.has(b.name) ? ' (failed)' : ''}</span></td>` +
          `<td class="num">${esc(b.ms.toFixed(1))} ms</td><td class="num">${
            freezeTotal > 0 ? esc(((b.ms / freezeTotal) * 100).toFixed(0)) : '0'
          }%</td></tr>`
        );
      })
      .join('');
  };
  const freezes = drawnFreezes(report);
  const two = freezes.length > 1;
  return freezes
    .map((f) => {
      const fr = f.report;
      const commits = two ? fr.commitsAfterFreeze : fr.sourceCommitsAfterFreeze;
      const server = two ? (fr.frozenServer ?? 'source') : 'source';
      return `<h2>${two ? `Write freeze of the ${esc(f.execution)}` : 'Write freeze'}: ${esc(f.text)}</h2>
<p class="muted">${
        fr.status === 'ongoing'
          ? 'No write committed after the freeze took hold: from the last acknowledged commit'
          : fr.status === 'none'
            ? 'Nothing was frozen; the longest time between two acknowledged commits'
            : 'From the last acknowledged commit before the freeze to the first after it'
      }: ${esc(fr.from ?? '-')} → ${esc(fr.to ?? 'still frozen when the writes stopped')}${
        commits === undefined ? '' : `; ${esc(server)} commits after the freeze step ended: ${esc(commits)}`
      }.</p>
${breakdownSvg(report, fr.breakdown)}
<table><tr><th>inside the freeze, in order</th><th class="num">duration</th><th class="num">share</th></tr>${breakdownRows(fr.breakdown)}</table>`;
    })
    .join('\n');
}

/** Expected vs actual, the executions and the phases, as tables. */
function outcomeTablesHtml(report: RehearsalReport): string {
  const expectRows = Object.keys({ ...report.expected, ...report.actual })
    .map((k) => {
      const want = (report.expected as unknown as Record<string, unknown>)[k];
      const got = (report.actual as Record<string, unknown>)[k];
      const match = want === undefined || want === got;
      return `<tr class="${match ? '' : 'mismatch'}"><td class="${match ? 'ok' : 'bad'}">${match ? '✔' : '✘'}</td><td>${esc(
        k,
      )}</td><td>${esc(plain(want))}</td><td class="${match ? '' : 'bad'}">${esc(plain(got))}</td></tr>`;
    })
    .join('');
  const executions = report.cutover.executions
    .map(
      (e) =>
        `<tr><td>#${e.index + 1}${e.machine ? ` ${esc(e.machine)}` : ''}${e.mode ? ` <span class="muted">${esc(e.mode)}</span>` : ''}</td><td class="${e.status === 'SUCCEEDED' ? 'ok' : 'bad'}">${esc(e.status)}</td><td>${esc(
          e.error ?? '',
        )}</td><td>${esc(e.lastState ?? '')}</td><td class="num">${esc(formatMs(e.durationMs))}</td><td class="muted">${esc(
          (e.cause ?? '').slice(0, 300),
        )}</td></tr>`,
    )
    .join('');
  const phaseRows = report.phases
    .map(
      (p) =>
        `<tr><td>${p.group === 'cutover' ? '↳ ' : ''}${esc(p.name)}</td><td class="${
          p.status === 'failed' ? 'bad' : ''
        }">${esc(p.status)}</td><td class="num">${
          p.durationMs === null ? '-' : esc(formatMs(p.durationMs))
        }</td><td class="muted">${esc(p.startedAt.slice(11, 23))}</td><td class="muted">${esc(p.detail ?? '')}</td></tr>`,
    )
    .join('');
  return `<h2>Expected vs actual (${esc(report.scenario)})</h2>
<table><tr><th></th><th>field</th><th>expected</th><th>actual</th></tr>${expectRows}</table>
${report.mismatches.length ? `<p class="bad">${report.mismatches.map(esc).join('<br>')}</p>` : ''}
<h2>Executions</h2>
<table><tr><th></th><th>status</th><th>error</th><th>last state</th><th class="num">duration</th><th>cause</th></tr>${executions}</table>
<h2>Phases</h2>
<table><tr><th>phase</th><th>status</th><th class="num">duration</th><th>started (UTC)</th><th>detail</th></tr>${phaseRows}</table>
`;
}

/** The load: the rehearsal's writer and the user's --load. */
function loadHtml(report: RehearsalReport): string {
  return `<h2>Load</h2>
<p>${esc(report.load.concurrency)} connections as the application role, target ${esc(report.load.targetRate)} writes/s, achieved ${esc(
    report.load.achievedRate.toFixed(1),
  )} writes/s over ${esc(formatMs(report.load.durationMs))}; ${esc(report.load.retries)} retried attempts (${esc(
    Object.entries(report.load.retriedByCode)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || 'none',
  )}); ${esc(report.load.failed)} failed writes. Acknowledged on: ${esc(
    Object.entries(report.acknowledgedOn)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  )}.</p>
${
  report.load.command
    ? `<p>Your --load <code>${esc(report.load.command.command)}</code>: ${
        report.load.command.signal
          ? `ended by ${esc(report.load.command.signal)}`
          : `exit code ${esc(report.load.command.exitCode ?? '-')}`
      }${report.load.command.stoppedByRehearsal ? ' (stopped by the rehearsal)' : ''}; ${esc(
        report.load.command.outputLines,
      )} output line(s).</p>${
        report.load.command.outputTail.length ? `<pre>${esc(report.load.command.outputTail.join('\n'))}</pre>` : ''
      }`
    : ''
}
`;
}

/** The whole page (its sections above, the timelines and the reads, servers and periods sections). */
export function renderHtmlReport(report: RehearsalReport): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${report.ok ? 'PASS' : 'FAIL'} zdm rehearsal — ${esc(report.scenario)} (${esc(report.mode)})</title><style>${CSS}</style></head>
<body>
<h1>Cutover rehearsal: ${esc(report.scenario)} <span class="muted">(${esc(report.mode)})</span></h1>
<p class="muted">${esc(report.description)} — migration <code>${esc(report.migrationId)}</code>, ${esc(
    report.startedAt,
  )}, ${esc(report.servers.kind)} servers</p>
${verdictHtml(report)}${cardsHtml(report)}${lostWritesHtml(report)}
${legendHtml(report)}${periodsHtml(report)}
${timelines(report)}
${freezeSectionsHtml(report)}
${outcomeTablesHtml(report)}${loadHtml(report)}${readsHtml(report)}
<p class="muted">Source: ${esc(report.servers.source)} · Target: ${esc(report.servers.target)}</p>
${serverStateHtml(report)}
</body></html>
`;
}

export function writeHtmlReport(path: string, report: RehearsalReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderHtmlReport(report));
}
