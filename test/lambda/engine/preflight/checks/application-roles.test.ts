/**
 * Which source roles the cutover may freeze: the application-roles check against real roles, the cutover's preflight
 * step (refuses before anything changes) and the freeze's own last line of defense.
 */
import { Client, type ClientConfig } from 'pg';
import { createPool } from '../../../../../lambda/engine/pg/connection';
import { createContext } from '../../../../../lambda/engine/cutover/step-context';
import { closeSharedPools } from '../../../../../lambda/engine/cutover/connections';
import type { CutoverDeps } from '../../../../../lambda/engine/cutover/deps';
import { freezeWrites } from '../../../../../lambda/engine/cutover/freeze-writes';
import { preflightStep } from '../../../../../lambda/engine/cutover/preflight-step';
import { MemoryStateStore } from '../../../../../lambda/engine/state/memory-state-store';
import {
  createPreflightContext,
  preflight,
  refusedApplicationRoles,
  type PreflightRunOptions,
} from '../../../../../lambda/engine/preflight';
import { applicationRoles } from '../../../../../lambda/engine/preflight/checks';
import { CUTOVER_INPUT_DEFAULTS, type CutoverInput } from '../../../../../contract';
import { createDatabasePair, dropPair, roleSettings, serverPort, serverUrl, sql } from '../../../../support/databases';

const tag = process.pid;
const APP = `zdm_pfr_app_${tag}`;
const APP2 = `zdm_pfr_app2_${tag}`;
const GROUP = `zdm_pfr_group_${tag}`;
const REPL = `zdm_pfr_repl_${tag}`;
const SUPER = `zdm_pfr_super_${tag}`;
const BYPASS = `zdm_pfr_bypass_${tag}`;
const RDS_MEMBER = `zdm_pfr_rdsrep_${tag}`;
const MISSING = `zdm_pfr_missing_${tag}`;
const PASSWORD = 'role-check-pw';
const ROLES = [APP, APP2, GROUP, REPL, SUPER, BYPASS, RDS_MEMBER];

let pair: { name: string; source: string; target: string };
const admin = serverUrl('source');
let createdRdsReplication = false;

beforeAll(async () => {
  pair = await createDatabasePair('preflight_roles');
  for (const role of ROLES) await sql(admin, `DROP ROLE IF EXISTS ${role}`);
  await sql(admin, `CREATE ROLE ${APP} LOGIN PASSWORD '${PASSWORD}'`);
  await sql(admin, `CREATE ROLE ${APP2} LOGIN`);
  await sql(admin, `CREATE ROLE ${GROUP} NOLOGIN`);
  await sql(admin, `CREATE ROLE ${REPL} LOGIN REPLICATION PASSWORD '${PASSWORD}'`);
  await sql(admin, `CREATE ROLE ${SUPER} LOGIN SUPERUSER`);
  await sql(admin, `CREATE ROLE ${BYPASS} LOGIN BYPASSRLS`);
  await sql(admin, `CREATE ROLE ${RDS_MEMBER} LOGIN`);
  // The RDS replication group, as RDS and Aurora have it.
  const [exists] = await sql(admin, `SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication'`);
  if (!exists) {
    await sql(admin, `CREATE ROLE rds_replication NOLOGIN`);
    createdRdsReplication = true;
  }
  await sql(admin, `GRANT rds_replication TO ${RDS_MEMBER}`);
  await sql(pair.source, `CREATE TABLE public.t (id int PRIMARY KEY)`);
});

afterAll(async () => {
  if (pair) await dropPair(pair.name);
  for (const role of ROLES) await sql(admin, `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  if (createdRdsReplication) await sql(admin, `DROP ROLE IF EXISTS rds_replication`).catch(() => undefined);
});

async function refusals(roles: string[], options: PreflightRunOptions = {}): Promise<Record<string, string[]>> {
  const pool = await createPool(pair.source, { max: 1 });
  try {
    const found = await refusedApplicationRoles(pool, roles, options.frozenRoles);
    return Object.fromEntries(found.map((r) => [r.role, r.reasons]));
  } finally {
    await pool.end();
  }
}

describe('application-roles', () => {
  it('accepts roles the application logs in as, BYPASSRLS included', async () => {
    expect(await refusals([APP, APP2, BYPASS])).toEqual({});
    const pool = await createPool(pair.source, { max: 1 });
    try {
      const ctx = createPreflightContext(
        'source',
        pool,
        { include: [{ schema: 'public' }] },
        {
          applicationRoles: [APP, BYPASS],
        },
      );
      expect(await applicationRoles.run(ctx)).toEqual([]);
      // Without applicationRoles (zdm preflight) the check has nothing to say.
      expect(await applicationRoles.run({ ...ctx, options: {} })).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('fails when a role is reserved or a system role (pg_*, superuser, rds_replication)', async () => {
    const r = await refusals(['pg_monitor', SUPER, 'rds_replication', 'public']);
    expect(r['pg_monitor']).toEqual([
      'reserved: names starting with pg_ are PostgreSQL predefined roles',
      'cannot log in (NOLOGIN): it has no sessions to block',
    ]);
    expect(r[SUPER]).toEqual(['superuser']);
    expect(r['rds_replication']).toEqual(
      expect.arrayContaining(['reserved system role', 'cannot log in (NOLOGIN): it has no sessions to block']),
    );
    expect(r['public']).toEqual(['reserved system role', 'does not exist on the source']);
  });

  it('fails when a role is a replication role: REPLICATION, rds_replication member, or a connected walsender', async () => {
    expect((await refusals([REPL]))[REPL]).toEqual(['has the REPLICATION attribute (replication connections use it)']);
    expect((await refusals([RDS_MEMBER]))[RDS_MEMBER]).toEqual([
      'member of rds_replication (replication connections use it)',
    ]);
    const walsender = new Client({
      connectionString: `postgres://${REPL}:${PASSWORD}@127.0.0.1:${serverPort('source')}/${pair.name}`,
      replication: 'database',
    } as ClientConfig);
    await walsender.connect();
    try {
      const [{ pid }] = await sql<{ pid: number }>(
        admin,
        `SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND usename = $1`,
        [REPL],
      );
      expect((await refusals([REPL]))[REPL]).toContain(
        `a replication connection (walsender pid ${pid}) uses it: freezing it stops replication`,
      );
    } finally {
      await walsender.end();
    }
  });

  it('fails when a role is the one the workflow connects as', async () => {
    const pool = await createPool(`postgres://${APP}:${PASSWORD}@127.0.0.1:${serverPort('source')}/${pair.name}`, {
      max: 1,
    });
    try {
      const found = await refusedApplicationRoles(pool, [APP, APP2]);
      expect(found).toEqual([{ role: APP, reasons: ['the cutover workflow connects to the source as this role'] }]);
    } finally {
      await pool.end();
    }
    // postgres is both the workflow's role here and a superuser.
    expect((await refusals(['postgres']))['postgres']).toEqual(
      expect.arrayContaining(['superuser', 'the cutover workflow connects to the source as this role']),
    );
  });

  it('fails when a role does not exist', async () => {
    expect(await refusals([APP, MISSING])).toEqual({ [MISSING]: ['does not exist on the source'] });
  });

  it('fails when a role cannot log in by design, but accepts one this migration froze', async () => {
    expect((await refusals([GROUP]))[GROUP]).toEqual(['cannot log in (NOLOGIN): it has no sessions to block']);
    // A resumed run: the saved freeze record says the role could log in before the freeze.
    expect(await refusals([GROUP], { frozenRoles: [{ role: GROUP, canLogin: true, connectionLimit: -1 }] })).toEqual(
      {},
    );
    // A saved record that says it was NOLOGIN already does not excuse it.
    expect(
      Object.keys(await refusals([GROUP], { frozenRoles: [{ role: GROUP, canLogin: false, connectionLimit: -1 }] })),
    ).toEqual([GROUP]);
  });

  it('fails when 10,000 roles are bad with one bounded message that names 20 and counts the rest', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `zdm_pfr_nobody_${tag}_${i}`);
    const pool = await createPool(pair.source, { max: 1 });
    try {
      const ctx = createPreflightContext(
        'source',
        pool,
        { include: [{ schema: 'public' }] },
        { applicationRoles: many },
      );
      const findings = await applicationRoles.run(ctx);
      expect(findings).toHaveLength(1);
      const [f] = findings;
      expect(f).toMatchObject({ code: 'application-roles', severity: 'error', object: 'applicationRoles' });
      expect(f.message).toMatch(/^10000 of 10000 application role\(s\) cannot be frozen: /);
      expect(f.message).toContain(`"zdm_pfr_nobody_${tag}_19" (does not exist on the source) and 9980 more`);
      expect(f.message).not.toContain(`zdm_pfr_nobody_${tag}_20"`);
      expect(f.message.length).toBeLessThan(2500);
    } finally {
      await pool.end();
    }
  });

  it('fails preflight() with one error naming every bad role and why', async () => {
    const pool = await createPool(pair.source, { max: 1 });
    try {
      const r = await preflight(
        pool,
        { include: [{ schema: 'public' }] },
        {
          applicationRoles: [APP, 'pg_monitor', GROUP],
        },
      );
      expect(r.ok).toBe(false);
      const errors = r.findings.filter((f) => f.severity === 'error');
      expect(errors.map((f) => f.code)).toEqual(['application-roles']);
      expect(errors[0].message).toContain('2 of 3 application role(s) cannot be frozen: "pg_monitor" (reserved');
      expect(errors[0].message).toContain(`"${GROUP}" (cannot log in`);
      expect(errors[0].message).not.toContain(`"${APP}"`);
    } finally {
      await pool.end();
    }
  });
});

describe('the cutover', () => {
  let deps: CutoverDeps & { state: MemoryStateStore };

  beforeAll(() => {
    deps = {
      source: async () => pair.source,
      target: async () => pair.target,
      tables: { include: [{ schema: 'public' }] },
      replication: {
        description: 'test replication',
        status: async () => ({ state: 'running', fullLoadComplete: false, lagSeconds: 0 }),
        stop: async () => undefined,
      },
      state: new MemoryStateStore(),
      notifier: { notify: async () => undefined },
    };
  });
  afterAll(() => closeSharedPools(deps));

  function input(migrationId: string, roles: string[]): CutoverInput {
    return {
      ...CUTOVER_INPUT_DEFAULTS,
      migrationId,
      mode: 'execute',
      action: 'cutover',
      direction: 'forward',
      applicationRoles: roles,
      startedAt: new Date().toISOString(),
    } as CutoverInput;
  }

  async function markerTable(url: string): Promise<boolean> {
    const [r] = await sql<{ t: string | null }>(url, `SELECT to_regclass('zdm_cutover.cutover_marker')::text AS t`);
    return r.t !== null;
  }

  it('fails when the preflight step gets ["app", "pg_monitor"], before anything changed', async () => {
    const ctx = createContext(deps, input('roles-pre', [APP, 'pg_monitor']));
    await deps.state.ensure(ctx.key, 'execute', ctx.iso());
    const error = (await preflightStep(ctx).catch((e: Error) => e)) as Error;
    expect(error.name).toBe('ZdmPreflightFailed');
    expect(error.message).toContain('nothing was changed');
    expect(error.message).toContain('"pg_monitor" (reserved: names starting with pg_ are PostgreSQL predefined roles');
    expect(error.message).not.toContain(`"${APP}" (`);
    expect(await roleSettings(admin, APP)).toEqual({ canLogin: true, connectionLimit: -1 });
    expect(await markerTable(pair.source)).toBe(false);
    expect(await markerTable(pair.target)).toBe(false);
    expect(deps.state.snapshot()[ctx.key].freeze).toBeUndefined();
  });

  it('passes a resumed preflight step for a role this migration froze already', async () => {
    const ctx = createContext(deps, input('roles-resumed', [APP2]));
    await deps.state.ensure(ctx.key, 'execute', ctx.iso());
    await deps.state.saveFreezeIfAbsent(ctx.key, {
      roles: [{ role: APP2, canLogin: true, connectionLimit: -1 }],
      frozenAt: ctx.iso(),
    });
    await sql(admin, `ALTER ROLE ${APP2} NOLOGIN CONNECTION LIMIT 0`);
    try {
      expect(await preflightStep(ctx)).toMatchObject({ applicationSessions: 0, markerTable: { source: 'created' } });
    } finally {
      await sql(admin, `ALTER ROLE ${APP2} LOGIN CONNECTION LIMIT -1`);
    }
  });

  it('fails when the freeze is asked for a reserved, superuser or replication role even without preflight', async () => {
    for (const bad of ['pg_monitor', SUPER, REPL]) {
      const ctx = createContext(deps, input(`roles-freeze-${ROLES.indexOf(bad) + 2}`, [APP, bad]));
      await deps.state.ensure(ctx.key, 'execute', ctx.iso());
      await expect(freezeWrites(ctx)).rejects.toThrow(
        new RegExp(`refusing to freeze role\\(s\\) "${bad}" \\(.+\\); nothing was changed`),
      );
      expect(await roleSettings(admin, APP)).toEqual({ canLogin: true, connectionLimit: -1 });
      expect(deps.state.snapshot()[ctx.key].freeze).toBeUndefined();
    }
  });
});
