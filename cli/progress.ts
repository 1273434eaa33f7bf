/**
 * Progress of `zdm` on stderr (stdout carries only the result):
 *
 * - on a terminal, one bar rewritten in place: phase, done/total, rows, rate and ETA;
 * - otherwise (CI logs, `2> file`), one plain line when a phase starts and then every few seconds.
 *
 * Pure formatting plus a reporter with an injected clock, so both are tested without waiting.
 */
import type { Progress } from '../lambda/engine';

/** What `done`/`total` count in each phase. */
const UNIT: Record<Progress['phase'], string> = {
  plan: 'steps',
  counts: 'tables',
  checksums: 'ranges',
  differences: 'ranges',
  recheck: 'rows',
};

/** Rate and ETA of the running phase. */
export interface ProgressStats {
  /** Since the phase's first update. */
  readonly elapsedMs: number;
  /** Rows (when the phase counts rows) or units per second; undefined until it can be measured. */
  readonly ratePerSecond?: number;
  /** Whether the rate counts rows (else the phase's units). */
  readonly rateInRows: boolean;
  /** Estimated time left; undefined until a rate is known. */
  readonly etaMs?: number;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `950`, `12.3k`, `4.1M` */
export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return int(n);
}

/** `0:07`, `12:05`, `1:02:03` */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function rateText(p: Progress, stats: ProgressStats): string {
  if (stats.ratePerSecond === undefined) return '';
  return `${formatCount(stats.ratePerSecond)} ${stats.rateInRows ? 'rows' : UNIT[p.phase]}/s`;
}

function etaText(stats: ProgressStats): string {
  return stats.etaMs === undefined ? '' : `ETA ${formatDuration(stats.etaMs)}`;
}

/** The plain line (no terminal): `zdm: checksums 12/40 ranges (30%), 600,000/2,000,000 rows, 412k rows/s, ETA 0:03, public.orders` */
export function formatProgressLine(p: Progress, stats: ProgressStats): string {
  const percent = p.total > 0 ? ` (${Math.floor((100 * p.done) / p.total)}%)` : '';
  const parts = [
    `${p.done}/${p.total} ${UNIT[p.phase]}${percent}`,
    p.rowsTotal ? `${int(p.rowsDone ?? 0)}/${int(p.rowsTotal)} rows` : '',
    rateText(p, stats),
    etaText(stats),
    p.table ?? '',
  ].filter(Boolean);
  return `zdm: ${p.phase} ${parts.join(', ')}\n`;
}

/** The terminal bar (rewritten in place): `checksums [#####.....] 12/40 ~600,000/2,000,000 rows 412k rows/s ETA 0:03` */
export function formatProgressBar(p: Progress, stats: ProgressStats, width = 30): string {
  const frac = p.total ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(frac * width);
  const rows = p.rowsTotal ? ` ~${int(p.rowsDone ?? 0)}/${int(p.rowsTotal)} rows` : '';
  const tail = [rateText(p, stats), etaText(stats)].filter(Boolean).join(' ');
  return `\r${p.phase.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}${rows}${tail ? ` ${tail}` : ''}\x1b[K`;
}

export interface ProgressReporterOptions {
  readonly write: (text: string) => void;
  /** stderr is a terminal: draw a bar; else write lines. */
  readonly tty: boolean;
  /** Milliseconds since some epoch. @default Date.now */
  readonly now?: () => number;
  /** Plain lines: at most one per this many milliseconds (besides one when a phase starts). @default 5000 */
  readonly intervalMs?: number;
  /** Bar: redraw at most this often. @default 100 */
  readonly redrawMs?: number;
}

export interface ProgressReporter {
  update(progress: Progress): void;
  /** Clears the bar (a terminal); writes nothing otherwise. */
  done(): void;
}

/** A reporter for the engine's `onProgress`. */
export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 5000;
  const redraw = options.redrawMs ?? 100;
  let phase: Progress['phase'] | undefined;
  let phaseStart = 0;
  let phaseStartAmount = 0;
  let lastWrite = -Infinity;
  let barShown = false;

  const stats = (p: Progress, t: number): ProgressStats => {
    const rateInRows = Boolean(p.rowsTotal);
    const amount = rateInRows ? (p.rowsDone ?? 0) : p.done;
    const totalAmount = rateInRows ? (p.rowsTotal ?? 0) : p.total;
    const elapsedMs = t - phaseStart;
    // A rate needs some time and some work, else it is noise.
    if (elapsedMs < 500 || amount - phaseStartAmount <= 0) return { elapsedMs, rateInRows };
    const ratePerSecond = ((amount - phaseStartAmount) * 1000) / elapsedMs;
    const etaMs = (Math.max(0, totalAmount - amount) / ratePerSecond) * 1000;
    return { elapsedMs, ratePerSecond, rateInRows, etaMs };
  };

  return {
    update(p) {
      const t = now();
      const started = p.phase !== phase;
      if (started) {
        phase = p.phase;
        phaseStart = t;
        phaseStartAmount = p.rowsTotal ? (p.rowsDone ?? 0) : p.done;
      }
      if (options.tty) {
        const finished = p.total > 0 && p.done >= p.total;
        if (!started && !finished && t - lastWrite < redraw) return;
        options.write(formatProgressBar(p, stats(p, t)));
        barShown = true;
        lastWrite = t;
        return;
      }
      // A plan of one step says nothing every few seconds; its start line is enough.
      if (started ? p.phase === 'plan' && p.done > 0 : t - lastWrite < interval) return;
      options.write(formatProgressLine(p, stats(p, t)));
      lastWrite = t;
    },
    done() {
      if (barShown) options.write('\r\x1b[K');
      barShown = false;
    },
  };
}
