/** One thing to undo at the end of the rehearsal. */
export interface CleanupItem {
  /** What it undoes, for the log and the report ("drop role zdm_rh_probe_shop on the source"). */
  readonly name: string;
  run(): Promise<void>;
}

export interface CleanupFailure {
  readonly name: string;
  readonly error: string;
}

/**
 * What to undo at the end, last in first out: each setup step registers the undo of what it created as soon as
 * it created it, so a rehearsal that stops halfway undoes exactly what exists. Something registered after the
 * clean-up ran (a server that finished starting after Ctrl-C) is undone at once. Failures are kept for the
 * report: the summary names what could not be removed.
 */
export class CleanupLedger {
  private readonly items: CleanupItem[] = [];
  private done = false;
  readonly failures: CleanupFailure[] = [];

  constructor(private readonly log: (line: string) => void) {}

  push(item: CleanupItem): void {
    if (this.done) void this.runOne(item);
    else this.items.push(item);
  }

  /** Runs (and forgets) the items pushed after `mark`, last first: a part of the clean-up that must come early. */
  async runSince(mark: number): Promise<void> {
    for (const item of this.items.splice(mark).reverse()) await this.runOne(item);
  }

  /** How many items are registered (a mark for `runSince`). */
  get size(): number {
    return this.items.length;
  }

  async runAll(): Promise<void> {
    this.done = true;
    for (const item of this.items.splice(0).reverse()) await this.runOne(item);
  }

  private async runOne(item: CleanupItem): Promise<void> {
    try {
      await item.run();
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      this.failures.push({ name: item.name, error: message });
      this.log(`cleanup "${item.name}" failed: ${message}`);
    }
  }
}
