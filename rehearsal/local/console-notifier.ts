import type { Notifier } from '../../lambda/engine';

export interface Notice {
  readonly subject: string;
  readonly message: string;
  readonly attributes: Record<string, string>;
  readonly at: string;
}

/** Collects notices in memory (tests, rehearsal) and passes each to an optional log callback. */
export class ConsoleNotifier implements Notifier {
  readonly notices: Notice[] = [];

  constructor(private readonly onNotice?: (notice: Notice) => void) {}

  async notify(subject: string, message: string, attributes: Record<string, string> = {}): Promise<void> {
    const notice = { subject, message, attributes: { ...attributes }, at: new Date().toISOString() };
    this.notices.push(notice);
    this.onNotice?.(notice);
  }
}
