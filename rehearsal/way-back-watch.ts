/**
 * The way back, watched while it is open: from the cutover's success to the fallback's start (or the end of the run)
 * the engine's `wayBackBreak` looks every `intervalMs`: the reverse replication failed (an apply error: a write on
 * the old source that conflicts with the target's, typically), or the old source's guard recorded a write outside the
 * way back (with its table, key and writer). The first break is printed at once and kept for the report.
 */
import type { Progress } from './progress';

export interface WayBackBreak {
  /** When the watch first saw it (epoch ms). */
  readonly at: number;
  readonly detail: string;
}

/** How often the open way back is looked at (the state machine's Wait states are shortened likewise). */
export const WAY_BACK_WATCH_MS = 500;

/** One look: what breaks the way back, or undefined while nothing does. */
export type WayBackLook = () => Promise<string | undefined>;

export class WayBackWatch {
  /** The first break seen, if any. */
  broken?: WayBackBreak;
  private stopped = false;
  private wake?: () => void;
  private loop?: Promise<void>;

  constructor(
    private readonly look: WayBackLook,
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
      const detail = await this.look().catch(() => undefined);
      if (detail && !this.stopped) {
        this.broken = { at: Date.now(), detail };
        const said = detail.startsWith('the way back is broken') ? detail : `the way back is broken: ${detail}`;
        this.progress.log(`  ✘ ${said.slice(0, 600)}`);
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, this.intervalMs).unref();
      });
    }
  }
}
