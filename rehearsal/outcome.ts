import { Client } from 'pg';
import { createPool } from '../lambda/engine/pg/connection';
import type { MigrationRecord, ReplicationPort, TrafficSwitch } from '../lambda/engine/ports';
import { validate } from '../lambda/engine/validation';
import { sleep } from '../lambda/engine/validation/concurrency';
import type { CutoverRunResult } from './local/run-state-machine';
import { DEMO_SELECTION } from './demo-schema';
import type { RehearsalOptions } from './options';
import type { RehearsalReport } from './report-json';
import type { Actual } from './scenarios';
import { withAdmin } from './servers';
import { verifyAcknowledgedWrites, type VerificationResult } from './verify';
import type { AckedWrite } from './write-load';

/** Whether the application role can log in to the source and write (a write in a rolled-back transaction). */
export async function canWrite(url: string, role: string, password: string | undefined): Promise<boolean> {
  const u = new URL(url);
  const client = new Client({
    host: u.hostname,
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.slice(1)),
    user: role,
    password,
    connectionTimeoutMillis: 3000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('BEGIN');
    await client.query('UPDATE app.customers SET version = version WHERE id = 1');
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function inspectOutcome(args: {
  options: RehearsalOptions;
  sourceUrl: string;
  appPassword: string;
  traffic: TrafficSwitch;
  targetEndpoint: string;
  replication: ReplicationPort;
  state: { runs: Array<CutoverRunResult & { startedAt: number }>; record?: MigrationRecord };
}): Promise<Actual> {
  const { options, sourceUrl, appPassword, traffic, targetEndpoint, replication, state } = args;
  const last = state.runs[state.runs.length - 1];
  const record = state.record;
  // A real login and write as the application, on the source.
  const sourceWritable = await canWrite(sourceUrl, options.appRole, appPassword);
  const status = await replication.status().catch(() => undefined);
  const actual: Actual = {
    executionStatus: last?.status === 'SUCCEEDED' ? 'SUCCEEDED' : last ? 'FAILED' : undefined,
    ...(last?.error ? { error: last.error } : {}),
    migrationStatus: (record?.status as Actual['migrationStatus']) ?? undefined,
    froze: Boolean(record?.freeze),
    sourceWritable,
    trafficSwitched: (await traffic.current()) === targetEndpoint,
    replicationStopped: status ? status.state === 'stopped' || status.state === 'stopping' : undefined,
  };
  if (options.scenario === 'resume' && state.runs.length > 1 && record) {
    const secondStart = state.runs[1].startedAt;
    const done = (['freezeWrites', 'finalSync', 'stopReplication'] as const).every((p) => {
      const phase = record.phases[p];
      return phase?.status === 'succeeded' && Date.parse(phase.startedAt) < secondStart;
    });
    return { ...actual, resumedSkippedDonePhases: done };
  }
  return actual;
}

export async function verifyOnTarget(
  targetUrl: string,
  acks: readonly AckedWrite[],
  waitForReplication: boolean,
): Promise<VerificationResult> {
  return withAdmin(targetUrl, async (c) => {
    const deadline = Date.now() + (waitForReplication ? 20_000 : 0);
    for (;;) {
      const result = await verifyAcknowledgedWrites(c, acks, 'target');
      if (result.lost === 0 || Date.now() >= deadline) return result;
      await sleep(200);
    }
  });
}

export async function validationOutcome(
  record: MigrationRecord | undefined,
  sourceUrl: string,
  targetUrl: string,
  switched: boolean,
): Promise<RehearsalReport['validation']> {
  const post = record?.phases.postValidation;
  if (post && (post.status === 'succeeded' || post.status === 'failed') && record?.mode === 'execute') {
    return {
      ok: post.status === 'succeeded',
      by: 'the workflow post-validation (counts and checksums while writes were frozen)',
      summary: post.summary,
      ...(post.error ? { error: post.error } : {}),
    };
  }
  if (switched) {
    return { ok: false, by: 'no post-validation ran although traffic was switched' };
  }
  // The application stayed on the source and replication kept running: with the load stopped, the target must
  // converge to an exact copy.
  const source = await createPool(sourceUrl, { max: 2, applicationName: 'zdm-rehearsal' });
  const target = await createPool(targetUrl, { max: 2, applicationName: 'zdm-rehearsal' });
  try {
    let last: Awaited<ReturnType<typeof validate>> | undefined;
    const deadline = Date.now() + 20_000;
    do {
      last = await validate(source, target, DEMO_SELECTION, { mode: 'full', concurrency: 2 });
      if (last.ok) break;
      await sleep(250);
    } while (Date.now() < deadline);
    return {
      ok: last.ok,
      by: 'full validation (counts and checksums) after the load stopped, source against target',
      summary: last.summary,
    };
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}
