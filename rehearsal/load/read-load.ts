/**
 * The application's reads: a small loop on connections of its own that follows the read endpoint (the read
 * switch in the read-first scenario, the write endpoint otherwise). Each read looks up the most recently
 * acknowledged write by its key, so it is cheap (a primary-key lookup) and says something: whether the server it
 * reached has that write yet. A read on the target while the writes still go to the source may not — the
 * replication lag made visible (`stale`), which is the consistency rule of a read-first switch, not a failure.
 *
 * The loop runs in the load's worker thread beside the writes (its connections are its own, its pace is its own;
 * a read never waits for a write). `ReadTally` is the bounded summary the rehearsal keeps of the samples.
 */
import { errorCode, nowMs, type EndpointSource } from './load-errors';
import { pacedOptions, PacedWorkers, type PacedWork } from './paced-workers';
import { WRITE_TABLE, type AckedWrite } from './write-load';

/** Connections of the application's read loop (each reads in sequence). */
export const READ_CONNECTIONS = 2;

/** What a read found: the latest acknowledged write (`fresh`), not yet (`stale`), or an error (`failed`). */
export type ReadOutcome = 'fresh' | 'stale' | 'failed';

/** One read, as the worker reports it. */
export interface ReadSample {
  /** Epoch ms (sub-millisecond precision) when the read's answer arrived (or it failed). */
  readonly at: number;
  /** Label of the server that answered (`source` / `target`). */
  readonly server: string;
  readonly outcome: ReadOutcome;
  /** Failed reads: the error code (`42501`, `timeout`, ...). */
  readonly code?: string;
  readonly message?: string;
  /** From the first attempt to the answer (retries included). */
  readonly latencyMs: number;
  /** Attempts rejected and retried before this one (the freeze, a switch). */
  readonly retries: number;
}

export interface ReadLoadStats {
  readonly retries: number;
  readonly retriedByCode: Record<string, number>;
  /** Read connections currently waiting to retry. */
  readonly blocked: number;
}

export interface ReadLoadOptions {
  /** Reads per second to aim for (0: no reads). */
  readonly rate: number;
  /** Connections (each a sequential read loop). */
  readonly connections: number;
  readonly role: string;
  readonly password?: string;
  /** Where the reads go. */
  readonly endpoints: EndpointSource;
  readonly label: (endpoint: string) => string;
  /** The most recently acknowledged write (undefined before the first): what each read looks up. */
  readonly latest: () => AckedWrite | undefined;
  /** @default [10, 20] */
  readonly backoffMs?: readonly [number, number];
  readonly applicationName?: string;
}

/** The lookup of a write by its key, and whether the row found has that write. */
export function freshnessQuery(ack: AckedWrite): {
  text: string;
  values: unknown[];
  fresh: (rows: Array<Record<string, unknown>>) => boolean;
} {
  if (ack.kind === 'update') {
    // A later update may have replaced the token: the row has this write once its version reached it.
    return {
      text: `SELECT version FROM ${WRITE_TABLE.update} WHERE id = $1`,
      values: [ack.key],
      fresh: (rows) => rows.length > 0 && Number(rows[0].version) >= (ack.version ?? 0),
    };
  }
  return {
    text: `SELECT 1 AS found FROM ${WRITE_TABLE[ack.kind]} WHERE id = $1`,
    values: [ack.key],
    fresh: (rows) => rows.length > 0,
  };
}

/** The read loop (runs where the writes run, on its own connections). */
export class ReadLoad {
  private pending: ReadSample[] = [];
  private readonly workers: PacedWorkers;

  constructor(private readonly options: ReadLoadOptions) {
    this.workers = new PacedWorkers(
      // No backlog after a stall: a read that could not run is not made up for later.
      pacedOptions(options, {
        workers: options.connections,
        catchUpMs: 0,
        applicationName: options.applicationName ?? 'rehearsal-reads',
      }),
      () => (this.options.latest() ? this.read() : undefined),
    );
  }

  start(): void {
    this.workers.start();
  }

  async stop(): Promise<void> {
    await this.workers.stop();
  }

  /** The samples since the last call (the worker sends them on; nothing accumulates here). */
  drain(): ReadSample[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  stats(): ReadLoadStats {
    return this.workers.stats();
  }

  /** One read of the latest acknowledged write (looked up again at each attempt: a retry reads the newest). */
  private read(): PacedWork {
    return {
      attempt: async (conn, server, first, retries) => {
        const query = freshnessQuery(this.options.latest()!);
        const { rows } = await conn.client.query<Record<string, unknown>>(query.text, query.values);
        const at = nowMs();
        this.pending.push({
          at,
          server,
          outcome: query.fresh(rows) ? 'fresh' : 'stale',
          latencyMs: at - first,
          retries,
        });
      },
      failed: (error, server, first, retries) => {
        const at = nowMs();
        this.pending.push({
          at,
          server,
          outcome: 'failed',
          code: errorCode(error),
          message: (error as Error).message,
          latencyMs: at - first,
          retries,
        });
      },
    };
  }
}

/** Latency quantiles from a geometric histogram (each bucket 10% wider than the one before, from 0.05 ms). */
class LatencyHistogram {
  private static readonly BASE = 0.05;
  private static readonly FACTOR = 1.1;
  private readonly counts: number[] = [];
  private n = 0;
  private sum = 0;
  private max = 0;

  add(ms: number): void {
    const v = Math.max(ms, LatencyHistogram.BASE);
    const i = Math.floor(Math.log(v / LatencyHistogram.BASE) / Math.log(LatencyHistogram.FACTOR));
    while (this.counts.length <= i) this.counts.push(0);
    this.counts[i]++;
    this.n++;
    this.sum += ms;
    this.max = Math.max(this.max, ms);
  }

  /** The upper bound of the bucket holding quantile `q` (within 10% of the exact value). */
  private quantile(q: number): number {
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, LatencyHistogram.BASE * LatencyHistogram.FACTOR ** (i + 1));
    }
    return this.max;
  }

  summary(): ReadLatency | null {
    if (this.n === 0) return null;
    const r = (x: number): number => Math.round(x * 10) / 10;
    return {
      meanMs: r(this.sum / this.n),
      p50Ms: r(this.quantile(0.5)),
      p99Ms: r(this.quantile(0.99)),
      maxMs: r(this.max),
    };
  }
}

/** Read latency of one server, ms (p50/p99 within 10%). */
export interface ReadLatency {
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface ReadServerSummary {
  /** Reads answered (fresh + stale) or failed on this server. */
  readonly reads: number;
  /** Saw the latest acknowledged write. */
  readonly fresh: number;
  /** Did not (yet): the server is behind the writes (a replica, replication lag). */
  readonly stale: number;
  readonly failed: number;
  /** Answered reads (retries included); null: none. */
  readonly latency: ReadLatency | null;
}

/** What the rehearsal keeps of the reads: totals, per server, per bucket, the first and last on each server. */
export interface ReadsSummary {
  readonly reads: number;
  readonly fresh: number;
  readonly stale: number;
  readonly failed: number;
  readonly byServer: Record<string, ReadServerSummary>;
  /** The first failures (at most 20), with their error. */
  readonly failures: Array<{
    readonly at: string;
    readonly server: string;
    readonly code?: string;
    readonly message: string;
  }>;
  /** Failed reads by error code. */
  readonly failedByCode: Record<string, number>;
  /** When a read was first / last answered by each server (ISO). */
  readonly firstAt: Record<string, string>;
  readonly lastAt: Record<string, string>;
  /** The server of the last read answered; null: no read was answered. */
  readonly lastServer: string | null;
  /** Answered reads per bucket and server, stale reads and failed reads per bucket (from `startedAt`). */
  readonly buckets: {
    readonly bucketMs: number;
    readonly startedAt: string | null;
    readonly source: number[];
    readonly target: number[];
    readonly stale: number[];
    readonly failed: number[];
  };
}

/** A bounded summary of the read samples (counts per bucket; a latency histogram per server). */
export class ReadTally {
  private readonly servers = new Map<
    string,
    { reads: number; fresh: number; stale: number; failed: number; latency: LatencyHistogram }
  >();
  private readonly failures: ReadsSummary['failures'] = [];
  private readonly failedByCode: Record<string, number> = {};
  private readonly first: Record<string, number> = {};
  private readonly last: Record<string, number> = {};
  private lastAnswered?: { readonly at: number; readonly server: string };
  private start?: number;
  private readonly perBucket = {
    source: [] as number[],
    target: [] as number[],
    stale: [] as number[],
    failed: [] as number[],
  };

  constructor(readonly bucketMs = 100) {}

  add(sample: ReadSample): void {
    let s = this.servers.get(sample.server);
    if (!s) {
      s = { reads: 0, fresh: 0, stale: 0, failed: 0, latency: new LatencyHistogram() };
      this.servers.set(sample.server, s);
    }
    s.reads++;
    s[sample.outcome]++;
    this.start ??= Math.floor(sample.at / this.bucketMs) * this.bucketMs;
    const i = Math.max(0, Math.floor((sample.at - this.start) / this.bucketMs));
    // Every series keeps the same length (the buckets up to the latest sample).
    for (const series of Object.values(this.perBucket)) while (series.length <= i) series.push(0);
    const bump = (series: number[]): void => void series[i]++;
    if (sample.outcome === 'failed') {
      bump(this.perBucket.failed);
      const code = sample.code ?? 'other';
      this.failedByCode[code] = (this.failedByCode[code] ?? 0) + 1;
      if (this.failures.length < 20) {
        this.failures.push({
          at: new Date(sample.at).toISOString(),
          server: sample.server,
          ...(sample.code ? { code: sample.code } : {}),
          message: (sample.message ?? '').slice(0, 300),
        });
      }
      return;
    }
    s.latency.add(sample.latencyMs);
    bump(sample.server === 'target' ? this.perBucket.target : this.perBucket.source);
    if (sample.outcome === 'stale') bump(this.perBucket.stale);
    this.first[sample.server] ??= sample.at;
    this.last[sample.server] = Math.max(this.last[sample.server] ?? -Infinity, sample.at);
    if (!this.lastAnswered || sample.at >= this.lastAnswered.at)
      this.lastAnswered = { at: sample.at, server: sample.server };
  }

  /** Epoch ms of the first read a server answered. */
  firstOn(server: string): number | undefined {
    return this.first[server];
  }

  /**
   * Reads answered per second by each server, by the reads' own clocks, over the window of `windowMs` that ended at
   * `end` (epoch ms): what the servers answered then, not when the samples arrived (they wait while the main thread
   * is busy, and arrive in bursts). Stale reads count as answered.
   */
  answeredRate(end: number, windowMs = 1000): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.start === undefined) return out;
    const from = Math.max(0, Math.floor((end - windowMs - this.start) / this.bucketMs));
    const to = Math.floor((end - this.start) / this.bucketMs); // exclusive: the bucket still filling
    for (const server of ['source', 'target'] as const) {
      let n = 0;
      for (let i = from; i < to && i < this.perBucket[server].length; i++) n += this.perBucket[server][i];
      const seconds = (Math.max(0, to - from) * this.bucketMs) / 1000;
      if (n > 0 && seconds > 0) out[server] = n / seconds;
    }
    return out;
  }

  /** Reads answered so far, by server (for the progress line). */
  answered(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [server, s] of this.servers) out[server] = s.fresh + s.stale;
    return out;
  }

  stale(): number {
    let n = 0;
    for (const s of this.servers.values()) n += s.stale;
    return n;
  }

  summary(): ReadsSummary {
    const byServer: Record<string, ReadServerSummary> = {};
    let reads = 0;
    let fresh = 0;
    let stale = 0;
    let failed = 0;
    for (const [server, s] of [...this.servers.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      byServer[server] = {
        reads: s.reads,
        fresh: s.fresh,
        stale: s.stale,
        failed: s.failed,
        latency: s.latency.summary(),
      };
      reads += s.reads;
      fresh += s.fresh;
      stale += s.stale;
      failed += s.failed;
    }
    const iso = (times: Record<string, number>): Record<string, string> =>
      Object.fromEntries(Object.entries(times).map(([k, v]) => [k, new Date(v).toISOString()]));
    return {
      reads,
      fresh,
      stale,
      failed,
      byServer,
      failures: [...this.failures],
      failedByCode: { ...this.failedByCode },
      firstAt: iso(this.first),
      lastAt: iso(this.last),
      lastServer: this.lastAnswered?.server ?? null,
      buckets: {
        bucketMs: this.bucketMs,
        startedAt: this.start === undefined ? null : new Date(this.start).toISOString(),
        source: [...this.perBucket.source],
        target: [...this.perBucket.target],
        stale: [...this.perBucket.stale],
        failed: [...this.perBucket.failed],
      },
    };
  }
}
