import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../cli/command-line';
import { resolveRehearsalOptions, type RehearsalOptionsInput } from '../../rehearsal/options';
import { runRehearsal } from '../../rehearsal/rehearse';
import type { RehearsalReport } from '../../rehearsal/report/report-json';
import { serverUrl, sql } from '../support/databases';
import {
  as,
  createUserSchema,
  freshPair,
  rehearsalObjects,
  run,
  USER_SCHEMA,
  writeLoadScript,
  type Pair,
  rehearsalTestContext,
} from './helpers';

/**
 * `--source/--target` against the user's own tables: a schema that is not the demo's, the data that is there,
 * the user's --load, and the servers left as they were.
 */
jest.setTimeout(120_000);

const t = rehearsalTestContext('own-db');
const { pairs, dir } = t;
let load: string;
let counter = 0;

beforeAll(async () => {
  load = writeLoadScript(dir);
});

async function pairWithSchema(prefix: string): Promise<Pair> {
  const pair = await freshPair(prefix, t.su);
  pairs.push(pair);
  await createUserSchema(pair);
  return pair;
}

interface Run {
  readonly report: RehearsalReport;
  readonly output: string[];
}

async function rehearse(pair: Pair, extra: RehearsalOptionsInput = {}, onLine?: (line: string) => void): Promise<Run> {
  const n = ++counter;
  const options = resolveRehearsalOptions({
    rate: 150,
    concurrency: 3,
    warmupSeconds: 0.3,
    afterSeconds: 0.4,
    sourceUrl: pair.source,
    targetUrl: pair.target,
    pollMs: 20,
    lagThresholdSeconds: 1,
    consecutiveChecks: 2,
    reportPath: join(dir, `own-${n}.json`),
    migrationId: `rehearsal-own-${n}`,
    ...extra,
  });
  const output: string[] = [];
  const collect = (line: string): void => {
    output.push(line);
    onLine?.(line);
  };
  const report = await runRehearsal(options, { out: collect, err: collect });
  return { report, output };
}

async function count(url: string, query: string): Promise<number> {
  const [r] = await sql<{ n: string }>(url, query);
  return Number(r.n);
}

async function sequences(url: string): Promise<Record<string, string>> {
  const rows = await sql<{ seq: string; v: string | null }>(
    url,
    `SELECT schemaname || '.' || sequencename AS seq, last_value::text AS v FROM pg_sequences WHERE schemaname = 'shop'`,
  );
  return Object.fromEntries(rows.map((r) => [r.seq, r.v ?? 'never called']));
}

async function authid(role: string): Promise<{ rolpassword: string; rolcanlogin: boolean; rolconnlimit: number }> {
  const [r] = await sql<{ rolpassword: string; rolcanlogin: boolean; rolconnlimit: number }>(
    serverUrl('source'),
    `SELECT rolpassword, rolcanlogin, rolconnlimit FROM pg_authid WHERE rolname = $1`,
    [role],
  );
  return r;
}

describe('rehearsing your own database', () => {
  test('your tables (partitioned, enum, domain, arrays, bytea, trigger) under your --load; no superuser password anywhere', async () => {
    const pair = await pairWithSchema('rh_own');
    const { report, output } = await rehearse(pair, { load, keepReplication: true });
    expect(report.failedBecause).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.tables).toMatchObject({ kind: 'user', names: ['shop.audit', 'shop.customers', 'shop.orders'] });
    expect(report.tables.rows['shop.orders']).toBeGreaterThanOrEqual(1500);
    // Never analyzed, and its primary key built on the empty table (reltuples 0): counted, not shown as 0.
    expect(report.tables.rows['shop.customers']).toBeGreaterThanOrEqual(300);
    // The probe: acknowledged on both sides, every one found, the freeze measured between them.
    expect(report.load.writer).toBe('probe');
    expect(report.acknowledgedOn.source).toBeGreaterThan(0);
    expect(report.acknowledgedOn.target).toBeGreaterThan(0);
    expect(report.lostWrites).toBe(0);
    expect(report.freeze.status).toBe('ended');
    expect(report.writeFreezeMs).toBeGreaterThan(0);
    // Your load ran as the application role the rehearsal made, with its password, and was stopped after the cutover.
    expect(report.load.command).toMatchObject({ stoppedByRehearsal: true });
    expect(report.load.command!.outputTail.join('\n')).toMatch(/load: as zdm_rh_app_\S+ on \S+ with a password/);
    const stopped = /load: stopped after (\d+) orders/.exec(report.load.command!.outputTail.join('\n'));
    expect(Number(stopped?.[1])).toBeGreaterThan(10);
    // The workflow's proof in the freeze, and the data itself: every order the load committed is on the target.
    expect(report.validation).toMatchObject({ ok: true, by: expect.stringMatching(/the workflow's/) });
    const loaded = `SELECT count(*) AS n FROM shop.orders WHERE note = 'load'`;
    expect(await count(pair.source, loaded)).toBeGreaterThan(10);
    expect(await count(pair.target, loaded)).toBe(await count(pair.source, loaded));
    expect(await count(pair.target, 'SELECT count(*) AS n FROM shop.audit')).toBe(
      await count(pair.source, 'SELECT count(*) AS n FROM shop.audit'),
    );
    // The subscription logs in as the rehearsal's replication role, never as the superuser.
    const [sub] = await sql<{ subconninfo: string }>(
      pair.target,
      `SELECT subconninfo FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(sub.subconninfo).toMatch(/user='zdm_rh_repl_/);
    expect(sub.subconninfo).not.toContain(t.su.password);
    expect(sub.subconninfo).not.toContain(t.su.name);
    const replPassword = /password='([^']+)'/.exec(sub.subconninfo)?.[1];
    // No password in any output line or report.
    const everything = [
      ...output,
      readFileSync(join(dir, `own-${counter}.json`), 'utf8'),
      readFileSync(join(dir, `own-${counter}.html`), 'utf8'),
    ].join('\n');
    expect(everything).not.toContain(t.su.password);
    expect(everything).not.toContain(replPassword);
    // --keep-replication: what was kept is named, each object.
    const kept = report.servers.state!.leftBehind.map((l) => `${l.server} ${l.kind}`);
    expect(kept).toEqual(
      expect.arrayContaining([
        'source replication slot',
        'source publication',
        'target subscription',
        'target copied rows',
      ]),
    );
    expect(output.join('\n')).toMatch(/left behind +\d+ object\(s\):\n.*- source: replication slot zdm_rehearsal_/);
  });

  test('an existing application role keeps its password and settings; a second run against the same servers succeeds', async () => {
    const pair = await pairWithSchema('rh_twice');
    const role = `shop_app_${process.pid}`;
    await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`);
    await sql(serverUrl('source'), `CREATE ROLE ${role} LOGIN CONNECTION LIMIT 7 PASSWORD 'AppPw-${process.pid}'`);
    await run(
      pair.source,
      `GRANT USAGE ON SCHEMA shop TO ${role}; GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA shop TO ${role};
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA shop TO ${role}`,
    );
    try {
      const before = await authid(role);
      const targetSequences = await sequences(pair.target);
      const withRole = { appRole: role, load: `PGPASSWORD=AppPw-${process.pid} ${load}` };

      // Without --freeze-existing-role: refused at once, nothing changed.
      const refused = await rehearse(pair, withRole).catch((e: Error) => e);
      expect(refused).toBeInstanceOf(UsageError);
      expect((refused as Error).message).toMatch(/--app-role shop_app_\d+ exists .* --freeze-existing-role/s);
      expect(await rehearsalObjects(pair)).toEqual([]);
      expect(await authid(role)).toEqual(before);

      for (const attempt of [1, 2]) {
        const { report, output } = await rehearse(pair, { ...withRole, freezeExistingRole: true });
        expect({ attempt, because: report.failedBecause }).toEqual({ attempt, because: [] });
        expect(report.cutover.executions[0].status).toBe('SUCCEEDED');
        // The freeze acted on the role and the rehearsal gave it its settings back — nothing else, never the password.
        expect(report.cutover.restoredByRehearsal).toEqual(expect.arrayContaining([role]));
        expect(report.servers.state!.roles.find((r) => r.role === role)).toMatchObject({
          exists: true,
          canLogin: true,
          connectionLimit: 7,
          asBefore: true,
          passwordUnchanged: true,
        });
        expect(await authid(role)).toEqual(before);
        // Nothing the rehearsal created is left: no slot, publication, subscription, role, workflow schema; the
        // target tables are empty again and its sequences where they were.
        expect(await rehearsalObjects(pair)).toEqual([]);
        expect(report.servers.state!.leftBehind).toEqual([]);
        expect(output.join('\n')).toMatch(/left behind +nothing/);
        expect(await count(pair.target, 'SELECT count(*) AS n FROM shop.orders')).toBe(0);
        expect(await sequences(pair.target)).toEqual(targetSequences);
      }
    } finally {
      await run(pair.source, `DROP OWNED BY ${role}`).catch(() => undefined);
      await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });

  test('a target schema that differs is refused with the list of differences; nothing is changed', async () => {
    const pair = await freshPair('rh_diff', t.su);
    pairs.push(pair);
    await createUserSchema(pair);
    await run(
      pair.target,
      `ALTER TABLE shop.customers DROP COLUMN scores; ALTER TABLE shop.audit ALTER COLUMN order_id TYPE text`,
    );
    const error = await rehearse(pair).catch((e: Error) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/the target schema differs from the source/);
    expect((error as Error).message).toMatch(/shop\.customers\.scores/);
    expect((error as Error).message).toMatch(/shop\.audit\.order_id/);
    expect(await rehearsalObjects(pair)).toEqual([]);
  });

  test('two databases of one server: execute is refused at once with the reason; a dry run works', async () => {
    const a = await freshPair('rh_one_a', t.su);
    const b = await freshPair('rh_one_b', t.su);
    pairs.push(a, b);
    await createUserSchema(a);
    // Both on the source server: a's source database, b's source database (given the same schema).
    const onOne: Pair = { name: a.name, source: a.source, target: as(t.su, serverUrl('source', b.name)) };
    await run(onOne.target, USER_SCHEMA);
    const started = Date.now();
    await expect(rehearse(onOne)).rejects.toThrow(/two databases of one server .* the write freeze\s+would never end/s);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The slot is created before the subscription (a subscription creating its own slot on its server hangs).
    const { report } = await rehearse(onOne, { mode: 'dry-run' });
    expect(report.failedBecause).toEqual([]);
    expect(report.servers.sameServer).toBe(true);
    expect(report.lostWrites).toBe(0);
    expect(report.servers.state!.leftBehind).toEqual([]);
  });
});
