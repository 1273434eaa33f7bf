/**
 * One rehearsal, in its parts (each in its own file; folders by concern: servers/, tables/, roles/, load/,
 * scenarios/, report/, local/ for the local stand-ins of AWS):
 *   1. servers/setup-servers         start embedded servers, or check the user's
 *   2. tables/rehearsed-tables       the demo schema, or the user's tables (schema diff, empty target)
 *      servers/check-leftovers       what an earlier run left: its own is removed, anything else refuses
 *   3. roles/rehearsal-roles         application, probe and replication roles
 *   4. load/start-load               the rehearsal's writer (demo load or probe) and the user's --load
 *   5. servers/setup-replication     slot, publication, subscription; the initial copy (fails fast)
 *   6. run-cutover                   the real state machine and step handler, one or two executions (the fallback
 *                                    scenarios: the cutover with the way back, the application on the target, the
 *                                    fallback machine)
 *   7. scenarios/outcome             the outcome, every acknowledged write looked up, the validation
 *   8. finish-rehearsal              the freeze ends, everything created is removed, the servers are read back
 * then the report (report/build-report, report/report-json, report/report-html). Nothing is changed on the user's
 * servers until every check of parts 1-3 passed.
 */
import './local/polyfills';
import { UsageError } from '../cli/command-line';
import { createTrafficSwitch, loadCutoverRunner, type CutoverRunner } from './adapters';
import { buildReport, printSummary } from './report/build-report';
import { CleanupLedger } from './cleanup-ledger';
import { findLeftovers, hasOwnCopy, refuseForeignLeftovers, removeLeftovers } from './servers/check-leftovers';
import { finishRehearsal, type EndOfRun } from './finish-rehearsal';
import { htmlReportPath, type RehearsalOptions } from './options';
import { inspectOutcome, validationOutcome, verifyWrites } from './scenarios/outcome';
import { Progress, redactingIO, type RehearsalIO } from './progress';
import { createRoles, planRoles, type RehearsalRoles } from './roles/rehearsal-roles';
import { checkRehearsedTables, createDemoTables, type RehearsedTables } from './tables/rehearsed-tables';
import { writeHtmlReport } from './report/report-html';
import { writeJsonReport, type RehearsalReport } from './report/report-json';
import { InterruptedError, RunStop, type RehearsalContext } from './run-context';
import { createCutoverSession, runExecutions, type CutoverSession } from './run-cutover';
import { SCENARIO_PLANS, type Actual } from './scenarios/scenarios';
import { Secrets } from './roles/secrets';
import {
  describeTables,
  startReplication,
  waitForInitialCopy,
  type ReplicationHandle,
} from './servers/setup-replication';
import { setupServers, type Servers } from './servers/setup-servers';
import { endpointOf, startLoads, type Loads } from './load/start-load';
import { createWorkflowObjects } from './servers/workflow-objects';
import {
  type MemoryTrafficSwitch,
  type MigrationRecord,
  readSwitchKey,
  type ReadSwitchRecord,
  sleep,
} from '../lambda/engine';
import type { VerificationResult } from './scenarios/verify';
import { nowMs } from './load/write-load';
import { namesWrite } from './scenarios/old-source-write';

export { replicationName } from './names';
export { endpointOf };

export interface RunRehearsalExtras {
  /**
   * Stops the rehearsal (Ctrl-C, SIGTERM; abort with a StopReason): the freeze is ended, everything it created is
   * removed, and `runRehearsal` resolves with a report that says so (`interrupted`).
   */
  readonly signal?: AbortSignal;
}

/** What the parts found out, for the end of the run and the report. */
interface Facts {
  servers?: Servers;
  mark: number;
  tables?: RehearsedTables;
  roles?: RehearsalRoles;
  loads?: Loads;
  replication?: ReplicationHandle;
  session?: CutoverSession;
  record?: MigrationRecord;
  writerStoppedAt?: number;
  actual: Actual;
  verification: VerificationResult[];
  validation?: RehearsalReport['validation'];
  /** Every change of the write endpoint and of the read endpoint (read-first), as the application saw it. */
  switches: SwitchEvents;
  readSwitch?: ReadSwitchRecord;
}

/** The application's endpoints: the writes' (the traffic switch) and the reads' own (read-first only). */
interface Endpoints {
  readonly traffic: MemoryTrafficSwitch;
  readonly readTraffic?: MemoryTrafficSwitch;
}

export interface SwitchEvents {
  readonly writes: Array<{ readonly at: number; readonly to: string }>;
  /** Undefined: the reads have no switch of their own (they follow the writes). */
  readonly reads?: Array<{ readonly at: number; readonly to: string }>;
}

function createContext(options: RehearsalOptions, io: RehearsalIO, signal?: AbortSignal): RehearsalContext {
  const secrets = new Secrets();
  const startedAt = Date.now();
  const progress = new Progress(
    redactingIO(io, (t) => secrets.redact(t)),
    options.quiet,
    startedAt,
  );
  const stop = new RunStop(signal);
  return {
    options,
    progress,
    secrets,
    ledger: new CleanupLedger((line) => progress.log(line)),
    stop,
    startedAt,
    notices: [],
    phase: (name, fn, describe, failed) => {
      if (stop.isStopped) return Promise.reject(new InterruptedError(stop.reason!));
      return progress.phase(name, () => stop.race(fn()), describe, failed);
    },
  };
}

/** Parts 1-3: the checks (nothing changed on the user's servers until they all pass), then the objects. */
async function prepare(ctx: RehearsalContext, facts: Facts): Promise<void> {
  const { options } = ctx;
  const servers = (facts.servers = await ctx.phase(
    options.sourceUrl ? 'check servers' : 'start servers',
    () => setupServers(ctx),
    (s) =>
      `source ${ctx.secrets.redact(s.sourceUrl)}, target ${ctx.secrets.redact(s.targetUrl)}${s.sameServer ? ' (one server)' : ''}` +
      (s.majors ? `; PostgreSQL ${s.majors.source} → ${s.majors.target}` : ''),
  ));
  facts.mark = ctx.ledger.size;
  const checked = await ctx.phase(
    'check what to rehearse',
    async () => {
      const roles = await planRoles(ctx, servers);
      const leftovers = servers.kind === 'external' ? await findLeftovers(ctx, servers, roles.app?.name) : undefined;
      if (leftovers) refuseForeignLeftovers(leftovers);
      const tables = await checkRehearsedTables(ctx, servers, hasOwnCopy(leftovers));
      return { roles, leftovers, tables };
    },
    (c) => (c.tables.kind === 'demo' ? 'demo schema' : describeTables(c.tables)),
  );
  facts.tables = checked.tables;
  if (checked.leftovers?.own.length) {
    await ctx.phase('remove what an earlier rehearsal left', () =>
      removeLeftovers(ctx, servers, checked.leftovers!, checked.tables.leftoverCopy),
    );
  }
  await ctx.phase('create the workflow schema and probe table', () => createWorkflowObjects(ctx, servers));
  if (checked.tables.kind === 'demo') {
    facts.tables = await ctx.phase(
      'create demo schema and load demo data',
      () => createDemoTables(ctx, servers, checked.tables),
      (t) => describeTables(t),
    );
  }
  const tables = facts.tables;
  facts.roles = await ctx.phase(
    'create rehearsal roles',
    () => createRoles(ctx, servers, checked.roles, tables, () => ctx.options.keepFrozen),
    (r) =>
      `freeze acts on ${r.frozen.join(', ')}; writer ${r.writer.name}; replication logs in as ${r.replication.name}`,
  );
}

/** Parts 4-5: the writes start, replication copies the tables under them. */
async function replicate(ctx: RehearsalContext, facts: Facts, endpoints: Endpoints): Promise<void> {
  const { options } = ctx;
  const [servers, tables, roles] = [facts.servers!, facts.tables!, facts.roles!];
  const loads = (facts.loads = await ctx.phase(
    'start write load',
    () => startLoads(ctx, servers, tables, roles, endpoints.traffic, endpoints.readTraffic),
    (l) =>
      `${options.concurrency} connections as ${roles.writer.name}, ${options.rate} writes/s${
        options.readRate > 0
          ? `; reads ${options.readRate}/s following ${endpoints.readTraffic ? 'their own read endpoint' : 'the writes'}`
          : ''
      }${l.command ? '; your --load started' : ''}`,
  ));
  const replication = (facts.replication = await ctx.phase(
    'set up native logical replication',
    () => startReplication(ctx, servers, tables, roles),
    (r) => r.port.description,
  ));
  await ctx.phase(
    'initial copy',
    () =>
      waitForInitialCopy(replication.port, servers.targetUrl, replication.name, {
        signal: ctx.stop.signal,
        timeoutMs: options.copyTimeoutSeconds * 1000,
        ...(servers.targetLog ? { log: servers.targetLog } : {}),
        source: servers.sourceUrl,
      }),
    (s) => s,
  );
  if (options.warmupSeconds > 0) {
    await ctx.phase(`load before cutover (${options.warmupSeconds}s)`, () => sleep(options.warmupSeconds * 1000));
  }
  const early = loads.command?.exitedEarly;
  if (early && early.code !== 0) {
    const tail = loads
      .command!.result((t) => ctx.secrets.redact(t))
      .outputTail.slice(-5)
      .join(' | ');
    throw new Error(
      `your --load command ended before the cutover (${early.signal ?? `exit code ${early.code}`}): ${tail}`,
    );
  }
}

/**
 * Part 6: the cutover, then the writes go on for a moment (on the target, after a switch) and stop. The fallback
 * scenarios: the cutover, the writes on the target for `--on-target` seconds, the fallback, then the writes go on
 * for a moment where the fallback left them (on the source again, or on the target after its rollback).
 */
async function cutover(
  ctx: RehearsalContext,
  facts: Facts,
  endpoints: Endpoints,
  runner: Promise<CutoverRunner>,
): Promise<void> {
  const { options } = ctx;
  const plan = SCENARIO_PLANS[options.scenario];
  const loaded = await ctx.phase(
    options.wayBack ? 'synthesize the cutover and fallback state machines' : 'synthesize cutover state machine',
    () => runner,
  );
  const session = (facts.session = createCutoverSession(
    ctx,
    facts.servers!,
    facts.tables!,
    facts.replication!,
    facts.roles!,
    endpoints.traffic,
    endpoints.readTraffic,
  ));
  facts.record = await runExecutions(ctx, session, facts.servers!, facts.roles!, loaded);
  if (endpoints.readTraffic) {
    facts.readSwitch = (await session.deps.state.get(readSwitchKey(options.migrationId)))?.readSwitch;
  }
  const after =
    plan.wayBack && session.fallbackStartedAt !== undefined
      ? `load after the fallback, on the ${(await endpoints.traffic.current()) === endpointOf(facts.servers!.sourceUrl) ? 'source' : 'target'}`
      : 'load after cutover';
  await ctx.phase(`${after} (${options.afterSeconds}s)`, () => sleep(options.afterSeconds * 1000));
  await session.endWayBackWatch();
  const loads = facts.loads!;
  await ctx.phase(
    'stop write load',
    () => stopWrites(facts),
    () => `${loads.writer.acks.length} writes acknowledged${loads.command ? '; your --load stopped' : ''}`,
  );
}

/** Part 7: the outcome, every acknowledged write looked up, the validation. */
async function verify(ctx: RehearsalContext, facts: Facts, endpoints: Endpoints): Promise<void> {
  const [servers, tables, roles, session] = [facts.servers!, facts.tables!, facts.roles!, facts.session!];
  const workload = tables.kind === 'demo' ? 'demo' : 'probe';
  const writer = facts.loads!.writer;
  let firstWriteOnTarget: number | undefined;
  for (const a of writer.acks) {
    if (a.server === 'target') firstWriteOnTarget = Math.min(firstWriteOnTarget ?? Infinity, a.at);
  }
  facts.actual = await ctx.phase('inspect outcome', () =>
    inspectOutcome({
      options: ctx.options,
      sourceUrl: servers.sourceUrl,
      writer: {
        role: roles.writer.name,
        ...(roles.writer.password ? { password: roles.writer.password } : {}),
        workload,
      },
      traffic: endpoints.traffic,
      ...(endpoints.readTraffic
        ? {
            reads: {
              traffic: endpoints.readTraffic,
              ...(writer.reads.firstOn('target') !== undefined
                ? { firstOnTarget: writer.reads.firstOn('target')! }
                : {}),
              ...(firstWriteOnTarget !== undefined ? { firstWriteOnTarget } : {}),
            },
          }
        : {}),
      targetEndpoint: endpointOf(servers.targetUrl),
      replication: facts.replication!.port,
      runs: session.runs,
      snapshots: session.snapshots,
      ...(facts.record ? { record: facts.record } : {}),
      ...(session.deps.reverse ? { wayBack: { targetUrl: servers.targetUrl, reverse: session.deps.reverse } } : {}),
    }),
  );
  if (SCENARIO_PLANS[ctx.options.scenario].writeOnOldSource) {
    // way-back-broken: the watch named the very row written on the old source (its table and key).
    const write = session.oldSourceWrite;
    const said = session.wayBackWatch?.broken?.detail ?? '';
    facts.actual = {
      ...facts.actual,
      wayBackBreakReported: Boolean(write && namesWrite(said, write)),
    };
  }
  const switched = facts.actual.trafficSwitched === true;
  const fellBackAt = session.fallbackStartedAt;
  facts.verification = await ctx.phase(
    'verify acknowledged writes',
    () =>
      verifyWrites({
        ...servers,
        acks: facts.loads!.writer.acks,
        switched,
        workload,
        ...(fellBackAt !== undefined ? { wayBack: { fallbackStartedAt: fellBackAt } } : {}),
      }),
    (r) =>
      r
        .map((v) => `${v.database}${v.scope ? ` (${v.scope})` : ''}: ${v.found}/${v.checked} found, ${v.lost} lost`)
        .join('; '),
  );
  facts.validation = await ctx.phase(
    'validation',
    () =>
      validationOutcome({
        record: facts.record,
        sourceUrl: servers.sourceUrl,
        targetUrl: servers.targetUrl,
        selection: tables.selection,
        switched,
        // A fallback that rolled back: the application on the target, its writes flowing back to the source.
        flowingBack: fellBackAt !== undefined && switched && facts.actual.reverseRunning === true,
      }),
    (v) => `${v.ok ? 'match' : 'MISMATCH'} (${v.by})`,
  );
}

/** Parts 1-7, in order. */
async function rehearse(ctx: RehearsalContext, facts: Facts): Promise<void> {
  // The CDK synth of the state machine takes a few seconds: start it now, in parallel with the setup.
  const runner = loadCutoverRunner(ctx.options.wayBack);
  runner.catch(() => undefined);
  await prepare(ctx, facts);
  const endpoints = createEndpoints(ctx, facts);
  await replicate(ctx, facts, endpoints);
  await cutover(ctx, facts, endpoints, runner);
  await verify(ctx, facts, endpoints);
}

/**
 * The application's endpoints, both on the source: the traffic switch, and in read-first a read switch of the
 * reads' own (otherwise the reads follow the traffic switch). Every change is noted, as the application sees it.
 */
function createEndpoints(ctx: RehearsalContext, facts: Facts): Endpoints {
  const servers = facts.servers!;
  const labels: Record<string, string> = {
    [endpointOf(servers.sourceUrl)]: 'source',
    [endpointOf(servers.targetUrl)]: 'target',
  };
  const traffic = createTrafficSwitch(endpointOf(servers.sourceUrl));
  traffic.onChange((to) => facts.switches.writes.push({ at: nowMs(), to: labels[to] ?? to }));
  if (!SCENARIO_PLANS[ctx.options.scenario].readSwitch) return { traffic };
  const readTraffic = createTrafficSwitch(endpointOf(servers.sourceUrl), 'application read endpoint (in memory)');
  const reads: Array<{ at: number; to: string }> = [];
  facts.switches = { ...facts.switches, reads };
  readTraffic.onChange((to) => reads.push({ at: nowMs(), to: labels[to] ?? to }));
  return { traffic, readTraffic };
}

async function stopWrites(facts: Facts): Promise<void> {
  const loads = facts.loads;
  if (!loads) return;
  await Promise.all([loads.writer.stop(), loads.command?.stop()]);
  facts.writerStoppedAt ??= Date.now();
  loads.stopTicker();
}

function writeReports(ctx: RehearsalContext, report: RehearsalReport): RehearsalReport {
  const safe = ctx.secrets.redactDeep(report);
  writeJsonReport(ctx.options.reportPath, safe);
  writeHtmlReport(htmlReportPath(ctx.options.reportPath), safe);
  return safe;
}

/** The report of a rehearsal, from what its parts found out and how it ended. */
function reportOf(ctx: RehearsalContext, facts: Facts, end: EndOfRun, failure: Error | undefined): RehearsalReport {
  const writer = facts.loads?.writer;
  const record = end.record ?? facts.record;
  const wayBack = SCENARIO_PLANS[ctx.options.scenario].wayBack;
  return buildReport({
    options: ctx.options,
    plan: SCENARIO_PLANS[ctx.options.scenario],
    startedAt: ctx.startedAt,
    finishedAt: Date.now(),
    ...(facts.servers ? { servers: facts.servers } : {}),
    ...(facts.tables ? { tables: facts.tables } : {}),
    ...(writer && facts.roles
      ? {
          writer: {
            workload: facts.tables?.kind === 'demo' ? 'demo' : 'probe',
            role: facts.roles.writer.name,
            acks: writer.acks,
            failures: writer.failures,
            stats: writer.stats(),
            reads: writer.reads.summary(),
            readStats: writer.readStats(),
            ...(facts.writerStoppedAt ? { stoppedAt: facts.writerStoppedAt } : {}),
          },
        }
      : {}),
    ...(facts.loads?.command ? { loadCommand: facts.loads.command.result((t) => ctx.secrets.redact(t)) } : {}),
    runs: facts.session?.runs ?? [],
    ...(record ? { record } : {}),
    // Records of the other executions (read-first: the switch-reads execution's), for their phases.
    earlierRecords: wayBack
      ? []
      : (facts.session?.snapshots ?? []).filter(
          (r): r is MigrationRecord => r !== undefined && r.migrationId !== record?.migrationId,
        ),
    ...(wayBack
      ? {
          wayBack: {
            ...(end.wayBack?.cutoverRecord ? { cutoverRecord: end.wayBack.cutoverRecord } : {}),
            ...(end.wayBack?.fallbackRecord ? { fallbackRecord: end.wayBack.fallbackRecord } : {}),
            ...(facts.session?.fallbackStartedAt !== undefined
              ? { fallbackStartedAt: facts.session.fallbackStartedAt }
              : {}),
          },
        }
      : {}),
    ...(facts.session?.wayBackWatch?.broken ? { wayBackBroken: facts.session.wayBackWatch.broken } : {}),
    ...(facts.session?.oldSourceWrite ? { oldSourceWrite: facts.session.oldSourceWrite } : {}),
    switches: facts.switches,
    ...(facts.readSwitch ? { readSwitch: facts.readSwitch } : {}),
    actual: facts.actual,
    verification: facts.verification,
    ...(facts.validation ? { validation: facts.validation } : {}),
    phases: ctx.progress.phases,
    notices: ctx.notices,
    ...(failure && !(failure instanceof InterruptedError) ? { failure } : {}),
    ...(ctx.stop.reason ? { interrupted: ctx.stop.reason } : {}),
    ...(end.ending ? { ending: end.ending } : {}),
    ...(end.serverState ? { serverState: end.serverState } : {}),
    cleanupFailures: ctx.ledger.failures,
  });
}

/**
 * Runs one rehearsal and returns its report (also written as JSON and HTML). Refusals — bad servers, someone
 * else's objects, a schema that differs, an application role it may not freeze — throw UsageError before
 * anything was changed. An interrupted rehearsal resolves too, with `interrupted` set.
 */
export async function runRehearsal(
  options: RehearsalOptions,
  io: RehearsalIO,
  extras: RunRehearsalExtras = {},
): Promise<RehearsalReport> {
  const ctx = createContext(options, io, extras.signal);
  const plan = SCENARIO_PLANS[options.scenario];
  ctx.progress.log(
    `rehearsal "${plan.name}" (${options.mode}): ${plan.description}; ${
      options.demo ? `demo schema, ${options.rows} rows` : 'your tables'
    }, ${options.rate} writes/s`,
  );
  const facts: Facts = { mark: 0, actual: {}, verification: [], switches: { writes: [] } };
  const work = rehearse(ctx, facts);
  work.catch(() => undefined);
  let failure: Error | undefined;
  try {
    await ctx.stop.race(work);
  } catch (error) {
    failure = error as Error;
  }
  if (ctx.stop.isStopped) {
    // The part in progress settles (bounded) first, so that what it creates is removed too.
    await Promise.race([work.catch(() => undefined), sleep(20_000)]);
  }
  const crashed = Boolean(failure) && !(failure instanceof InterruptedError) && !(failure instanceof UsageError);
  let end: EndOfRun = {};
  try {
    end = await finishRehearsal(ctx, {
      ...(facts.servers ? { servers: facts.servers } : {}),
      mark: facts.mark,
      ...(facts.session ? { session: facts.session } : {}),
      ...(facts.roles ? { roles: facts.roles } : {}),
      ...(facts.tables ? { tables: facts.tables } : {}),
      stopWrites: () => stopWrites(facts),
      crashed,
    });
  } catch (error) {
    failure ??= error as Error;
  }
  if (failure instanceof UsageError) throw new UsageError(ctx.secrets.redact(failure.message));
  const report = writeReports(ctx, reportOf(ctx, facts, end, failure));
  printSummary(
    redactingIO(io, (t) => ctx.secrets.redact(t)),
    report,
    options,
  );
  return report;
}
