/**
 * Part 4 of a rehearsal: the writes that run through the cutover. The rehearsal's own writer — the demo shop's
 * mix, or the probe (one row per write in zdm_cutover.rehearsal_probe) with the user's tables — runs in a worker
 * thread as the application (or probe) role and follows the traffic switch; its acknowledged writes prove that
 * nothing was lost and measure the freeze. Beside the writes the application reads (`--read-rate`, on connections
 * of its own): each read looks up the latest acknowledged write on the server the read endpoint names — the read
 * switch in read-first, the write endpoint otherwise. The user's `--load` command runs beside it against the source.
 */
import { type MemoryTrafficSwitch, sleep } from '../../lambda/engine';
import { LoadCommand } from './load-command';
import type { RehearsalRoles } from '../roles/rehearsal-roles';
import type { RehearsedTables } from '../tables/rehearsed-tables';
import type { RehearsalContext } from '../run-context';
import type { Servers } from '../servers/setup-servers';
import { ThreadedWriteLoad } from './threaded-load';
import { READ_CONNECTIONS, type ReadTally } from './read-load';
import { nowMs, type AckedWrite, type WriteLoadStats } from './write-load';

export interface Loads {
  readonly writer: ThreadedWriteLoad;
  readonly command?: LoadCommand;
  /** Stops the once-a-second load line. */
  stopTicker(): void;
}

/** The endpoint the application reads from the traffic switch: the server's address without credentials. */
export function endpointOf(url: string): string {
  const u = new URL(url);
  return `postgres://${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

export async function startLoads(
  ctx: RehearsalContext,
  servers: Servers,
  tables: RehearsedTables,
  roles: RehearsalRoles,
  traffic: MemoryTrafficSwitch,
  /** The reads' own switch (read-first); otherwise the reads follow `traffic`. */
  readTraffic?: MemoryTrafficSwitch,
): Promise<Loads> {
  const { options } = ctx;
  const sourceEndpoint = endpointOf(servers.sourceUrl);
  const writer = new ThreadedWriteLoad({
    workload: tables.kind === 'demo' ? 'demo' : 'probe',
    rate: options.rate,
    concurrency: options.concurrency,
    role: roles.writer.name,
    ...(roles.writer.password !== undefined ? { password: roles.writer.password } : {}),
    endpoints: traffic,
    readEndpoints: readTraffic ?? traffic,
    readRate: options.readRate,
    readConnections: READ_CONNECTIONS,
    labels: { [sourceEndpoint]: 'source', [endpointOf(servers.targetUrl)]: 'target' },
    ...(tables.kind === 'demo' ? { customerIds: tables.rows['app.customers'] } : {}),
  });
  ctx.ledger.push({ name: 'stop the rehearsal writer', run: () => writer.stop() });
  await writer.start();
  // Let it reach the source before replication starts: the copy runs under load.
  const deadline = Date.now() + 20_000;
  while (writer.acks.length === 0 && writer.failures.length === 0) {
    ctx.stop.check();
    if (Date.now() > deadline) {
      throw new Error(
        `the ${tables.kind === 'demo' ? 'application load' : 'probe writer'} could not commit a write in 20 s ` +
          `(retried: ${JSON.stringify(writer.stats().retriedByCode)})`,
      );
    }
    await sleep(5);
  }
  if (writer.failures.length > 0) throw new Error(`the rehearsal writer cannot write: ${writer.failures[0].message}`);

  let command: LoadCommand | undefined;
  if (options.load !== undefined) {
    const role = roles.app;
    if (!role) throw new Error('internal: --load without an application role');
    command = new LoadCommand({
      command: options.load,
      sourceUrl: servers.sourceUrl,
      role: role.name,
      ...(role.password !== undefined ? { password: role.password } : {}),
      onLine: (line) => ctx.progress.log(`  load │ ${line}`),
    });
    ctx.ledger.push({ name: 'stop the --load command', run: () => command!.stop() });
    command.start();
  }
  const stopTicker = startLoadTicker(ctx, writer, traffic, sourceEndpoint);
  ctx.ledger.push({ name: 'stop the load ticker', run: async () => stopTicker() });
  return { writer, ...(command ? { command } : {}), stopTicker };
}

/**
 * Writes per second by the acknowledgements' own clocks, over the second that ended `settleMs` ago (time for the
 * worker thread's messages to arrive). Counting what arrived since the last tick instead shows the arrival's bursts
 * (the messages wait while this thread is busy, e.g. synthesizing), not the rate the server saw; a freeze shows as
 * 0/s. Scans back from the end only.
 */
export function writeRate(acks: readonly AckedWrite[], now = nowMs(), windowMs = 1000, settleMs = 250): number {
  const end = now - settleMs;
  let n = 0;
  for (let i = acks.length - 1; i >= 0 && acks[i].at > end - windowMs; i--) if (acks[i].at <= end) n++;
  return (n * 1000) / windowMs;
}

function startLoadTicker(
  ctx: RehearsalContext,
  load: { stats(): WriteLoadStats; readonly reads: ReadTally; readonly acks: readonly AckedWrite[] },
  traffic: MemoryTrafficSwitch,
  sourceEndpoint: string,
): () => void {
  let lastRetries = 0;
  let lastTick = nowMs();
  let lastStale = 0;
  let where = 'source';
  // Where the reads went in the second that ended 250 ms ago, and how many, by the reads' own clocks (as writes).
  const reads = (end: number): string => {
    if (ctx.options.readRate <= 0) return '';
    const answered = Object.entries(load.reads.answeredRate(end - 250));
    const stale = load.reads.stale();
    const total = answered.reduce((sum, [, n]) => sum + n, 0);
    const s = stale - lastStale;
    lastStale = stale;
    const on =
      answered.length === 1
        ? `on ${answered[0][0]}`
        : answered.map(([server, n]) => `${server} ${n.toFixed(0)}/s`).join(', ');
    return `; reads: ${total.toFixed(0)}/s${on ? ` ${answered.length === 1 ? on : `(${on})`}` : ''}${s ? `, ${s} stale` : ''}`;
  };
  return ctx.progress.ticker(1000, () => {
    void traffic.current().then((e) => (where = e === sourceEndpoint ? 'source' : 'target'));
    const stats = load.stats();
    const t = nowMs();
    // A tick that comes late (this thread was busy) may run before the acknowledgements queued meanwhile arrive:
    // the rate is then the last second that did arrive, never a 0/s the server did not see.
    const newest = load.acks[load.acks.length - 1]?.at;
    const late = t - lastTick > 1500 && newest !== undefined;
    lastTick = t;
    const end = late ? Math.min(t, newest + 250) : t;
    const rate = writeRate(load.acks, end);
    const retries = stats.retries - lastRetries;
    lastRetries = stats.retries;
    return `  writes: ${rate.toFixed(0)}/s on ${where}, ${stats.acknowledged} acknowledged${
      retries ? `, ${retries} retried` : ''
    }${stats.blocked ? `, ${stats.blocked} connection(s) waiting` : ''}${stats.failed ? `, ${stats.failed} failed` : ''}${reads(end)}`;
  });
}
