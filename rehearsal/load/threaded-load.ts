import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FromWorker, LoadWorkerData, ToWorker } from './load-worker';
import { ReadTally, type ReadLoadStats } from './read-load';
import type { AckedWrite, WriteFailure, WriteLoadStats } from './write-load';

/** The endpoint the application reads, with change notifications (the memory traffic switch). */
export interface WatchedEndpoint {
  current(): Promise<string | undefined>;
  onChange(listener: (endpoint: string) => void): () => void;
}

export interface ThreadedWriteLoadOptions extends Omit<LoadWorkerData, 'endpoint' | 'readEndpoint'> {
  readonly endpoints: WatchedEndpoint;
  /** Where the reads go: a read switch of their own, or the same switch as the writes. */
  readonly readEndpoints: WatchedEndpoint;
}

/**
 * The application load (`WriteLoad` and its reads, `ReadLoad`) in a worker thread. Changes of the traffic switch
 * and of the read endpoint are forwarded to it at once; acknowledgements and read samples stream back every 50 ms
 * (the samples are folded into `reads`, a bounded summary). Same surface as `WriteLoad` for the rehearsal.
 */
export class ThreadedWriteLoad {
  readonly acks: AckedWrite[] = [];
  readonly failures: WriteFailure[] = [];
  /** The reads so far. */
  readonly reads = new ReadTally();
  private worker?: Worker;
  private latest: WriteLoadStats = { acknowledged: 0, retries: 0, failed: 0, retriedByCode: {}, blocked: 0 };
  private latestReads: ReadLoadStats = { retries: 0, retriedByCode: {}, blocked: 0 };
  private stopped?: Promise<void>;
  private unsubscribe: Array<() => void> = [];
  private exited = false;

  constructor(private readonly options: ThreadedWriteLoadOptions) {}

  /** Starts the worker; resolves once it is running and has an endpoint. */
  async start(): Promise<void> {
    const endpoint = await this.options.endpoints.current();
    if (!endpoint) throw new Error('the traffic switch has no endpoint');
    const readEndpoint = await this.options.readEndpoints.current();
    if (!readEndpoint) throw new Error('the read endpoint is not set');
    const { endpoints: _endpoints, readEndpoints: _readEndpoints, ...rest } = this.options;
    const data: LoadWorkerData = { ...rest, endpoint, readEndpoint };
    const worker = new Worker(bootstrap(), { eval: true, workerData: data });
    this.worker = worker;
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'acks' || message.type === 'stopped') {
        for (const a of message.acks) this.acks.push(a);
        for (const r of [...message.reads].sort((a, b) => a.at - b.at)) this.reads.add(r);
        this.latest = message.stats;
        this.latestReads = message.readStats;
      }
      if (message.type === 'stopped') this.failures.push(...message.failures);
      if (message.type === 'error')
        this.failures.push({ kind: 'event', at: Date.now(), server: '?', message: message.message });
    });
    worker.on('error', (error) => {
      this.failures.push({
        kind: 'event',
        at: Date.now(),
        server: '?',
        message: `load worker: ${error?.message ?? String(error)}`,
      });
    });
    worker.on('exit', () => {
      this.exited = true;
    });
    this.unsubscribe = [
      this.options.endpoints.onChange((e) => this.post({ type: 'endpoint', endpoint: e })),
      this.options.readEndpoints.onChange((e) => this.post({ type: 'read-endpoint', endpoint: e })),
    ];
  }

  get running(): boolean {
    return this.worker !== undefined && !this.exited && this.stopped === undefined;
  }

  stats(): WriteLoadStats {
    return {
      ...this.latest,
      acknowledged: this.acks.length,
      failed: Math.max(this.latest.failed, this.failures.length),
    };
  }

  /** Retried read attempts (the reads themselves are in `reads`). */
  readStats(): ReadLoadStats {
    return this.latestReads;
  }

  /** Stops the load, waits for writes in flight and the last acknowledgements. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      const worker = this.worker;
      for (const off of this.unsubscribe) off();
      if (!worker || this.exited) return resolve();
      const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 15_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.post({ type: 'stop' });
    });
    return this.stopped;
  }

  private post(message: ToWorker): void {
    if (this.worker && !this.exited) this.worker.postMessage(message);
  }
}

let bundled: string | undefined;

/**
 * Code the worker evaluates: `load-worker.js` next to this file when compiled; from the TypeScript sources
 * (ts-node, jest) a bundle made with esbuild (~0.1 s), or, without esbuild, ts-node's transpile-only hook (~2 s).
 */
function bootstrap(): string {
  if (!__filename.endsWith('.ts')) return `require(${JSON.stringify(join(__dirname, 'load-worker.js'))});`;
  const entry = join(__dirname, 'load-worker.ts');
  if (bundled === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const esbuild = require('esbuild') as typeof import('esbuild');
      const out = esbuild.buildSync({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        write: false,
        external: ['pg-native'],
        logLevel: 'silent',
      });
      bundled = out.outputFiles[0].text;
    } catch {
      bundled = '';
    }
  }
  if (bundled) return bundled;
  return `require('ts-node').register({ transpileOnly: true });\nrequire(${JSON.stringify(entry)});`;
}
