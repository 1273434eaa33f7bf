/** Where the rehearsal writes: progress lines (stderr) and the summary (stdout). Tests pass collectors. */
export interface RehearsalIO {
  out(line: string): void;
  err(line: string): void;
  /** Whether `out` may use ANSI colours (a terminal, not a CI log or a pipe). Absent: plain text. */
  readonly color?: boolean;
}

/** Colours only on a terminal; NO_COLOR (https://no-color.org) and TERM=dumb turn them off, FORCE_COLOR on. */
export function stdoutWantsColor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export const consoleIO: RehearsalIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  get color() {
    return stdoutWantsColor();
  },
};

export type Tone = 'ok' | 'bad' | 'bold' | 'dim';

const ANSI: Record<Tone, [string, string]> = {
  ok: ['\x1b[32m', '\x1b[39m'],
  bad: ['\x1b[1;31m', '\x1b[22;39m'],
  bold: ['\x1b[1m', '\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
};

/** `paint(tone, text)`: ANSI-coloured when `color`, the text unchanged otherwise. */
export function painter(color: boolean | undefined): (tone: Tone, text: string) => string {
  return color ? (tone, text) => `${ANSI[tone][0]}${text}${ANSI[tone][1]}` : (_tone, text) => text;
}

export const silentIO: RehearsalIO = { out: () => undefined, err: () => undefined };

/** `io` with every line passed through `redact` first (no password reaches the console or a log). */
export function redactingIO(io: RehearsalIO, redact: (text: string) => string): RehearsalIO {
  return {
    out: (line) => io.out(redact(line)),
    err: (line) => io.err(redact(line)),
    get color() {
      return io.color;
    },
  };
}

export type TimedStatus = 'running' | 'succeeded' | 'failed' | 'skipped';

/** A timed step of the rehearsal (`rehearsal`) or a cutover phase from the state store (`cutover`). */
export interface PhaseTiming {
  readonly name: string;
  readonly group: 'rehearsal' | 'cutover';
  readonly startedAt: number;
  endedAt?: number;
  status: TimedStatus;
  detail?: string;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${((ms % 60_000) / 1000).toFixed(1)} s`;
}

/** The longest the console stays silent while a phase runs. */
export const DEFAULT_SILENCE_MS = 10_000;

/** Prints phases as they start and end (with durations) and keeps their timings for the report. */
export class Progress {
  readonly phases: PhaseTiming[] = [];
  private lastLineAt = Date.now();
  private silenceTimer?: ReturnType<typeof setInterval>;

  /**
   * `t0` (epoch ms) is t = 0 of the log lines, and of the report's time axis. `silenceMs`: no silence longer than
   * this while a phase runs — a line says which phase is still running and for how long.
   */
  constructor(
    private readonly io: RehearsalIO,
    private readonly quiet = false,
    readonly t0 = Date.now(),
    private readonly silenceMs = DEFAULT_SILENCE_MS,
  ) {}

  /** A progress line, prefixed with the elapsed time (seconds since t0). */
  log(line: string): void {
    if (this.quiet) return;
    this.lastLineAt = Date.now();
    const t = ((Date.now() - this.t0) / 1000).toFixed(1).padStart(6);
    this.io.err(`[${t}s] ${line}`);
  }

  /** The innermost phase still running, if any. */
  private running(): PhaseTiming | undefined {
    return [...this.phases].reverse().find((p) => p.status === 'running');
  }

  /** Starts (once) the check that says what is still running after `silenceMs` without a line. */
  private watchSilence(): void {
    if (this.quiet || this.silenceTimer) return;
    this.silenceTimer = setInterval(
      () => {
        const phase = this.running();
        if (!phase || Date.now() - this.lastLineAt < this.silenceMs) return;
        this.log(`… still ${phase.name} (${formatMs(Date.now() - phase.startedAt)} so far)`);
      },
      Math.max(50, Math.floor(this.silenceMs / 4)),
    );
    this.silenceTimer.unref();
  }

  /**
   * Runs `fn` as a named rehearsal phase. `describe` words its result; `failed` says whether that result is a
   * failure the phase reports rather than throws (an execution that FAILED): its line is marked ✘, not ✔.
   */
  async phase<T>(
    name: string,
    fn: () => Promise<T>,
    describe?: (result: T) => string | undefined,
    failed?: (result: T) => boolean,
  ): Promise<T> {
    const timing: PhaseTiming = { name, group: 'rehearsal', startedAt: Date.now(), status: 'running' };
    this.phases.push(timing);
    this.log(`▶ ${name}`);
    this.watchSilence();
    try {
      const result = await fn();
      timing.endedAt = Date.now();
      timing.status = 'succeeded';
      timing.detail = describe?.(result);
      const mark = failed?.(result) ? '✘' : '✔';
      this.log(
        `${mark} ${name} (${formatMs(timing.endedAt - timing.startedAt)})${timing.detail ? ` — ${timing.detail}` : ''}`,
      );
      return result;
    } catch (error) {
      timing.endedAt = Date.now();
      timing.status = 'failed';
      timing.detail = (error as Error).message;
      this.log(`✘ ${name} failed after ${formatMs(timing.endedAt - timing.startedAt)}: ${(error as Error).message}`);
      throw error;
    }
  }

  /** Starts a periodic line (e.g. the load rate) every `everyMs`; returns a stop function. */
  ticker(everyMs: number, line: () => string | undefined): () => void {
    if (this.quiet) return () => undefined;
    const timer = setInterval(() => {
      const text = line();
      if (text) this.log(text);
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
