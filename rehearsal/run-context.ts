/**
 * What every part of a rehearsal shares: the options, the progress log, the secrets to redact, the clean-up
 * ledger, the stop signal (Ctrl-C, SIGTERM, a crash elsewhere in the process) and the facts gathered so far.
 */
import type { WatchdogReport } from '../lambda/engine';
import type { CleanupLedger } from './cleanup-ledger';
import type { RehearsalOptions } from './options';
import type { Progress } from './progress';
import type { Secrets } from './roles/secrets';

/** Why a rehearsal stopped early: a signal (SIGINT, SIGTERM, SIGHUP, the parent went away) or a crash. */
export interface StopReason {
  readonly kind: 'signal' | 'crash';
  /** `SIGINT`, `SIGTERM`, ... (signals). */
  readonly signal?: string;
  /** What happened, in words. */
  readonly message: string;
}

export class InterruptedError extends Error {
  constructor(readonly reason: StopReason) {
    super(`rehearsal interrupted: ${reason.message}`);
    this.name = 'InterruptedError';
  }
}

/** Reads a stop reason from an AbortSignal's reason (bin/rehearse.ts aborts with a StopReason). */
export function stopReasonOf(reason: unknown): StopReason {
  const r = reason as Partial<StopReason> | Error | undefined;
  if (r && typeof r === 'object' && 'kind' in r && (r.kind === 'signal' || r.kind === 'crash')) {
    return { kind: r.kind, ...(r.signal ? { signal: r.signal } : {}), message: String(r.message ?? r.kind) };
  }
  return { kind: 'signal', message: r instanceof Error ? r.message : String(reason ?? 'aborted') };
}

/** The stop signal of one rehearsal: no new phase starts after it fired; waits race against it. */
export class RunStop {
  private readonly controller = new AbortController();
  private readonly stopped: Promise<never>;
  reason?: StopReason;

  constructor(external?: AbortSignal) {
    this.stopped = new Promise<never>((_, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(new InterruptedError(this.reason!)), {
        once: true,
      });
    });
    this.stopped.catch(() => undefined);
    if (external) {
      const onAbort = (): void => this.stop(stopReasonOf(external.reason));
      if (external.aborted) onAbort();
      else external.addEventListener('abort', onAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isStopped(): boolean {
    return this.controller.signal.aborted;
  }

  stop(reason: StopReason): void {
    if (this.isStopped) return;
    this.reason = reason;
    this.controller.abort(reason);
  }

  /** Throws InterruptedError when stopped. */
  check(): void {
    if (this.isStopped) throw new InterruptedError(this.reason!);
  }

  /** `p`, or InterruptedError as soon as the rehearsal is stopped. */
  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.stopped]);
  }
}

/** What the end of a rehearsal did about the freeze. */
export interface FreezeEnding {
  /** The dead man's switch (after an interrupt or a crash once the cutover had started). */
  readonly watchdog?: WatchdogReport;
  /** Roles the rehearsal gave their saved login settings back at the end (a rehearsal leaves the source writable). */
  readonly restoredByRehearsal: string[];
  /** Why the source was left frozen (`--keep-frozen`), when it was. */
  readonly keptFrozen?: string;
  readonly error?: string;
}

export interface RehearsalContext {
  readonly options: RehearsalOptions;
  readonly progress: Progress;
  readonly secrets: Secrets;
  readonly ledger: CleanupLedger;
  readonly stop: RunStop;
  /** Epoch ms: t = 0 of the console log and of the HTML report's time axis. */
  readonly startedAt: number;
  readonly notices: string[];
  /** Runs `fn` as a named, timed phase of the rehearsal; refuses to start one once stopped. */
  phase<T>(
    name: string,
    fn: () => Promise<T>,
    describe?: (result: T) => string | undefined,
    failed?: (result: T) => boolean,
  ): Promise<T>;
}
