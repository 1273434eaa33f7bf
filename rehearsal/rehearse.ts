import './local/polyfills';
import { randomBytes } from 'node:crypto';
import { closeSharedPools } from '../lambda/engine/cutover/connections';
import type { CutoverInput, StepEvent } from '../contract';
import { redactUrl } from '../lambda/engine/pg/connection';
import type { MigrationRecord, ReplicationPort, TrafficSwitch } from '../lambda/engine/ports';
import { sleep } from '../lambda/engine/validation/concurrency';
import type { CutoverRunResult, CutoverStateEvent } from './local/run-state-machine';
import {
  createCutoverDeps,
  createStepHandlerFor,
  createTrafficSwitch,
  loadCutoverRunner,
  setUpReplication,
  stateKey,
  type ReplicationHandle,
} from './adapters';
import { buildReport, printSummary } from './build-report';
import {
  createDemoSchema,
  DEMO_SELECTION,
  ensureAppRole,
  loadDemoData,
  prepareDemoSchemas,
  type DemoRowCounts,
} from './demo-schema';
import { phaseTimes } from './freeze';
import {htmlReportPath, type RehearsalOptions } from './options';
import { UsageError } from '../cli/command-line';
import { inspectOutcome, validationOutcome, verifyOnTarget } from './outcome';
import { formatMs, Progress, type RehearsalIO } from './progress';
import { writeHtmlReport } from './report-html';
import { writeJsonReport, type RehearsalReport } from './report-json';
import { SCENARIO_PLANS, type Actual } from './scenarios';
import { Cleanups, replicationName, startServers, withAdmin, type Servers } from './servers';
import { ThreadedWriteLoad } from './threaded-load';
import { verifyAcknowledgedWrites, type VerificationResult } from './verify';
import { nowMs, type WriteLoadStats } from './write-load';

export { replicationName };

export interface RunRehearsalExtras {
  /** Aborts the rehearsal (Ctrl-C): everything started is cleaned up, then `runRehearsal` rejects. */
  readonly signal?: AbortSignal;
}

/** The endpoint the application reads from the traffic switch: the server's address without credentials. */
export function endpointOf(url: string): string {
  const u = new URL(url);
  return `postgres://${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

/**
 * Runs one rehearsal: servers, demo schema and data, native logical replication, a write load as the application
 * role, the real cutover state machine (one or two executions), then proves every acknowledged write is on the
 * target and measures the write freeze. Writes the JSON and HTML reports and returns the report.
 */
export async function runRehearsal(
  options: RehearsalOptions,
  io: RehearsalIO,
  extras: RunRehearsalExtras = {},
): Promise<RehearsalReport> {
  const startedAt = Date.now();
  const progress = new Progress(io, options.quiet);
  const plan = SCENARIO_PLANS[options.scenario];
  const cleanups = new Cleanups((line) => progress.log(line));
  const notices: string[] = [];
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(extras.signal?.reason);
  extras.signal?.addEventListener('abort', onAbort, { once: true });
  if (extras.signal?.aborted) abort.abort(extras.signal.reason);
  const aborted = new Promise<never>((_, reject) => {
    abort.signal.addEventListener('abort', () => reject(new Error('rehearsal interrupted')), { once: true });
  });
  aborted.catch(() => undefined);
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
  // After Ctrl-C no new phase starts, so the work settles soon and nothing is created after the clean-up.
  const phase = <T>(name: string, fn: () => Promise<T>, describe?: (result: T) => string | undefined): Promise<T> => {
    if (abort.signal.aborted) return Promise.reject(new Error('rehearsal interrupted'));
    return progress.phase(name, fn, describe);
  };

  let load: ThreadedWriteLoad | undefined;
  let servers: Servers | undefined;
  let failure: Error | undefined;
  let report: RehearsalReport | undefined;
  const state: {
    rows?: DemoRowCounts;
    traffic?: TrafficSwitch;
    replication?: ReplicationHandle;
    runs: Array<CutoverRunResult & { startedAt: number }>;
    record?: MigrationRecord;
    actual: Actual;
    verification: VerificationResult[];
    validation?: RehearsalReport['validation'];
    replicationName?: string;
    input?: CutoverInput;
  } = { runs: [], actual: {}, verification: [] };

  progress.log(
    `rehearsal "${plan.name}" (${options.mode}): ${plan.description}; ${options.rows} rows, ${options.rate} writes/s`,
  );
  // The CDK synth of the state machine takes a few seconds: start it now, in parallel with the servers.
  const runnerPromise = loadCutoverRunner();
  runnerPromise.catch(() => undefined);

  const work = (async () => {
    servers = await phase(
      options.sourceUrl ? 'connect to servers' : 'start servers',
      () => startServers(options, cleanups, progress),
      (s) => `source ${redactUrl(s.sourceUrl)}, target ${redactUrl(s.targetUrl)}`,
    );
    const { sourceUrl, targetUrl } = servers;
    const sourceEndpoint = endpointOf(sourceUrl);
    const targetEndpoint = endpointOf(targetUrl);
    const appPassword = `rehearsal-${randomBytes(12).toString('hex')}`;
    const replName = replicationName(sourceUrl);
    state.replicationName = replName;

    await phase('create demo schema', async () => {
      // A previous rehearsal against these servers may have left its replication behind.
      await setUpReplication.teardown({ sourceUrl, targetUrl, name: replName }).catch(() => undefined);
      for (const [where, url] of [
        ['source', sourceUrl],
        ['target', targetUrl],
      ] as const) {
        await withAdmin(url, async (c) => {
          await prepareDemoSchemas(c, `the ${where} database`);
          await createDemoSchema(c);
          await ensureAppRole(c, options.appRole, appPassword);
        });
      }
    });
    state.rows = await phase(
      'load demo data',
      () => withAdmin(sourceUrl, (c) => loadDemoData(c, options.rows)),
      (n) =>
        Object.entries(n)
          .map(([t, v]) => `${t} ${v}`)
          .join(', '),
    );

    const traffic = createTrafficSwitch(sourceEndpoint);
    state.traffic = traffic;
    // The application runs in its own thread, like an application in its own process: nothing the
    // rehearsal does on this thread can stall it and pass for a write freeze.
    load = new ThreadedWriteLoad({
      rate: options.rate,
      concurrency: options.concurrency,
      role: options.appRole,
      password: appPassword,
      endpoints: traffic,
      labels: { [sourceEndpoint]: 'source', [targetEndpoint]: 'target' },
      customerIds: state.rows['app.customers'],
    });
    const activeLoad = load;
    await phase(
      'start write load',
      async () => {
        await activeLoad.start();
        // Let it reach the source before replication starts: the copy runs under load.
        const deadline = Date.now() + 20_000;
        while (activeLoad.acks.length === 0 && activeLoad.failures.length === 0) {
          if (Date.now() > deadline) {
            throw new Error(
              `the application load could not commit a write in 20 s (retried: ${JSON.stringify(activeLoad.stats().retriedByCode)})`,
            );
          }
          await sleep(5);
        }
        if (activeLoad.failures.length > 0) {
          throw new Error(`the application load cannot write: ${activeLoad.failures[0].message}`);
        }
      },
      () => `${options.concurrency} connections as ${options.appRole}, ${options.rate} writes/s`,
    );
    const stopTicker = startLoadTicker(progress, activeLoad, traffic, sourceEndpoint);
    cleanups.push({ name: 'stop load ticker', run: async () => stopTicker() });

    const replication = await phase(
      'set up native logical replication',
      () => setUpReplication.start({ sourceUrl, targetUrl, name: replName, tables: DEMO_SELECTION }),
      (r) => r.port.description,
    );
    state.replication = replication;
    cleanups.push({ name: 'close replication connections', run: () => replication.close() });
    if (servers.kind === 'external' && !options.keepReplication) {
      cleanups.push({
        name: 'remove replication',
        run: () => setUpReplication.teardown({ sourceUrl, targetUrl, name: replName }),
      });
    }
    await phase(
      'initial copy',
      () => waitForInitialCopy(replication.port, abort.signal),
      (s) => s,
    );
    if (options.warmupSeconds > 0) {
      await phase(`load before cutover (${options.warmupSeconds}s)`, () => sleep(options.warmupSeconds * 1000));
    }

    // ---- the cutover: the real state machine, the real step handler ------------------------------------
    const runner = await phase('synthesize cutover state machine', () => runnerPromise);
    const { deps, state: store } = createCutoverDeps({
      sourceUrl,
      targetUrl,
      tables: DEMO_SELECTION,
      replication: plan.wrapReplication(replication.port),
      traffic,
      onNotice: (subject) => {
        notices.push(subject);
      },
    });
    cleanups.push({ name: 'close cutover connections', run: () => closeSharedPools(deps) });
    const input = {
      migrationId: options.migrationId,
      mode: options.mode,
      applicationRoles: [options.appRole],
      switchTrafficTo: targetEndpoint,
      lagThresholdSeconds: options.lagThresholdSeconds,
      consecutiveChecks: options.consecutiveChecks,
      syncTimeoutSeconds: options.syncTimeoutSeconds,
      finalSyncTimeoutSeconds: options.finalSyncTimeoutSeconds,
      requireApproval: false,
    };
    for (let i = 0; i < plan.executions; i++) {
      const label = plan.executions > 1 ? `cutover execution ${i + 1}/${plan.executions}` : 'cutover';
      const execStarted = Date.now();
      const stepHandler = plan.wrapStepHandler(
        createStepHandlerFor(deps, (validated) => (state.input = validated)),
        i,
      );
      const run = await phase(
        label,
        () =>
          runner.runCutover({
            definition: runner.definition,
            stepHandler: stepHandler as (event: StepEvent) => Promise<unknown>,
            input,
            waitTimeOverrideMs: options.pollMs,
            onStateEvent: stateEventLogger(progress),
            signal: abort.signal,
          }),
        (r) => `${r.status}${r.error ? ` ${r.error}` : ''}${r.lastState ? ` (last state ${r.lastState})` : ''}`,
      );
      state.runs.push({ ...run, startedAt: execStarted });
      if (run.status === 'FAILED') progress.log(`  execution failed: ${run.error}: ${(run.cause ?? '').slice(0, 300)}`);
    }
    // Dry runs keep their own record per execution (keyed with its start time): read the last one.
    state.record = await store.get(state.input ? stateKey(state.input) : options.migrationId);
    for (const p of phaseTimes(state.record)) {
      progress.log(
        `  phase ${p.name.padEnd(16)} ${p.status.padEnd(9)} ${p.durationMs === undefined ? '' : formatMs(p.durationMs)}`,
      );
    }

    await phase(`load after cutover (${options.afterSeconds}s)`, () => sleep(options.afterSeconds * 1000));
    await phase(
      'stop write load',
      () => activeLoad.stop(),
      () => `${activeLoad.acks.length} writes acknowledged`,
    );
    stopTicker();

    // ---- what happened --------------------------------------------------------------------------------
    state.actual = await phase('inspect outcome', () =>
      inspectOutcome({
        options,
        sourceUrl,
        appPassword,
        traffic,
        targetEndpoint,
        replication: replication.port,
        state,
      }),
    );
    const switched = state.actual.trafficSwitched === true;
    state.verification = await phase(
      'verify acknowledged writes',
      async () => {
        const results: VerificationResult[] = [];
        if (!switched) {
          // The application stayed on the source: every write must be there ...
          results.push(await withAdmin(sourceUrl, (c) => verifyAcknowledgedWrites(c, activeLoad.acks, 'source')));
        }
        // ... and on the target (replication still running: give it a moment to apply the last writes).
        results.push(await verifyOnTarget(targetUrl, activeLoad.acks, !switched));
        return results;
      },
      (r) => r.map((v) => `${v.database}: ${v.found}/${v.checked} found, ${v.lost} lost`).join('; '),
    );
    state.validation = await phase(
      'validation',
      () => validationOutcome(state.record, sourceUrl, targetUrl, switched),
      (v) => `${v.ok ? 'match' : 'MISMATCH'} (${v.by})`,
    );
  })();
  work.catch(() => undefined);

  try {
    await guard(work);
  } catch (error) {
    failure = error as Error;
  } finally {
    // Interrupted: let the phase in progress settle (bounded) so that what it creates is cleaned up too.
    if (abort.signal.aborted) {
      await Promise.race([work.catch(() => undefined), new Promise((r) => setTimeout(r, 20_000).unref())]);
    }
    if (load?.running) await load.stop().catch(() => undefined);
    const finishedAt = Date.now();
    try {
      report = buildReport({
        options,
        plan,
        startedAt,
        finishedAt,
        servers,
        state,
        load,
        phases: progress.phases,
        notices,
        failure,
      });
      writeJsonReport(options.reportPath, report);
      writeHtmlReport(htmlReportPath(options.reportPath), report);
    } catch (error) {
      failure ??= error as Error;
    }
    await cleanups.runAll();
    extras.signal?.removeEventListener('abort', onAbort);
  }
  if (abort.signal.aborted) throw failure ?? new Error('rehearsal interrupted');
  if (failure instanceof UsageError) throw failure;
  if (!report) throw failure ?? new Error('rehearsal produced no report');
  printSummary(io, report, options, servers);
  return report;
}

// ------------------------------------------------------------------------------------------------ replication

async function waitForInitialCopy(port: ReplicationPort, signal: AbortSignal, timeoutMs = 600_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal.aborted) throw new Error('rehearsal interrupted');
    const status = await port.status();
    if (status.state === 'failed') throw new Error(`replication failed: ${status.detail ?? ''}`);
    if (status.fullLoadComplete) {
      return `all tables copied; lag ${status.lagSeconds === null ? 'unknown' : `${status.lagSeconds.toFixed(2)}s`}`;
    }
    if (Date.now() > deadline)
      throw new Error(`initial copy not finished after ${timeoutMs / 1000}s: ${status.detail ?? ''}`);
    await sleep(100);
  }
}

// ------------------------------------------------------------------------------------------------ progress

function startLoadTicker(
  progress: Progress,
  load: { stats(): WriteLoadStats },
  traffic: TrafficSwitch,
  sourceEndpoint: string,
): () => void {
  let lastCount = 0;
  let lastTime = nowMs();
  let lastRetries = 0;
  let where = 'source';
  const stop = progress.ticker(1000, () => {
    void traffic.current().then((e) => (where = e === sourceEndpoint ? 'source' : 'target'));
    const stats = load.stats();
    const t = nowMs();
    const rate = ((stats.acknowledged - lastCount) * 1000) / (t - lastTime);
    const retries = stats.retries - lastRetries;
    lastCount = stats.acknowledged;
    lastTime = t;
    lastRetries = stats.retries;
    return `  load: ${rate.toFixed(0)} writes/s on ${where}, ${stats.acknowledged} acknowledged${
      retries ? `, ${retries} retried` : ''
    }${stats.blocked ? `, ${stats.blocked} connection(s) waiting` : ''}${stats.failed ? `, ${stats.failed} failed` : ''}`;
  });
  return stop;
}

const QUIET_STATES = new Set(['CheckLag', 'PreValidateRange', 'PostValidateRange']);

function stateEventLogger(progress: Progress): (event: CutoverStateEvent) => void {
  const entered = new Map<string, number>();
  let lagChecks = 0;
  return (event) => {
    if (!event.step || event.index !== undefined) return;
    if (event.state === 'CheckLag') {
      if (event.type === 'StateEntered' && lagChecks++ === 0)
        progress.log('  → CheckLag (waiting for replication lag to settle)');
      return;
    }
    if (QUIET_STATES.has(event.state)) return;
    if (event.type === 'StateEntered') {
      entered.set(event.state, event.timestamp);
      progress.log(`  → ${event.state}`);
    } else if (event.type === 'StateExited') {
      const t = entered.get(event.state);
      progress.log(`  ✔ ${event.state}${t === undefined ? '' : ` (${formatMs(event.timestamp - t)})`}`);
    } else if (event.type === 'StateFailed') {
      progress.log(`  ✘ ${event.state}: ${event.error ?? ''} ${(event.cause ?? '').slice(0, 200)}`);
    }
  };
}
