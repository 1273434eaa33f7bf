import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { UsageError } from '../../cli/command-line';
import { trackingNames } from '../../lambda/engine/cutover/change-tracking';
import { NativeLogicalReplication } from '../../lambda/engine/replication/native-logical-replication';
import { setupNativeReplication, teardownNativeReplication } from '../../rehearsal/local/native-replication-setup';
import { NativeReverseReplication } from '../../rehearsal/local/native-reverse-replication';
import {
  probeComment,
  replicationName,
  rehearsalRoleNames,
  reverseReplicationName,
  REHEARSAL_ROLE_COMMENT,
  REHEARSAL_SCHEMA_COMMENT,
} from '../../rehearsal/names';
import { resolveRehearsalOptions } from '../../rehearsal/options';
import { openPool } from '../../rehearsal/servers/pg-clients';
import { runRehearsal } from '../../rehearsal/rehearse';
import { waitForInitialCopy } from '../../rehearsal/servers/setup-replication';
import { serverUrl, sql } from '../support/databases';
import { createUserSchema, freshPair, rehearsalObjects, run, type Pair, rehearsalTestContext } from './helpers';

jest.setTimeout(120_000);

const t = rehearsalTestContext('leftovers');
const { pairs, dir } = t;

function options(pair: Pair, extra: Record<string, unknown> = {}) {
  return resolveRehearsalOptions({
    mode: 'dry-run',
    rate: 150,
    concurrency: 3,
    warmupSeconds: 0.2,
    afterSeconds: 0.3,
    sourceUrl: pair.source,
    targetUrl: pair.target,
    pollMs: 20,
    lagThresholdSeconds: 1,
    consecutiveChecks: 2,
    reportPath: join(dir, `${pair.name}.json`),
    migrationId: 'rehearsal-now',
    ...extra,
  });
}

describe('what an earlier run left', () => {
  test("its own leftovers (a killed run) are removed; someone else's zdm_ objects refuse the rehearsal, named", async () => {
    const pair = await freshPair('rh_left', t.su);
    pairs.push(pair);
    await createUserSchema(pair);
    const name = replicationName(pair.source);
    const tracking = trackingNames('rehearsal-killed', 'execute');
    const roles = rehearsalRoleNames(pair.source);
    // What a rehearsal killed with SIGKILL in its cutover leaves: its replication (slot, publication,
    // subscription), the workflow's tracking slot, its probe table, marker rows and schema, its probe role.
    await setupNativeReplication({
      source: pair.source,
      target: pair.target,
      tables: { include: [{ schema: 'shop' }] },
      name,
    });
    await run(pair.source, `SELECT pg_create_logical_replication_slot('${tracking.source}', 'pgoutput')`);
    // ... the way back of a fallback scenario: publication and slot on the target, the subscription on the source.
    const reverse = new NativeReverseReplication({
      source: pair.source,
      target: pair.target,
      tables: { include: [{ schema: 'shop' }] },
      name: reverseReplicationName(pair.source),
    });
    await reverse.prepare();
    await run(pair.target, `SELECT pg_create_logical_replication_slot('${reverse.slotName}', 'pgoutput')`);
    await reverse.start();
    await reverse.close();
    for (const url of [pair.source, pair.target]) {
      await run(
        url,
        `COMMENT ON SCHEMA zdm_cutover IS '${REHEARSAL_SCHEMA_COMMENT}';
         CREATE TABLE zdm_cutover.rehearsal_probe (id uuid PRIMARY KEY, token uuid NOT NULL);
         COMMENT ON TABLE zdm_cutover.rehearsal_probe IS '${probeComment('rehearsal-killed')}';`,
      );
    }
    await run(
      pair.target,
      `INSERT INTO zdm_cutover.cutover_marker (migration_id, token) VALUES ('rehearsal-killed', 't1')`,
    );
    await sql(serverUrl('source'), `CREATE ROLE ${roles.probe} LOGIN PASSWORD 'x'`);
    await sql(serverUrl('source'), `COMMENT ON ROLE ${roles.probe} IS '${REHEARSAL_ROLE_COMMENT}'`);
    // ... and someone else's publication.
    await run(pair.source, `CREATE PUBLICATION zdm_someone_else FOR TABLE shop.customers`);

    const refused = await runRehearsal(options(pair), { out: () => undefined, err: () => undefined }).catch(
      (e: Error) => e,
    );
    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toMatch(
      /objects the rehearsal did not create[^]*publication zdm_someone_else on the source/,
    );
    expect((refused as Error).message).not.toMatch(new RegExp(name));
    // Refused: nothing was changed, its own leftovers are still there.
    expect(
      await sql(pair.source, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [tracking.source]),
    ).toHaveLength(1);

    await run(pair.source, `DROP PUBLICATION zdm_someone_else`);
    const lines: string[] = [];
    const report = await runRehearsal(options(pair), { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    expect(report.failedBecause).toEqual([]);
    const removing = lines.find((l) => l.includes('removing what an earlier rehearsal left:')) ?? '';
    for (const part of [
      /slot zdm_rehearsal_/,
      /slot zdm_trk_xs_/,
      /marker rows/,
      /subscription zdm_rh_rev_\w+ on the source/,
      /slot zdm_rh_rev_\w+ on the target/,
      /publication zdm_rh_rev_\w+ on the target/,
    ]) {
      expect(removing).toMatch(part);
    }
    expect(await rehearsalObjects(pair)).toEqual([]);
    expect(await sql(serverUrl('source'), `SELECT 1 FROM pg_roles WHERE rolname = $1`, [roles.probe])).toEqual([]);
  });
});

describe('the initial copy', () => {
  test('fails fast with the reason instead of retrying forever', async () => {
    const pair = await freshPair('rh_copy', t.su);
    pairs.push(pair);
    await createUserSchema(pair);
    // A row on the target that the copy collides with.
    await run(pair.target, `INSERT INTO shop.customers (id, name) VALUES (1, 'already here')`);
    const name = replicationName(pair.source);
    await setupNativeReplication({
      source: pair.source,
      target: pair.target,
      tables: { include: [{ schema: 'shop' }] },
      name,
    });
    const port = new NativeLogicalReplication({ source: pair.source, target: pair.target, subscription: name });
    try {
      const started = Date.now();
      const error = await waitForInitialCopy(port, pair.target, name, { timeoutMs: 60_000 }).catch((e: Error) => e);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/the initial copy is failing: tables not copied: [^;]*shop\.customers/);
      expect((error as Error).message).toMatch(/shop\.customers holds 1 row\(s\) \(rows the copy collides with\?\)/);
      expect((error as Error).message).toMatch(/pg_stat_subscription_stats counts [2-9]\d* error/);
    } finally {
      await port.close();
      await teardownNativeReplication({ source: pair.source, target: pair.target, name });
    }
  });
});

describe('connections', () => {
  test('a pooled connection that drops while checked out fails its query, never the process', async () => {
    const pool = await openPool(serverUrl('source'), { max: 2 });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): number => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      // Both connections, the one createPool checked first and a new one: each is checked out while it dies.
      const clients = await Promise.all([pool.connect(), pool.connect()]);
      for (const client of clients) {
        const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
        await sql(serverUrl('source'), 'SELECT pg_terminate_backend($1)', [pid]);
      }
      await new Promise((r) => setTimeout(r, 300));
      for (const client of clients) {
        await expect(client.query('SELECT 1')).rejects.toThrow();
        client.release(true);
      }
      expect(uncaught).toEqual([]);
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      await pool.end();
    }
  });

  test('rehearsal code opens connections only through pg-clients.ts (every one has an error listener)', () => {
    const root = resolve(__dirname, '../../rehearsal');
    const files = (function walk(d: string): string[] {
      return readdirSync(d).flatMap((f) => {
        const p = join(d, f);
        return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
      });
    })(root);
    const offenders = files
      .filter((f) => !f.endsWith('pg-clients.ts'))
      .filter((f) => {
        const text = readFileSync(f, 'utf8');
        return /new (Client|Pool)\(|\bcreatePool\(|import \{[^}]*\b(connect|createPool)\b[^}]*\} from '[./]*lambda\/engine(\/pg\/connection)?'/.test(
          text,
        );
      })
      .map((f) => relative(root, f));
    // The local replication helper (shared with the engine's tests) uses the engine's `connect` (through the engine's
    // facade, lambda/engine/index.ts), which listens too.
    expect(offenders).toEqual(['local/native-replication-setup.ts']);
  });
});
