/**
 * Worker-thread entry of the application load: the load runs on its own event loop, like an application in its
 * own process, so nothing the rehearsal does on the main thread (the state machine runner, CDK synth, report
 * building) can stall it and show up as a fake write freeze.
 *
 * Protocol: workerData = LoadWorkerData; main → worker: `{ type: 'endpoint', endpoint }` (the traffic switch
 * changed), `{ type: 'stop' }`; worker → main: `{ type: 'acks', acks, stats }` batches every 50 ms, then
 * `{ type: 'stopped', acks, failures, stats }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WriteLoad, type AckedWrite, type WriteFailure, type WriteLoadStats, type Workload } from './write-load';

export interface LoadWorkerData {
  readonly workload: Workload;
  readonly rate: number;
  readonly concurrency: number;
  readonly role: string;
  readonly password?: string;
  readonly customerIds?: number;
  readonly endpoint: string;
  /** endpoint → label (`source`, `target`). */
  readonly labels: Record<string, string>;
}

export type ToWorker = { type: 'endpoint'; endpoint: string } | { type: 'stop' };
export type FromWorker =
  | { type: 'acks'; acks: AckedWrite[]; stats: WriteLoadStats }
  | { type: 'stopped'; acks: AckedWrite[]; failures: WriteFailure[]; stats: WriteLoadStats }
  | { type: 'error'; message: string };

function run(): void {
  const port = parentPort;
  if (!port) return;
  const data = workerData as LoadWorkerData;
  let endpoint = data.endpoint;
  const load = new WriteLoad({
    workload: data.workload,
    rate: data.rate,
    concurrency: data.concurrency,
    role: data.role,
    ...(data.password !== undefined ? { password: data.password } : {}),
    ...(data.customerIds !== undefined ? { customerIds: data.customerIds } : {}),
    endpoints: { current: async () => endpoint },
    label: (e) => data.labels[e] ?? e,
  });
  let sent = 0;
  const flush = (): AckedWrite[] => {
    const batch = load.acks.slice(sent);
    sent = load.acks.length;
    return batch;
  };
  const timer = setInterval(() => {
    const acks = flush();
    port.postMessage({ type: 'acks', acks, stats: load.stats() } satisfies FromWorker);
  }, 50);
  port.on('message', (message: ToWorker) => {
    if (message.type === 'endpoint') {
      endpoint = message.endpoint;
    } else if (message.type === 'stop') {
      clearInterval(timer);
      load.stop().then(
        () => {
          port.postMessage({
            type: 'stopped',
            acks: flush(),
            failures: load.failures,
            stats: load.stats(),
          } satisfies FromWorker);
          port.close();
        },
        (error: Error) => port.postMessage({ type: 'error', message: error.message } satisfies FromWorker),
      );
    }
  });
  load.start();
}

run();
