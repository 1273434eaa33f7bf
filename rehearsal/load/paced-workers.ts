/**
 * The loop the application's writes and reads share: `workers` sequential loops at a common pace, each following
 * an endpoint that may move (the switch), retrying a rejected attempt after a short back-off as an application's
 * retry policy would (connection refused or ended, NOLOGIN, ...). What an attempt does and records is the caller's.
 */
import { sleep } from '../../lambda/engine';
import { connectToEndpoint, type EndpointConnection } from '../servers/pg-clients';
import { errorCode, isRetryable, nowMs, type EndpointSource } from './load-errors';

export interface PacedWorkersOptions {
  /** Attempts per second, all workers together (0: none). */
  readonly rate: number;
  readonly workers: number;
  /** After a stall, how far behind the pace may be made up, ms (0: never; a missed slot is not run later). */
  readonly catchUpMs: number;
  readonly role: string;
  readonly password?: string;
  readonly applicationName: string;
  readonly endpoints: EndpointSource;
  readonly label: (endpoint: string) => string;
  /** @default [10, 20] */
  readonly backoffMs?: readonly [number, number];
}

/** What a load's options and the loop share: pace, login, where to connect. */
type LoadBasics = Pick<PacedWorkersOptions, 'rate' | 'role' | 'password' | 'endpoints' | 'label' | 'backoffMs'>;

/** The loop's options from a load's own (`password` and `backoffMs` only when given). */
export function pacedOptions(
  load: LoadBasics,
  own: Pick<PacedWorkersOptions, 'workers' | 'catchUpMs' | 'applicationName'>,
): PacedWorkersOptions {
  return {
    rate: load.rate,
    role: load.role,
    ...(load.password !== undefined ? { password: load.password } : {}),
    endpoints: load.endpoints,
    label: load.label,
    ...(load.backoffMs ? { backoffMs: load.backoffMs } : {}),
    ...own,
  };
}

/** One unit of work: `attempt` runs it (again after a retryable error); `failed` records one that is not. */
export interface PacedWork {
  /** Runs on `conn` against `server`; `first` is when the first attempt began, `retried` how many were retried. */
  attempt(conn: EndpointConnection, server: string, first: number, retried: number): Promise<void>;
  failed(error: unknown, server: string, first: number, retried: number): void;
}

export interface PacedWorkersStats {
  readonly retries: number;
  readonly retriedByCode: Record<string, number>;
  /** Workers currently waiting to retry. */
  readonly blocked: number;
}

export class PacedWorkers {
  private readonly retriedByCode: Record<string, number> = {};
  private retries = 0;
  private blocked = 0;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private nextSlot = 0;
  private readonly intervalMs: number;
  private readonly backoff: readonly [number, number];

  /** `next()` gives the work of the next slot, or undefined to skip it. */
  constructor(
    private readonly options: PacedWorkersOptions,
    private readonly next: () => PacedWork | undefined,
  ) {
    this.intervalMs = options.rate > 0 ? 1000 / options.rate : Infinity;
    this.backoff = options.backoffMs ?? [10, 20];
  }

  start(): void {
    if (this.loops.length > 0 || this.options.rate <= 0) return;
    this.nextSlot = nowMs();
    for (let i = 0; i < this.options.workers; i++) this.loops.push(this.loop());
  }

  get running(): boolean {
    return this.loops.length > 0 && !this.stopping;
  }

  /** Stops starting work, waits for the work in flight, closes the connections. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  stats(): PacedWorkersStats {
    return { retries: this.retries, retriedByCode: { ...this.retriedByCode }, blocked: this.blocked };
  }

  /** Waits for this worker's next slot; after a stall, at most `catchUpMs` of missed slots are run. */
  private async ticket(): Promise<void> {
    const now = nowMs();
    const slot = Math.max(this.nextSlot, now - this.options.catchUpMs);
    this.nextSlot = slot + this.intervalMs;
    if (slot > now) await sleep(slot - now);
  }

  private async loop(): Promise<void> {
    let conn: EndpointConnection | undefined;
    const drop = (): void => {
      if (!conn) return;
      const c = conn.client;
      conn = undefined;
      c.end().catch(() => undefined);
    };
    try {
      while (!this.stopping) {
        await this.ticket();
        if (this.stopping) break;
        const work = this.next();
        if (!work) continue;
        const first = nowMs();
        let retried = 0;
        let wasBlocked = false;
        while (!this.stopping) {
          let server = '?';
          try {
            const endpoint = await this.options.endpoints.current();
            if (!endpoint) throw Object.assign(new Error('no endpoint configured'), { code: '08001' });
            server = this.options.label(endpoint);
            if (conn && (conn.broken || conn.endpoint !== endpoint)) drop();
            if (!conn) conn = await this.connect(endpoint);
            await work.attempt(conn, server, first, retried);
            break;
          } catch (error) {
            if (conn) conn.broken = true;
            drop();
            if (isRetryable(error)) {
              this.retries++;
              retried++;
              const code = errorCode(error);
              this.retriedByCode[code] = (this.retriedByCode[code] ?? 0) + 1;
              if (!wasBlocked) {
                wasBlocked = true;
                this.blocked++;
              }
              const [lo, hi] = this.backoff;
              await sleep(lo + Math.random() * (hi - lo));
              continue;
            }
            work.failed(error, server, first, retried);
            break;
          }
        }
        if (wasBlocked) this.blocked--;
      }
    } finally {
      drop();
    }
  }

  private connect(endpoint: string): Promise<EndpointConnection> {
    return connectToEndpoint(endpoint, {
      role: this.options.role,
      ...(this.options.password !== undefined ? { password: this.options.password } : {}),
      applicationName: this.options.applicationName,
    });
  }
}
