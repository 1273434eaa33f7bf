import type { TrafficSwitch } from '../ports';

/** Where the application finds its database, in memory (rehearsal): `current` / `switchTo` on an object. */
export class MemoryTrafficSwitch implements TrafficSwitch {
  readonly description: string;
  private readonly listeners: ((endpoint: string, previous: string | undefined) => void)[] = [];

  constructor(
    private readonly holder: { endpoint?: string } = {},
    name = 'in-memory application endpoint',
  ) {
    this.description = name;
  }

  async current(): Promise<string | undefined> {
    return this.holder.endpoint;
  }

  async switchTo(endpoint: string): Promise<void> {
    const previous = this.holder.endpoint;
    if (previous === endpoint) return;
    this.holder.endpoint = endpoint;
    for (const listener of this.listeners) listener(endpoint, previous);
  }

  /** Called after each change with the new and the previous endpoint; returns an unsubscribe function. */
  onChange(listener: (endpoint: string, previous: string | undefined) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
}
