/**
 * Worker-thread entry of the application load: the load runs on its own event loop, like an application in its
 * own process, so nothing the rehearsal does on the main thread (the state machine runner, CDK synth, report
 * building) can stall it and show up as a fake write freeze. The application's reads (ReadLoad) run here too, on
 * connections of their own, following their own endpoint.
 *
 * Protocol: workerData = LoadWorkerData; main → worker: `{ type: 'endpoint', endpoint }` (the traffic switch
 * changed), `{ type: 'read-endpoint', endpoint }` (the read endpoint changed), `{ type: 'stop' }`; worker → main:
 * `{ type: 'acks', acks, reads, stats, readStats }` batches every 50 ms, then `{ type: 'stopped', ... }` with the
 * last of them and the write failures.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ReadLoad, type ReadLoadStats, type ReadSample } from './read-load';
import { WriteLoad, type AckedWrite, type WriteFailure, type WriteLoadStats, type Workload } from './write-load';

export interface LoadWorkerData {
  readonly workload: Workload;
  readonly rate: number;
  readonly concurrency: number;
  readonly role: string;
  readonly password?: string;
  readonly customerIds?: number;
  readonly endpoint: string;
  /** Reads per second (0: none), on `readConnections` connections of their own, to `readEndpoint`. */
  readonly readRate: number;
  readonly readConnections: number;
  readonly readEndpoint: string;
  /** endpoint → label (`source`, `target`). */
  readonly labels: Record<string, string>;
}

export type ToWorker =
  { type: 'endpoint'; endpoint: string } | { type: 'read-endpoint'; endpoint: string } | { type: 'stop' };
export type FromWorker =
  | { type: 'acks'; acks: AckedWrite[]; reads: ReadSample[]; stats: WriteLoadStats; readStats: ReadLoadStats }
  | {
      type: 'stopped';
      acks: AckedWrite[];
      reads: ReadSample[];
      failures: WriteFailure[];
      stats: WriteLoadStats;
      readStats: ReadLoadStats;
    }
  | { type: 'error'; message: string };

function run(): void {
  const port = parentPort;
  if (!port) return;
  const data = workerData as LoadWorkerData;
  let endpoint = data.endpoint;
  let readEndpoint = data.readEndpoint;
  const label = (e: string): string => data.labels[e] ?? e;
  const load = new WriteLoad({
    workload: data.workload,
    rate: data.rate,
    concurrency: data.concurrency,
    role: data.role,
    ...(data.password !== undefined ? { password: data.password } : {}),
    ...(data.customerIds !== undefined ? { customerIds: data.customerIds } : {}),
    endpoints: { current: async () => endpoint },
    label,
  });
  const reads = new ReadLoad({
    rate: data.readRate,
    connections: data.readConnections,
    role: data.role,
    ...(data.password !== undefined ? { password: data.password } : {}),
    endpoints: { current: async () => readEndpoint },
    label,
    latest: () => load.latestAck(),
    applicationName: `rehearsal-${data.workload}-reads`,
  });
  let sent = 0;
  const flush = (): AckedWrite[] => {
    const batch = load.acks.slice(sent);
    sent = load.acks.length;
    return batch;
  };
  const timer = setInterval(() => {
    const acks = flush();
    port.postMessage({
      type: 'acks',
      acks,
      reads: reads.drain(),
      stats: load.stats(),
      readStats: reads.stats(),
    } satisfies FromWorker);
  }, 50);
  port.on('message', (message: ToWorker) => {
    if (message.type === 'endpoint') {
      endpoint = message.endpoint;
    } else if (message.type === 'read-endpoint') {
      readEndpoint = message.endpoint;
    } else if (message.type === 'stop') {
      clearInterval(timer);
      Promise.all([load.stop(), reads.stop()]).then(
        () => {
          port.postMessage({
            type: 'stopped',
            acks: flush(),
            reads: reads.drain(),
            failures: load.failures,
            stats: load.stats(),
            readStats: reads.stats(),
          } satisfies FromWorker);
          port.close();
        },
        (error: Error) => port.postMessage({ type: 'error', message: error.message } satisfies FromWorker),
      );
    }
  });
  load.start();
  reads.start();
}

run();
