/**
 * The way back, watched while it is open: from the cutover's success to the fallback's start (or the end of the run)
 * the reverse replication's status is read every `intervalMs`. The first time it says `failed` (an apply error: a
 * write on the old source that conflicts with the target's, typically) is printed at once and kept for the report.
 */
import type { ReplicationPort } from '../lambda/engine';
import type { Progress } from './progress';

export interface WayBackBreak {
  /** When the watch first saw it (epoch ms). */
  readonly at: number;
  readonly detail: string;
}

/** How often the open way back is looked at (the state machine's Wait states are shortened likewise). */
export const WAY_BACK_WATCH_MS = 500;

export class WayBackWatch {
  /** The first break seen, if any. */
  broken?: WayBackBreak;
  private stopped = false;
  private wake?: () => void;
  private loop?: Promise<void>;

  constructor(
    private readonly reverse: Pick<ReplicationPort, 'status'>,
    private readonly progress: Pick<Progress, 'log'>,
    private readonly intervalMs = WAY_BACK_WATCH_MS,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the watch (waits for a look in progress). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped && !this.broken) {
      const status = await this.reverse.status().catch(() => undefined);
      if (status?.state === 'failed' && !this.stopped) {
        this.broken = { at: Date.now(), detail: status.detail ?? 'the reverse replication failed' };
        this.progress.log(`  ✘ the way back is broken: ${this.broken.detail.slice(0, 400)}`);
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, this.intervalMs).unref();
      });
    }
  }
}
