/**
 * A real source and target (fresh databases on the jest servers) with native logical replication of
 * `public.orders`, an application role, local cutover dependencies and the synthesized state machine: what the
 * integration tests run the cutover against.
 */
import { Client } from 'pg';
import type { StepEvent } from '../../contract';
import { createStepHandler } from '../../lambda/engine/cutover/steps';
import type { ReplicationPort, TrafficSwitch } from '../../lambda/engine/ports';
import { NativeLogicalReplication } from '../../lambda/engine/replication/native-logical-replication';
import { createLocalCutoverDeps, type LocalCutoverDeps } from '../../rehearsal/local/local-cutover-deps';
import { NativeReverseReplication } from '../../rehearsal/local/native-reverse-replication';
import {
  setupNativeReplication,
  teardownNativeReplication,
  waitForNativeSync,
} from '../../rehearsal/local/native-replication-setup';
import {
  runCutover,
  synthesizeCutoverDefinition,
  type CutoverRunResult,
  type RunCutoverOptions,
} from '../../rehearsal/local/run-state-machine';
import { createDatabasePair, dropPair, sql, roleSettings, subscriptionEnabled } from './databases';

export { trackingSlots } from './databases';

export const TABLES = { include: [{ schema: 'public', table: 'orders' }] };
let definition: string | undefined;

/** The synthesized state machine (once per test file). */
export async function cutoverDefinition(): Promise<string> {
  definition ??= await synthesizeCutoverDefinition({ validationMaxConcurrency: 2 });
  return definition;
}

export interface Fixture {
  readonly name: string;
  readonly source: string;
  readonly target: string;
  readonly role: string;
  readonly deps: LocalCutoverDeps;
  readonly replication: NativeLogicalReplication;
  readonly reverse?: NativeReverseReplication;
}

const fixtures: Fixture[] = [];
let counter = 0;

export interface FixtureOptions {
  readonly rows?: number;
  readonly replication?: (real: ReplicationPort) => ReplicationPort;
  /** Where the application finds its database (write path) and, for the read-first switch, its read path. */
  readonly traffic?: TrafficSwitch;
  readonly readTraffic?: TrafficSwitch;
  /** More execution input defaults (as the construct's DEFAULTS_JSON gives them). */
  readonly defaults?: LocalCutoverDeps['defaults'];
  /** With the way back: native reverse replication target → source (named after the fixture). */
  readonly reverse?: boolean;
}

export async function fixture(options: FixtureOptions = {}): Promise<Fixture> {
  const pair = await createDatabasePair('zdm_sm');
  const role = `zdm_app_${process.pid}_${++counter}`;
  await sql(pair.source, `DROP ROLE IF EXISTS ${role}`);
  await sql(pair.source, `CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
  const ddl = `CREATE TABLE public.orders (id bigserial PRIMARY KEY, note text NOT NULL, amount numeric(12,2))`;
  await sql(pair.source, ddl);
  await sql(pair.target, ddl);
  await sql(pair.source, `GRANT ALL ON public.orders, public.orders_id_seq TO ${role}`);
  await sql(
    pair.source,
    `INSERT INTO public.orders (note, amount) SELECT 'order ' || g, g * 1.5 FROM generate_series(1, $1::int) g`,
    [options.rows ?? 300],
  );
  await setupNativeReplication({ source: pair.source, target: pair.target, tables: TABLES, name: pair.name });
  await waitForNativeSync(pair.target, pair.name);
  const replication = new NativeLogicalReplication({
    source: pair.source,
    target: pair.target,
    subscription: pair.name,
  });
  const reverse = options.reverse
    ? new NativeReverseReplication({
        source: pair.source,
        target: pair.target,
        tables: TABLES,
        name: `${pair.name}_rev`,
      })
    : undefined;
  const deps = createLocalCutoverDeps({
    sourceUrl: pair.source,
    targetUrl: pair.target,
    tables: TABLES,
    replication: options.replication ? options.replication(replication) : replication,
    defaults: {
      applicationRoles: [role],
      lagThresholdSeconds: 5,
      consecutiveChecks: 2,
      syncTimeoutSeconds: 30,
      finalSyncTimeoutSeconds: 10,
      ...options.defaults,
    },
    ...(options.traffic ? { traffic: options.traffic } : {}),
    ...(options.readTraffic ? { readTraffic: options.readTraffic } : {}),
    ...(reverse ? { reverse } : {}),
    rowsPerRange: 100,
  });
  const f = { name: pair.name, source: pair.source, target: pair.target, role, deps, replication, reverse };
  fixtures.push(f);
  return f;
}

/** Removes every fixture's replication, databases and role (call from afterAll). */
export async function dropFixtures(): Promise<void> {
  for (const f of fixtures) {
    await f.reverse?.teardown().catch(() => undefined);
    await teardownNativeReplication({ source: f.source, target: f.target, name: f.name }).catch(() => undefined);
    await dropPair(f.name).catch(() => undefined);
    await sql(f.source.replace(/\/[^/]+$/, '/postgres'), `DROP ROLE IF EXISTS ${f.role}`).catch(() => undefined);
  }
}

export async function run(
  f: Fixture,
  input: Record<string, unknown>,
  stepHandler: (event: StepEvent) => Promise<unknown> = createStepHandler(f.deps),
  options: Partial<RunCutoverOptions> = {},
): Promise<CutoverRunResult> {
  return runCutover({ definition: await cutoverDefinition(), stepHandler, input, waitTimeOverrideMs: 50, ...options });
}

export async function roleState(f: Fixture): Promise<{ canLogin: boolean; connectionLimit: number }> {
  return roleSettings(f.source, f.role);
}

export async function subscriptionOn(f: Fixture): Promise<boolean> {
  return subscriptionEnabled(f.target, f.name);
}

export async function count(url: string): Promise<number> {
  return Number((await sql<{ n: string }>(url, `SELECT count(*) AS n FROM public.orders`))[0].n);
}

export async function targetSequence(f: Fixture): Promise<{ last: number; called: boolean }> {
  const [r] = await sql<{ last_value: string; is_called: boolean }>(
    f.target,
    `SELECT last_value, is_called FROM public.orders_id_seq`,
  );
  return { last: Number(r.last_value), called: r.is_called };
}

export async function sourceMaxId(f: Fixture): Promise<number> {
  return Number((await sql<{ m: string }>(f.source, `SELECT max(id) AS m FROM public.orders`))[0].m);
}

/** Logs in as the application role and writes a row: proves the source accepts its writes. */
export async function appCanWrite(f: Fixture): Promise<void> {
  const url = new URL(f.source);
  url.username = f.role;
  url.password = 'app';
  const c = new Client(url.toString());
  await c.connect();
  try {
    await c.query(`INSERT INTO public.orders (note) VALUES ('after rollback')`);
  } finally {
    await c.end();
  }
}

export const stepsRun = (r: CutoverRunResult): string[] =>
  r.events.filter((e) => e.type === 'StateEntered' && e.step && e.index === undefined).map((e) => e.state);
