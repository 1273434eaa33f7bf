/**
 * Part 7 of a rehearsal: what happened. The outcome as the scenario describes it (did the execution succeed, was
 * the source frozen, is it writable, where does traffic go, is replication stopped), every acknowledged write
 * looked up where it must be, and the workflow's own proof that source and target match (its validation while
 * writes were frozen) — or, when it did not get that far, a full validation once the writes stopped. read-first:
 * where the read switch points, and whether the reads reached the target before the writes did.
 */
import { PHASES, type TableSelection } from '../../contract';
import { type MigrationRecord, type ReplicationPort, sleep, type TrafficSwitch, validate } from '../../lambda/engine';
import { openApplicationClient, withAdmin, withPools } from '../servers/pg-clients';
import type { RehearsalOptions } from '../options';
import type { RehearsalReport } from '../report/report-json';
import type { Actual } from './scenarios';
import type { ExecutionRun } from '../run-cutover';
import { periodOfWrite, verifyAcknowledgedWrites, WRITE_PERIODS, type VerificationResult } from './verify';
import type { AckedWrite, Workload } from '../load/write-load';

/** Phases the engine runs again on resume whatever the earlier execution did (the read switch). */
const RERUN_ON_RESUME: ReadonlySet<string> = new Set(['switchReads', 'revertReads']);

/** A write of the workload that changes nothing (demo: a customer's version; probe: a probe row). */
const HARMLESS_WRITE: Record<Workload, string> = {
  demo: 'UPDATE app.customers SET version = version WHERE id = 1',
  probe: `INSERT INTO zdm_cutover.rehearsal_probe (id, token) VALUES (gen_random_uuid(), gen_random_uuid())`,
};

/** Whether `role` can log in to the database and write (in a transaction that is rolled back). */
export async function canWrite(
  url: string,
  role: string,
  password: string | undefined,
  workload: Workload,
): Promise<boolean> {
  const u = new URL(url);
  let client;
  try {
    client = await openApplicationClient({
      host: u.hostname,
      port: Number(u.port || 5432),
      database: decodeURIComponent(u.pathname.slice(1)),
      user: role,
      ...(password !== undefined ? { password } : {}),
      connectionTimeoutMillis: 3000,
    });
    await client.query('BEGIN');
    await client.query(HARMLESS_WRITE[workload]);
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false;
  } finally {
    await client?.end().catch(() => undefined);
  }
}

export async function inspectOutcome(args: {
  options: RehearsalOptions;
  sourceUrl: string;
  writer: { role: string; password?: string; workload: Workload };
  traffic: TrafficSwitch;
  /**
   * The reads' own switch (read-first), when the first read and the first write answered by the target (epoch
   * ms; undefined: none). Without it the reads follow the writes: `readsSwitched` is false.
   */
  reads?: { traffic: TrafficSwitch; firstOnTarget?: number; firstWriteOnTarget?: number };
  targetEndpoint: string;
  replication: ReplicationPort;
  runs: readonly ExecutionRun[];
  /** The record as each execution left it. */
  snapshots?: ReadonlyArray<MigrationRecord | undefined>;
  record?: MigrationRecord;
  /** The fallback scenarios: the target (the writer's login there is tried too) and the reverse replication. */
  wayBack?: { targetUrl: string; reverse: ReplicationPort };
}): Promise<Actual> {
  const { options, writer, record } = args;
  const last = args.runs[args.runs.length - 1];
  // A real login and write as the writer, on the source.
  const sourceWritable = await canWrite(args.sourceUrl, writer.role, writer.password, writer.workload);
  const wayBack = args.wayBack
    ? {
        targetWritable: await canWrite(args.wayBack.targetUrl, writer.role, writer.password, writer.workload),
        reverseRunning: (await args.wayBack.reverse.status().catch(() => undefined))?.state === 'running',
        ...(last?.lastState ? { lastState: last.lastState } : {}),
      }
    : {};
  const status = await args.replication.status().catch(() => undefined);
  const actual: Actual = {
    executionStatus: last?.status === 'SUCCEEDED' ? 'SUCCEEDED' : last ? 'FAILED' : undefined,
    ...(last?.error ? { error: last.error } : {}),
    migrationStatus: (record?.status as Actual['migrationStatus']) ?? undefined,
    froze: Boolean(record?.freeze),
    sourceWritable,
    trafficSwitched: (await args.traffic.current()) === args.targetEndpoint,
    replicationStopped: status ? status.state === 'stopped' || status.state === 'stopping' : undefined,
    readsSwitched: args.reads ? (await args.reads.traffic.current()) === args.targetEndpoint : false,
    ...(args.reads
      ? {
          readsOnTargetFirst:
            args.reads.firstOnTarget !== undefined &&
            (args.reads.firstWriteOnTarget === undefined || args.reads.firstOnTarget < args.reads.firstWriteOnTarget),
        }
      : {}),
    ...wayBack,
  };
  if (options.scenario === 'resume' && args.runs.length > 1 && record) {
    // The second execution skipped what the first had finished: each phase finished after the first execution
    // still has the record of that run (a phase run again gets a new start time), and the freeze is among them.
    // The read-switch phases are the exception by design: every execution runs them again (the read-switch record,
    // not the phase, says what is done).
    const first = args.snapshots?.[0];
    const finished = PHASES.filter((p) => {
      if (RERUN_ON_RESUME.has(p)) return false;
      const phase = first?.phases[p];
      return phase && (phase.status === 'succeeded' || phase.status === 'skipped');
    });
    const done =
      finished.includes('freezeWrites') &&
      finished.every((p) => record.phases[p]?.startedAt === first?.phases[p]?.startedAt);
    return { ...actual, resumedSkippedDonePhases: done };
  }
  return actual;
}

/**
 * Looks `acks` up in one database; with `waitMs`, again until none is missing or the time is up (a replication
 * still applying the last writes).
 */
async function lookUp(
  url: string,
  acks: readonly AckedWrite[],
  database: string,
  workload: Workload,
  options: { waitMs?: number; scope?: string; periodOf?: (a: AckedWrite) => string; home?: false } = {},
): Promise<VerificationResult> {
  return withAdmin(url, async (c) => {
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const result = await verifyAcknowledgedWrites(c, acks, database, workload, options.periodOf);
      if (result.lost === 0 || Date.now() >= deadline) {
        return {
          ...result,
          ...(options.scope ? { scope: options.scope } : {}),
          ...(options.home === false ? { home: false } : {}),
        };
      }
      await sleep(200);
    }
  });
}

/**
 * Every acknowledged write, looked up on the target (and on the source when traffic stayed there). The fallback
 * scenarios, once the fallback ran: every write on the source (its home again after the fallback; after a fallback
 * that rolled back, once the reverse replication caught up), and on the target every write up to the fallback's
 * switch (all of them when the application stayed there) — each counted per period.
 */
export async function verifyWrites(args: {
  sourceUrl: string;
  targetUrl: string;
  acks: readonly AckedWrite[];
  switched: boolean;
  workload: Workload;
  /** The fallback ran (started then); `switched` says whether traffic stayed on the target. */
  wayBack?: { fallbackStartedAt: number };
}): Promise<VerificationResult[]> {
  const { acks, workload } = args;
  if (args.wayBack) {
    const periodOf = periodOfWrite(args.wayBack.fallbackStartedAt);
    if (!args.switched) {
      // Fell back: the reverse replication was stopped after the fallback's final sync, the forward one at the
      // cutover. Nothing is still on its way: no waiting.
      return [
        await lookUp(args.sourceUrl, acks, 'source', workload, { periodOf }),
        await lookUp(
          args.targetUrl,
          acks.filter((a) => periodOf(a) !== WRITE_PERIODS.after),
          'target',
          workload,
          { periodOf, scope: "up to the fallback's switch", home: false },
        ),
      ];
    }
    // Still on the target (the fallback rolled back): everything is there, and flows back to the source.
    return [
      await lookUp(args.targetUrl, acks, 'target', workload, { periodOf }),
      await lookUp(args.sourceUrl, acks, 'source', workload, {
        periodOf,
        waitMs: 20_000,
        scope: 'after the reverse replication caught up',
        home: false,
      }),
    ];
  }
  const results: VerificationResult[] = [];
  if (!args.switched) {
    // The application stayed on the source: every write must be there ...
    results.push(await lookUp(args.sourceUrl, acks, 'source', workload));
  }
  // ... and on the target (replication still running: give it a moment to apply the last writes).
  results.push(
    await lookUp(
      args.targetUrl,
      acks,
      'target',
      workload,
      args.switched ? {} : { waitMs: 20_000, scope: 'by replication', home: false },
    ),
  );
  return results;
}

/** The workflow's validation phases: after the freeze, named `...Validation` or `...Proof`. */
export function proofPhases(record: MigrationRecord | undefined): string[] {
  if (!record) return [];
  const from = PHASES.indexOf('freezeWrites');
  return PHASES.slice(from < 0 ? 0 : from).filter((p) => /(Validation|Proof)$/.test(p) && record.phases[p]);
}

export async function validationOutcome(args: {
  record: MigrationRecord | undefined;
  sourceUrl: string;
  targetUrl: string;
  selection: TableSelection;
  switched: boolean;
  /**
   * The application is on the target and the reverse replication runs (a fallback that rolled back): with the writes
   * stopped, the source must converge to an exact copy of the target.
   */
  flowingBack?: boolean;
}): Promise<RehearsalReport['validation']> {
  const { record } = args;
  if (args.flowingBack) {
    return convergence(
      args,
      'full validation (counts and checksums) after the writes stopped and the reverse replication caught up, target against source',
    );
  }
  const proofs = proofPhases(record).map((p) => ({
    name: p,
    phase: record!.phases[p as keyof MigrationRecord['phases']]!,
  }));
  const decided = proofs.filter((p) => p.phase.status === 'succeeded' || p.phase.status === 'failed');
  if (decided.length && record?.mode === 'execute') {
    const failed = decided.find((p) => p.phase.status === 'failed');
    return {
      ok: !failed,
      by: `the workflow's ${decided.map((p) => p.name).join(' and ')} (while writes were frozen)`,
      summary: Object.fromEntries(decided.map((p) => [p.name, p.phase.summary ?? null])),
      ...(failed?.phase.error ? { error: failed.phase.error } : {}),
    };
  }
  if (args.switched) {
    return { ok: false, by: 'no validation by the workflow ran although traffic was switched' };
  }
  // The application stayed on the source and replication kept running: with the writes stopped, the target must
  // converge to an exact copy.
  return convergence(args, 'full validation (counts and checksums) after the writes stopped, source against target');
}

/** Full validation, again until it matches or 20 s passed (a replication still applying the last writes). */
async function convergence(
  args: { sourceUrl: string; targetUrl: string; selection: TableSelection },
  by: string,
): Promise<RehearsalReport['validation']> {
  return withPools(args.sourceUrl, args.targetUrl, async ({ source, target }) => {
    let last: Awaited<ReturnType<typeof validate>> | undefined;
    const deadline = Date.now() + 20_000;
    do {
      last = await validate(source, target, args.selection, { mode: 'full', concurrency: 2 });
      if (last.ok) break;
      await sleep(250);
    } while (Date.now() < deadline);
    return { ok: last.ok, by, summary: last.summary };
  });
}
