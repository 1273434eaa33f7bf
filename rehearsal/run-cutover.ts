/**
 * Part 6 of a rehearsal: the real cutover — the state machine the construct synthesizes, its real step handler,
 * one or two executions (the scenario's) — with every step invocation tracked: after Ctrl-C no new step starts,
 * and the clean-up waits for the one in flight, so nothing freezes the source after the freeze was ended.
 */
import type { CutoverInput, ExecutionMode, StepEvent, TableName } from '../contract';
import {
  closeSharedPools,
  type MemoryTrafficSwitch,
  type MigrationRecord,
  removeWayBackGuard,
  sleep,
  trackingNames,
  type WatchdogReport,
  wayBackBreak,
} from '../lambda/engine';
import { dropSlotAndPublication, teardownReverseReplication } from './servers/check-leftovers';
import { NativeReverseReplication } from './local/native-reverse-replication';
import { PROBE_TABLE, reverseReplicationName } from './names';
import { withAdmin } from './servers/pg-clients';
import { createCutoverDeps, createStepHandlerFor, stateKey, type CutoverRunner } from './adapters';
import { phaseTimes } from './report/freeze';
import type { LocalCutoverDeps } from './local/local-cutover-deps';
import type { CutoverRunResult, CutoverStateEvent } from './local/run-state-machine';
import { formatMs, type Progress } from './progress';
import { rolesOnTarget, type RehearsalRoles } from './roles/rehearsal-roles';
import type { RehearsedTables } from './tables/rehearsed-tables';
import type { RehearsalContext } from './run-context';
import { InterruptedError } from './run-context';
import { SCENARIO_PLANS } from './scenarios/scenarios';
import { subscriptionConnInfo, type ReplicationHandle } from './servers/setup-replication';
import type { Servers } from './servers/setup-servers';
import { endpointOf } from './load/start-load';
import { WAY_BACK_WATCH_MS, WayBackWatch } from './way-back-watch';
import { undoOldSourceWrite, writeOnOldSource, type OldSourceWrite } from './scenarios/old-source-write';

/** Longest the rehearsal waits for its watch to name the write on the old source (many looks, on a loaded machine). */
const WAY_BACK_NAMED_WITHIN_MS = 20 * WAY_BACK_WATCH_MS;

export type ExecutionRun = CutoverRunResult & {
  readonly startedAt: number;
  readonly mode?: ExecutionMode;
  /** Which state machine ran it: the cutover's, or the fallback's (the way back). */
  readonly machine: 'cutover' | 'fallback';
};

/** What the runner's watchdog step returned, when it is a watchdog report. */
export function watchdogOf(run: Pick<CutoverRunResult, 'watchdog'>): WatchdogReport | undefined {
  const w = run.watchdog as Partial<WatchdogReport> | undefined;
  return w && typeof w === 'object' && typeof w.outcome === 'string' ? (w as WatchdogReport) : undefined;
}

/** The cutover's dependencies, executions and in-flight steps. */
export class CutoverSession {
  readonly runs: ExecutionRun[] = [];
  /** The state record as each execution left it (a resumed execution is compared with the one before). */
  readonly snapshots: Array<MigrationRecord | undefined> = [];
  /** The validated input (to find the state record afterwards). */
  input?: CutoverInput;
  /** When the fallback execution started (epoch ms; fallback scenarios). */
  fallbackStartedAt?: number;
  /** The open way back, watched from the cutover's success to the fallback (or the end of the run). */
  wayBackWatch?: WayBackWatch;
  private readonly inFlight = new Set<Promise<unknown>>();
  private current?: Promise<unknown>;

  /** way-back-broken: the row another session wrote on the old source while the application was on the target. */
  oldSourceWrite?: OldSourceWrite;

  constructor(
    private readonly ctx: RehearsalContext,
    readonly deps: LocalCutoverDeps,
    /** Which writes the rehearsal makes: the demo shop's, or its probe's (beside the user's tables). */
    readonly workload: 'demo' | 'probe' = 'demo',
    /** Your tables (`--source/--target`); none with the demo schema. */
    readonly tables: readonly TableName[] = [],
  ) {}

  /** The state record of the last execution (dry runs keep one per execution, keyed with its start time). */
  record(): Promise<MigrationRecord | undefined> {
    return this.deps.state.get(this.input ? stateKey(this.input) : this.ctx.options.migrationId);
  }

  /** The executed cutover's record (the fallback reads and updates it too: its saved freeze, the way back). */
  cutoverRecord(): Promise<MigrationRecord | undefined> {
    return this.deps.state.get(this.ctx.options.migrationId);
  }

  /** The fallback's record (`<migrationId>#fallback`), once a fallback execution validated its input. */
  fallbackRecord(): Promise<MigrationRecord | undefined> {
    return this.input?.direction === 'fallback'
      ? this.deps.state.get(stateKey(this.input))
      : Promise.resolve(undefined);
  }

  /**
   * The step handler of execution `index`: the scenario's, tracked, refused once the rehearsal is stopped — except
   * the watchdog, which the runner calls after an execution that did not succeed (the dead man's switch).
   */
  stepHandler(index: number): (event: StepEvent) => Promise<unknown> {
    const plan = SCENARIO_PLANS[this.ctx.options.scenario];
    const real = createStepHandlerFor(this.deps, (validated) => (this.input = validated));
    const handler = plan.wrapStepHandler(real, index, (event) =>
      this.deps.state.get(stateKey(event.input as CutoverInput)),
    );
    return (event) => {
      const watchdog = (event.step as string) === 'watchdog';
      if (this.ctx.stop.isStopped && !watchdog) return Promise.reject(new InterruptedError(this.ctx.stop.reason!));
      const call = watchdog ? real(event) : handler(event);
      this.inFlight.add(call);
      const done = (): void => void this.inFlight.delete(call);
      call.then(done, done);
      return call;
    };
  }

  /** Starts watching the way back the cutover opened (once). */
  watchWayBack(): void {
    if (!this.deps.reverse || this.wayBackWatch) return;
    const deps = this.deps;
    this.wayBackWatch = new WayBackWatch(() => wayBackBreak(deps), this.ctx.progress);
    this.wayBackWatch.start();
  }

  /** Ends the watch of the way back (before the fallback closes it, and at the end of the run). */
  async endWayBackWatch(): Promise<void> {
    await this.wayBackWatch?.stop();
  }

  /** Runs one execution; it is recorded in `runs` when it ends, even after the rehearsal stopped waiting for it. */
  execute(
    run: () => Promise<CutoverRunResult>,
    mode?: ExecutionMode,
    machine: 'cutover' | 'fallback' = 'cutover',
  ): Promise<ExecutionRun> {
    const startedAt = Date.now();
    if (machine === 'fallback') this.fallbackStartedAt = startedAt;
    const execution = run().then((result) => {
      const recorded = { ...result, startedAt, machine, ...(mode ? { mode } : {}) };
      this.runs.push(recorded);
      return recorded;
    });
    this.current = execution.catch(() => undefined);
    return execution;
  }

  /**
   * Waits (at most `timeoutMs`) for the execution and the steps still running: an aborted execution does not
   * cancel a running step, and the runner's watchdog runs after it.
   */
  async settle(timeoutMs = 30_000): Promise<boolean> {
    await this.endWayBackWatch();
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    const timeout = (): Promise<void> => new Promise((r) => setTimeout(r, left()).unref());
    if (this.current) await Promise.race([this.current, timeout()]);
    while (this.inFlight.size > 0 && left() > 0) {
      await Promise.race([Promise.allSettled([...this.inFlight]), timeout()]);
    }
    return this.inFlight.size === 0;
  }
}

export function createCutoverSession(
  ctx: RehearsalContext,
  servers: Servers,
  tables: RehearsedTables,
  replication: ReplicationHandle,
  roles: RehearsalRoles,
  traffic: MemoryTrafficSwitch,
  readTraffic?: MemoryTrafficSwitch,
): CutoverSession {
  const plan = SCENARIO_PLANS[ctx.options.scenario];
  const reverse = ctx.options.wayBack ? createReverseReplication(ctx, servers, tables, roles) : undefined;
  const { deps } = createCutoverDeps({
    sourceUrl: servers.sourceUrl,
    targetUrl: servers.targetUrl,
    tables: tables.selection,
    replication: plan.wrapReplication(replication.port),
    traffic,
    ...(readTraffic ? { readTraffic } : {}),
    ...(reverse
      ? {
          wayBack: {
            reverse,
            switchTrafficTo: endpointOf(servers.targetUrl),
            fallbackTrafficTo: endpointOf(servers.sourceUrl),
          },
        }
      : {}),
    onNotice: (subject) => {
      ctx.notices.push(subject);
    },
  });
  if (servers.kind === 'external') {
    // The workflow drops its change-tracking slots itself, except past the point of no return (for a resumed run):
    // a rehearsal removes them in any case. A switch-reads execution tracks changes as a dry run does. The fallback
    // tracks under the same names with the sides swapped: each name is looked for on both servers.
    const modes = new Set(
      Array.from({ length: plan.executions }, (_, i) => engineMode(plan.executionMode(i, ctx.options.mode))),
    );
    for (const mode of modes) {
      const names = trackingNames(ctx.options.migrationId, mode);
      ctx.ledger.push({
        name: `drop the workflow's change-tracking slots ${names.source} and ${names.target}`,
        run: async () => {
          for (const url of [servers.sourceUrl, servers.targetUrl]) {
            await withAdmin(url, async (c) => {
              await dropSlotAndPublication(c, names.source);
              await dropSlotAndPublication(c, names.target);
            });
          }
        },
      });
    }
  }
  ctx.ledger.push({ name: 'close the cutover connections', run: () => closeSharedPools(deps) });
  return new CutoverSession(ctx, deps, tables.kind === 'demo' ? 'demo' : 'probe', tables.tables);
}

/**
 * The way back in a rehearsal: native reverse replication target → source (publication and slot on the target, the
 * subscription on the source, logging in to the target as the replication role), named after the rehearsal. The
 * cutover creates its slot (PrepareReverse), arms it (ArmReverse) and starts it (StartReverse); the rehearsal removes
 * all of it at the end.
 */
function createReverseReplication(
  ctx: RehearsalContext,
  servers: Servers,
  tables: RehearsedTables,
  roles: RehearsalRoles,
): NativeReverseReplication {
  const name = reverseReplicationName(servers.sourceUrl);
  const reverse = new NativeReverseReplication({
    source: servers.sourceUrl,
    target: servers.targetUrl,
    tables: tables.selection,
    name,
    targetConnInfo: subscriptionConnInfo(servers.targetUrl, roles.replication),
    targetLogin: loginUrl(servers.targetUrl, roles.replication),
    extraTables: [PROBE_TABLE],
  });
  ctx.ledger.push({
    name: `remove the reverse replication ${name} (subscription on the source, slot and publication on the target)`,
    run: async () => {
      await reverse.close();
      await teardownReverseReplication(servers, name);
    },
  });
  ctx.ledger.push({
    name: "remove the way back's guard on the source (its triggers, function and record in zdm_cutover)",
    run: async () => void (await withAdmin(servers.sourceUrl, (c) => removeWayBackGuard(c))),
  });
  return reverse;
}

/** `url` as `role` logs in to it. */
function loginUrl(url: string, role: { name: string; password?: string }): string {
  const u = new URL(url);
  u.username = encodeURIComponent(role.name);
  u.password = role.password === undefined ? '' : encodeURIComponent(role.password);
  return u.toString();
}

/** The engine's mode of an execution: switch-reads and revert-reads check (and track) as a dry run does. */
export function engineMode(mode: ExecutionMode): 'dry-run' | 'execute' {
  return mode === 'execute' ? 'execute' : 'dry-run';
}

/**
 * Runs the scenario's executions, logging the states as they run and the phases at the end. read-first: the reads
 * run on the target for `--observe-reads` seconds after the switch-reads execution, before the cutover. The fallback
 * scenarios: the application writes on the target for `--on-target` seconds after the cutover, then the fallback
 * machine runs with the same migrationId.
 */
export async function runExecutions(
  ctx: RehearsalContext,
  session: CutoverSession,
  servers: Servers,
  roles: RehearsalRoles,
  runner: CutoverRunner,
): Promise<MigrationRecord | undefined> {
  const { options } = ctx;
  const plan = SCENARIO_PLANS[options.scenario];
  const input = {
    migrationId: options.migrationId,
    applicationRoles: roles.frozen,
    switchTrafficTo: endpointOf(servers.targetUrl),
    // Locally there is no replica: the target itself is the "reader endpoint".
    ...(plan.readSwitch ? { switchReadsTo: endpointOf(servers.targetUrl) } : {}),
    lagThresholdSeconds: options.lagThresholdSeconds,
    consecutiveChecks: options.consecutiveChecks,
    syncTimeoutSeconds: options.syncTimeoutSeconds,
    finalSyncTimeoutSeconds: options.finalSyncTimeoutSeconds,
    requireApproval: false,
  };
  for (let i = 0; i < plan.executions; i++) {
    const mode = plan.executionMode(i, options.mode);
    const machine = plan.machine(i);
    const label = options.wayBack
      ? machine === 'fallback'
        ? 'fallback'
        : 'cutover (with the way back)'
      : plan.executions > 1
        ? `cutover execution ${i + 1}/${plan.executions}${plan.readSwitch ? ` (mode ${mode})` : ''}`
        : 'cutover';
    const executionInput =
      machine === 'fallback' ? await fallbackInput(ctx, servers, roles, input) : { ...input, mode };
    const definition = machine === 'fallback' ? runner.fallbackDefinition : runner.definition;
    if (machine === 'fallback') await session.endWayBackWatch();
    if (!definition) throw new Error(`internal: no ${machine} state machine was synthesized`);
    const run = await ctx.phase(
      label,
      () =>
        session.execute(
          () =>
            runner.runCutover({
              definition,
              stepHandler: session.stepHandler(i),
              input: executionInput,
              waitTimeOverrideMs: options.pollMs,
              onStateEvent: stateEventLogger(ctx.progress),
              signal: ctx.stop.signal,
              ...(machine === 'fallback' ? { watchdogDirection: 'fallback' as const } : {}),
            }),
          mode,
          machine,
        ),
      (r) => `execution ${r.status}${r.error ? ` ${r.error}` : ''}${r.lastState ? ` (last state ${r.lastState})` : ''}`,
      (r) => r.status !== 'SUCCEEDED',
    );
    session.snapshots.push(structuredClone(await session.record()));
    if (run.status === 'ABORTED') ctx.stop.check();
    if (run.status === 'FAILED') {
      ctx.progress.log(`  execution failed: ${run.error}: ${(run.cause ?? '').slice(0, 300)}`);
    }
    if (plan.wayBack) logPhases(ctx, await session.record(), `${machine} `);
    if (machine === 'cutover' && mode === 'execute' && run.status === 'SUCCEEDED') session.watchWayBack();
    const write = session.oldSourceWrite;
    if (machine === 'fallback' && write) {
      await ctx.phase('the operator undoes the write on the old source and clears the guard', () =>
        undoOldSourceWrite(servers.sourceUrl, write),
      );
    }
    if (run.status !== 'SUCCEEDED' && !plan.continueAfterFailure) break;
    if (i === plan.observeReadsAfter && i < plan.executions - 1 && options.readObservationSeconds > 0) {
      await ctx.phase(`reads on the target, writes on the source (${options.readObservationSeconds}s)`, () =>
        sleep(options.readObservationSeconds * 1000),
      );
    }
    if (plan.wayBack && machine === 'cutover' && i < plan.executions - 1) {
      await ctx.phase(`application on the target, writes flowing back (${options.targetSeconds}s)`, () =>
        plan.writeOnOldSource && run.status === 'SUCCEEDED'
          ? onTargetWithOldSourceWrite(ctx, session, servers)
          : sleep(options.targetSeconds * 1000),
      );
    }
  }
  const record = await session.record();
  if (!plan.wayBack) logPhases(ctx, record, '');
  return record;
}

/**
 * way-back-broken: half-way through the application's time on the target, another session writes a row on the old
 * source; the rest of the time passes, and at least until the watch of the way back has named it (bounded: a watch
 * that never does is the rehearsal's finding, `wayBackBreakReported: false`).
 */
async function onTargetWithOldSourceWrite(
  ctx: RehearsalContext,
  session: CutoverSession,
  servers: Servers,
): Promise<void> {
  const total = ctx.options.targetSeconds * 1000;
  await sleep(total / 2);
  const write = (session.oldSourceWrite = await writeOnOldSource(servers.sourceUrl, session.workload, session.tables));
  ctx.progress.log(
    `  another session wrote on the old source: ${write.table} ${write.operation}${write.key ? ` ${write.key}` : ''}`,
  );
  const until = write.at + Math.max(total / 2, WAY_BACK_NAMED_WITHIN_MS);
  while (!session.wayBackWatch?.broken && Date.now() < until) await sleep(50);
  await sleep(Math.max(0, write.at + total / 2 - Date.now()));
}

/** The phases of the execution that just ended, as its record has them. */
function logPhases(ctx: RehearsalContext, record: MigrationRecord | undefined, prefix: string): void {
  for (const p of phaseTimes(record)) {
    ctx.progress.log(
      `  ${prefix}phase ${p.name.padEnd(16)} ${p.status.padEnd(9)} ${p.durationMs === undefined ? '' : formatMs(p.durationMs)}`,
    );
  }
}

/**
 * The fallback's input: the cutover's migrationId, the application's roles that exist on the target (the fallback
 * freezes them there), the source as where traffic goes back to.
 */
async function fallbackInput(
  ctx: RehearsalContext,
  servers: Servers,
  roles: RehearsalRoles,
  cutover: { readonly migrationId: string } & Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const onTarget = await rolesOnTarget(servers, roles.frozen);
  if (onTarget.length < roles.frozen.length) {
    const missing = roles.frozen.filter((r) => !onTarget.includes(r));
    ctx.progress.log(
      `  the fallback freezes ${onTarget.join(', ')} on the target (${missing.join(', ')}: source only)`,
    );
  }
  return { ...cutover, mode: 'execute', applicationRoles: onTarget, switchTrafficTo: endpointOf(servers.sourceUrl) };
}

/**
 * One line per state entered and left (Map iterations are not shown). A state the workflow loops through (the lag
 * check, the stop loop) is shown once per run of loops, with how many times it ran.
 */
export function stateEventLogger(progress: Progress): (event: CutoverStateEvent) => void {
  const entered = new Map<string, number>();
  // A state that failed is printed once, as failed: the exit the runner reports after a caught failure is not shown.
  const failedStates = new Set<string>();
  let looping: { state: string; count: number; since: number } | undefined;
  const endLoop = (now: number): void => {
    if (looping && looping.count > 1) {
      progress.log(`  ✔ ${looping.state} ×${looping.count} (${formatMs(now - looping.since)})`);
    }
    looping = undefined;
  };
  return (event) => {
    if (!event.step || event.index !== undefined) return;
    if (event.type === 'StateEntered') {
      if (looping?.state === event.state) {
        looping.count++;
        return;
      }
      endLoop(event.timestamp);
      entered.set(event.state, event.timestamp);
      progress.log(`  → ${event.state}`);
    } else if (event.type === 'StateExited') {
      if (looping?.state === event.state) return;
      if (failedStates.delete(event.state)) return;
      const t = entered.get(event.state);
      progress.log(`  ✔ ${event.state}${t === undefined ? '' : ` (${formatMs(event.timestamp - t)})`}`);
      looping = { state: event.state, count: 1, since: t ?? event.timestamp };
    } else if (event.type === 'StateFailed') {
      endLoop(event.timestamp);
      failedStates.add(event.state);
      progress.log(`  ✘ ${event.state}: ${event.error ?? ''} ${(event.cause ?? '').slice(0, 200)}`);
    }
  };
}
